// `npm pack` gives a tarball with the native library for this platform inside, which installs
// into an empty directory without the registry and passes the API tests there.

const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { scratch } = require('./support')

const pkgDir = path.join(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

test('the packed tarball installs offline into an empty directory and works there', { timeout: 5 * 60 * 1000 }, () => {
  const dest = scratch()
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], pkgDir))
  const tarball = path.join(dest, packed.filename)
  assert.equal(packed.filename, `${pkg.name}-${pkg.version}.tgz`)

  const names = packed.files.map((f) => f.path).sort()
  assert.deepEqual(names, ['README.md', 'harbor-prep.linux-x64-gnu.node', 'index.d.ts', 'index.js', 'package.json'])
  const native = packed.files.find((f) => f.path.endsWith('.node'))
  assert.ok(native.size > 1 << 20, `the native library is ${native.size} bytes`)

  // an empty directory, no registry: everything comes from the tarball
  const app = scratch()
  npm(['install', '--offline', '--no-audit', '--no-fund', tarball], app)
  const installed = path.join(app, 'node_modules', pkg.name)
  assert.ok(fs.existsSync(path.join(installed, 'harbor-prep.linux-x64-gnu.node')))

  // loaded by name from the app, it is the installed copy, not this source tree
  const script = "const h = require('harbor-prep'); console.log(JSON.stringify([require.resolve('harbor-prep'), h.validate('hostname: [')[0].code]))"
  const [resolved, code] = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' }))
  assert.equal(resolved, path.join(fs.realpathSync(installed), 'index.js'))
  assert.equal(code, 'syntax')

  // the API tests, against the installed package; without the variable that would make the
  // child report to this runner instead of printing its results
  const env = { ...process.env, HARBOR_PREP_PACKAGE: installed }
  delete env.NODE_TEST_CONTEXT
  const run = () =>
    execFileSync(process.execPath, ['--test', '--test-reporter=tap', path.join(__dirname, 'api.test.js')], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  let output
  try {
    output = run()
  } catch (e) {
    assert.fail(`the API tests failed against the installed package:\n${e.stdout}\n${e.stderr}`)
  }
  assert.match(output, /^# fail 0$/m)
  assert.doesNotMatch(output, /^# pass 0$/m)
})
