// render() gives the bytes, modes and owners `harbor-deploy prepare` writes, for every upstream
// reference case and every input of harbor-prep's own tests, with the same seed and time; and
// where the CLI refuses a configuration, render() throws the same issues.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { describe, test } = require('node:test')

const { repo, reference, harbor, SEED, NOW, scratch, runCli, walk, hostFiles } = require('./support')

// the case that ran `gencert` instead of `prepare`
const GENCERT_CASE = 'f0-gencert'

function cases() {
  const found = []
  for (const release of fs.readdirSync(reference).filter((d) => d.startsWith('upstream-')).sort()) {
    const version = release.slice('upstream-'.length)
    for (const name of fs.readdirSync(path.join(reference, release)).sort()) {
      const dir = path.join(reference, release, name)
      if (name === GENCERT_CASE || !fs.existsSync(path.join(dir, 'input.harbor.yml'))) continue
      const args = fs.existsSync(path.join(dir, 'args')) ? fs.readFileSync(path.join(dir, 'args'), 'utf8') : ''
      found.push({
        name: `${release}/${name}`,
        input: path.join(dir, 'input.harbor.yml'),
        host: path.join(dir, 'host'),
        version,
        withTrivy: args.split(/\s+/).includes('--with-trivy'),
      })
    }
  }
  const inputs = path.join(repo, 'harbor-prep', 'tests', 'inputs')
  for (const name of fs.readdirSync(inputs).filter((f) => f.endsWith('.yml')).sort()) {
    found.push({ name: `inputs/${name}`, input: path.join(inputs, name), host: null, version: null, withTrivy: false })
  }
  return found
}

/** The data volume a harbor.yml names (upstream's default /data). */
function dataVolume(text) {
  const m = /^data_volume:[ \t]*(\S+)/m.exec(text)
  return m ? m[1].replace(/^["']|["']$/g, '') : '/data'
}

const all = cases()

test('the reference material is there', () => {
  // a missing shared/ must fail, not pass with nothing compared
  assert.ok(all.filter((c) => c.name.startsWith('upstream-v2.15.2/')).length >= 30, `found ${all.length} cases under ${reference}`)
  assert.ok(all.some((c) => c.name.startsWith('inputs/')))
})

describe('render equals harbor-deploy prepare', { concurrency: 2 }, () => {
  for (const c of all) {
    test(c.name, async () => {
      const tmp = scratch()
      const root = path.join(tmp, 'root')
      const out = path.join(tmp, 'out')
      fs.mkdirSync(root)
      if (c.host && fs.existsSync(c.host)) fs.cpSync(c.host, root, { recursive: true })
      fs.writeFileSync(path.join(tmp, 'seed'), SEED)
      const text = fs.readFileSync(c.input, 'utf8')

      const args = ['prepare', '--config', c.input, '--out', out, '--root', root]
      args.push('--seed-file', path.join(tmp, 'seed'), '--now', NOW)
      if (c.withTrivy) args.push('--with-trivy')
      if (c.version) args.push('--harbor-version', c.version)
      const running = runCli(args)

      const opts = { seed: SEED, now: new Date(NOW), withTrivy: c.withTrivy, files: hostFiles(text, root, { withTrivy: c.withTrivy }) }
      if (c.version) opts.harborVersion = c.version
      let bundle = null
      let thrown = null
      try {
        bundle = harbor.render(text, opts)
      } catch (e) {
        thrown = e
      }
      const ran = await running

      if (ran.code !== 0) {
        assert.equal(ran.code, 2, `the CLI failed other than on input: ${ran.stderr}`)
        assert.ok(thrown, `the CLI refused the configuration but render() did not:\n${ran.stderr}`)
        assert.equal(thrown.code, 'InvalidArg')
        assert.ok(thrown.issues.length > 0)
        assert.match(ran.stderr, new RegExp(`^${thrown.issues.length} problem\\(s\\) found`, 'm'))
        for (const issue of thrown.issues) {
          // the reason a file is missing is the CLI's own (it read the disk)
          const expected = issue.code === 'file-missing' ? `${issue.path}: ` : `${issue.path ? `${issue.path}: ` : ''}${issue.message} [${issue.code}]`
          const place = issue.line ? `${c.input}:${issue.line}:${issue.column}:` : `${c.input}:`
          const line = ran.stderr.split('\n').find((l) => l.startsWith(place) && l.includes(expected) && l.endsWith(`[${issue.code}]`))
          assert.ok(line, `the CLI did not report ${JSON.stringify(issue)}:\n${ran.stderr}`)
        }
        return
      }

      assert.equal(thrown, null, `render() threw but the CLI wrote the bundle: ${thrown?.message}`)
      const data = path.join(root, dataVolume(text))
      const dirOf = (root_) => (root_ === 'install' ? out : data)
      const asRoot = process.getuid() === 0

      for (const f of bundle.files) {
        const onDisk = path.join(dirOf(f.root), f.path)
        assert.ok(Buffer.from(fs.readFileSync(onDisk)).equals(f.contents), `${f.root}:${f.path} differs from the CLI's`)
        const st = fs.statSync(onDisk)
        assert.equal(st.mode & 0o7777, f.mode, `${f.root}:${f.path} mode`)
        if (asRoot) assert.deepEqual([st.uid, st.gid], [f.uid, f.gid], `${f.root}:${f.path} owner`)
      }
      for (const d of bundle.directories) {
        const st = fs.statSync(path.join(dirOf(d.root), d.path))
        assert.ok(st.isDirectory(), `${d.root}:${d.path} is no directory`)
        assert.equal(st.mode & 0o7777, d.mode, `${d.root}:${d.path} mode`)
      }

      // nothing the CLI wrote is missing from the bundle, except the seed it persists and the
      // list of what it created, for a purge
      const ours = (r) => bundle.files.filter((f) => f.root === r).map((f) => f.path).sort()
      assert.deepEqual(walk(out).files, ours('install'))
      const own = ['secret/keys/seed', 'secret/keys/created']
      assert.deepEqual(walk(data).files.filter((p) => !own.includes(p)), ours('data'))
      assert.equal(bundle.compose, fs.readFileSync(path.join(out, 'docker-compose.yml'), 'utf8'))
    })
  }
})
