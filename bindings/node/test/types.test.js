// index.d.ts is valid TypeScript, and the README's example compiles against it under --strict.

const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { repo } = require('./support')

const example = fs.readFileSync(path.join(__dirname, 'example.ts'), 'utf8')

test("the README's TypeScript example is test/example.ts", () => {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8')
  const section = readme.split(/^## /m).find((s) => s.startsWith('Node\n'))
  assert.ok(section, 'the README has no "## Node" section')
  const block = /```ts\n([\s\S]*?)```/.exec(section)
  assert.ok(block, 'the Node section has no ts block')
  assert.equal(block[1], example)
})

test('the example type-checks against index.d.ts', () => {
  const tsc = path.join(__dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(__dirname, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' })
  } catch (e) {
    assert.fail(`tsc:\n${e.stdout}${e.stderr}`)
  }

  // and a wrong use is caught, so the check is not vacuous
  const dir = fs.mkdtempSync(path.join(__dirname, '..', '.tsc-'))
  try {
    fs.writeFileSync(path.join(dir, 'wrong.ts'), "import { render } from 'harbor-prep'\nrender('x', { seed: 'not a buffer', now: new Date() })\n")
    const config = JSON.parse(fs.readFileSync(path.join(__dirname, 'tsconfig.json'), 'utf8'))
    config.compilerOptions.baseUrl = __dirname
    config.files = ['wrong.ts']
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config))
    let failed = false
    try {
      execFileSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' })
    } catch (e) {
      failed = true
      assert.match(e.stdout, /wrong\.ts.*not assignable to type 'Buffer/)
    }
    assert.ok(failed, 'tsc accepted a string seed')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
