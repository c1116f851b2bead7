// validate(), render() and hostPaths(): issues with key paths and places, the errors and their
// codes, option checks, releases, harbor.cfg input, and values that must arrive unchanged.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { repo, reference, harbor, SEED, NOW, parseEnv } = require('./support')

const inputs = path.join(repo, 'harbor-prep', 'tests', 'inputs')
const base = fs.readFileSync(path.join(repo, 'harbor-prep', 'src', 'default.yml'), 'utf8').replace('{{HOSTNAME}}', 'harbor.example.test')
const opts = () => ({ seed: SEED, now: new Date(NOW) })

/** The error `fn` throws; fails when it throws nothing. */
function thrown(fn) {
  try {
    fn()
  } catch (e) {
    return e
  }
  assert.fail('expected an error')
}

function file(bundle, root, p) {
  const f = bundle.files.find((x) => x.root === root && x.path === p)
  assert.ok(f, `no ${root}:${p} in the bundle`)
  return f.contents.toString('utf8')
}

test('a valid configuration has no issues and renders', () => {
  assert.deepEqual(harbor.validate(base), [])
  const bundle = harbor.render(base, opts())
  assert.match(bundle.compose, /image: goharbor\/harbor-core:v2\.15\.2/)
  assert.match(file(bundle, 'install', 'common/config/core/env'), /^EXT_ENDPOINT=http:\/\/harbor\.example\.test$/m)
  assert.ok(bundle.directories.some((d) => d.root === 'data' && d.path === 'database'))
  assert.equal(bundle.state.secretkey.length, 16)
})

test('every mistake is reported with its key, line and column, in input order', () => {
  const issues = harbor.validate(fs.readFileSync(path.join(inputs, 'err_many.yml'), 'utf8'))
  const at = (key) => issues.find((i) => i.path === key)

  assert.ok(issues.length >= 10, JSON.stringify(issues, null, 1))
  assert.deepEqual({ ...at('http.port'), message: undefined }, { path: 'http.port', line: 4, column: 9, code: 'out-of-range', message: undefined })
  assert.match(at('http.port').message, /70000/)
  assert.equal(at('https.port').code, 'wrong-type')
  assert.equal(at('harbor_admin_password').code, 'null')
  assert.equal(at('database.max_idle_conns').code, 'wrong-type')
  const lines = issues.map((i) => i.line ?? 0)
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b))
})

test('render throws the issues validate returns, as an Error with code InvalidArg', () => {
  const text = fs.readFileSync(path.join(inputs, 'err_semantic.yml'), 'utf8')
  const e = thrown(() => harbor.render(text, opts()))

  assert.ok(e instanceof Error)
  assert.equal(e.code, 'InvalidArg')
  assert.deepEqual(e.issues, harbor.validate(text, { now: new Date(NOW) }))
  assert.deepEqual(e.issues.map((i) => i.path), ['_version', 'hostname', 'redis', 'metric.port', 'trace'])
  assert.match(e.message, /^5 problem\(s\) in the configuration, first: 1:1: _version: /)
})

test('YAML that does not parse is an issue, not an exception', () => {
  const issues = harbor.validate(fs.readFileSync(path.join(inputs, 'err_syntax.yml'), 'utf8'))
  assert.equal(issues.length, 1)
  assert.equal(issues[0].code, 'syntax')
  assert.equal(issues[0].line, 4)
})

test('unusable options throw InvalidArg and name the option', () => {
  const cases = [
    [{ ...opts(), seed: Buffer.alloc(31) }, /31 bytes; a seed is exactly 32/],
    [{ ...opts(), harborVersion: 'v1.10' }, /harbor version `v1.10` is not supported; supported are v2\.13\.5/],
    [{ ...opts(), format: 'toml' }, /format `toml` is not known/],
    [{ ...opts(), now: new Date('not a date') }, /`now` is an invalid Date/],
    [{ ...opts(), now: new Date('1969-12-31T23:59:59Z') }, /`now` is out of range/],
    [{ ...opts(), now: 1798761600 }, /`now` must be a Date/],
  ]
  for (const [o, message] of cases) {
    const e = thrown(() => harbor.render(base, o))
    assert.equal(e.code, 'InvalidArg', e.message)
    assert.match(e.message, message)
    assert.equal(e.issues, undefined)
  }
  assert.equal(thrown(() => harbor.validate(base, { harborVersion: '3' })).code, 'InvalidArg')
})

test('the same inputs give the same bytes; a previous state rotates nothing', () => {
  const first = harbor.render(base, opts())
  assert.deepEqual(harbor.render(base, opts()), first)

  // another seed with the first render's state keeps every secret and key
  const again = harbor.render(base, { ...opts(), seed: Buffer.alloc(32, 1), state: first.state })
  assert.deepEqual(again.state, first.state)
  assert.equal(file(again, 'data', 'secret/core/private_key.pem'), first.state.token_key)
  const fresh = harbor.render(base, { ...opts(), seed: Buffer.alloc(32, 1) })
  assert.notEqual(fresh.state.core_secret, first.state.core_secret)
})

test('passwords with quotes, #, $, backslashes, tabs and non-ASCII arrive unchanged', () => {
  const passwords = [
    `Adm1n "quoted" it's #not-a-comment ünïcødé € \\ back`,
    'Pa$$w0rd ${HOME} $x',
    'tab\there\\',
    "x'y\\\\z",
  ]
  for (const password of passwords) {
    // a JSON string is a YAML double-quoted scalar; a function as replacement, so that `$$`
    // stays two dollars
    const text = base
      .replace('harbor_admin_password: Harbor12345', () => `harbor_admin_password: ${JSON.stringify(password)}`)
      .replace('  password: root123', () => `  password: ${JSON.stringify(password)}`)
    assert.ok(text.includes(JSON.stringify(password)))
    const bundle = harbor.render(text, opts())

    const core = parseEnv(file(bundle, 'install', 'common/config/core/env'))
    const db = parseEnv(file(bundle, 'install', 'common/config/db/env'))
    assert.equal(core.HARBOR_ADMIN_PASSWORD, password)
    assert.equal(core.POSTGRESQL_PASSWORD, password)
    assert.equal(db.POSTGRES_PASSWORD, password)
  }
})

test('harborVersion picks the release the images and files are for', () => {
  const text = base.replace('_version: 2.15.0', '_version: 2.13.0')
  const bundle = harbor.render(text, { ...opts(), harborVersion: '2.13' })
  assert.match(bundle.compose, /goharbor\/harbor-core:v2\.13\.5/)
  assert.match(bundle.compose, /goharbor\/redis-photon:v2\.13\.5/)
})

test('a harbor.cfg is converted; its problems keep their cfg lines, the notes become warnings', () => {
  const stock = fs.readFileSync(path.join(reference, 'legacy', 'harbor-1.7.6.cfg'), 'utf8')
  const issues = harbor.validate(stock, { format: 'cfg' })
  const placeholder = issues.find((i) => i.path === 'hostname')
  assert.ok(placeholder, JSON.stringify(issues))
  // checked on the converted harbor.yml, whose lines are not the user's
  assert.equal(placeholder.line, undefined)

  const cfg = 'hostname = harbor.example.test\nui_url_protocol = http\nharbor_admin_password = Adm1n\ndb_password = "Db #7"\nauth_mode = db_auth\n'
  const bundle = harbor.render(cfg, { ...opts(), format: 'cfg' })
  assert.equal(parseEnv(file(bundle, 'install', 'common/config/db/env')).POSTGRES_PASSWORD, 'Db #7')
  assert.ok(bundle.warnings.some((w) => w.startsWith('not carried over: ') && w.includes('auth_mode')), bundle.warnings.join('\n'))
  assert.ok(bundle.warnings.some((w) => w.startsWith('note: ')), bundle.warnings.join('\n'))

  const broken = harbor.validate('hostname = a.example.test\n  indented = x\n', { format: 'cfg' })
  assert.ok(broken.some((i) => i.line === 2), JSON.stringify(broken))
})

test('hostPaths names the files to pass; without them validate reports them missing', () => {
  const dir = path.join(reference, 'upstream-v2.15.2', 'b-https')
  const text = fs.readFileSync(path.join(dir, 'input.harbor.yml'), 'utf8')
  const paths = harbor.hostPaths(text)
  assert.deepEqual(paths.map((p) => p.key), ['https.certificate', 'https.private_key'])

  const missing = harbor.validate(text, { now: new Date(NOW) })
  assert.deepEqual(missing.map((i) => [i.path, i.code]), [['https.certificate', 'file-missing'], ['https.private_key', 'file-missing']])

  const files = {}
  for (const p of paths) files[p.path] = { contents: fs.readFileSync(path.join(dir, 'host', p.path)), mode: 0o600 }
  assert.deepEqual(harbor.validate(text, { now: new Date(NOW), files }), [])
  const bundle = harbor.render(text, { ...opts(), files })
  assert.ok(bundle.files.some((f) => f.path.endsWith('.crt') && f.contents.equals(files[paths[0].path].contents)))
})

test('the text may be a Buffer; anything else is refused without repeating it', () => {
  assert.deepEqual(harbor.validate(Buffer.from(base)), harbor.validate(base))
  const a = harbor.render(Buffer.from(base), opts())
  const b = harbor.render(base, opts())
  assert.deepEqual(a.files.map((f) => f.contents), b.files.map((f) => f.contents))
  for (const bad of [{ harbor_admin_password: 'Harbor12345' }, 5]) {
    assert.throws(() => harbor.validate(bad), (e) => e.code === 'InvalidArg' && !e.message.includes('Harbor12345'))
  }
})

test('text that is not text is an encoding issue, never a changed password', () => {
  // bytes that are not UTF-8
  const bytes = Buffer.concat([Buffer.from(base), Buffer.from([0xff])])
  const [notUtf8] = harbor.validate(bytes)
  assert.equal(notUtf8.code, 'encoding')
  assert.match(notUtf8.message, /not UTF-8/)
  assert.deepEqual(harbor.hostPaths(bytes), [])

  // half a surrogate pair: napi would turn it into U+FFFD and render another password
  const lone = base.replace('harbor_admin_password: Harbor12345', 'harbor_admin_password: "Harbor\ud80012345"')
  assert.notEqual(lone, base)
  const issues = harbor.validate(lone)
  assert.equal(issues.length, 1, JSON.stringify(issues))
  const line = base.split('\n').findIndex((l) => l.startsWith('harbor_admin_password:')) + 1
  assert.deepEqual([issues[0].code, issues[0].line, issues[0].column], ['encoding', line, 31])
  assert.ok(!issues[0].message.includes('Harbor'))
  const e = thrown(() => harbor.render(lone, opts()))
  assert.equal(e.code, 'InvalidArg')
  assert.deepEqual(e.issues, issues)

  // the place counts characters: a whole pair before the lone half is one column
  const after = '# owner \ud83d\ude00 team\n' + lone
  const [placed] = harbor.validate(after)
  assert.deepEqual([placed.line, placed.column], [line + 1, 31])

  // a whole surrogate pair is a character like any other
  const pair = base.replace('harbor_admin_password: Harbor12345', 'harbor_admin_password: "Harbor\ud83d\ude0012345"')
  assert.deepEqual(harbor.validate(pair), [])
  assert.match(file(harbor.render(pair, opts()), 'install', 'common/config/core/env'), /^HARBOR_ADMIN_PASSWORD=.*Harbor\u{1F600}12345/mu)
})

test('the buffers of a render are freed by the garbage collector alone, without the event loop', () => {
  const { execFileSync } = require('node:child_process')
  // a synchronous loop never yields to the event loop, where memory lent from Rust would be
  // given back; the bundles' bytes must be the engine's own
  const script = `
    const harbor = require(${JSON.stringify(path.join(__dirname, '..', 'index.js'))})
    const text = ${JSON.stringify(base)}
    const opts = { seed: Buffer.alloc(32, 7), now: new Date(${JSON.stringify(NOW)}) }
    opts.state = harbor.render(text, opts).state
    const size = harbor.render(text, opts).files.reduce((n, f) => n + f.contents.length, 0)
    const rss = () => { globalThis.gc(); return process.memoryUsage().rss }
    for (let i = 0; i < 300; i++) harbor.render(text, opts)
    const before = rss()
    for (let i = 0; i < 3000; i++) harbor.render(text, opts)
    console.log(JSON.stringify({ size, grown: rss() - before }))
  `
  const { size, grown } = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }))
  assert.ok(size > 10000, `bundle of ${size} bytes`)
  // 3000 bundles kept would be 3000 * size (measured: 7 times that, with napi's bookkeeping);
  // a third of it is left for the allocator's and V8's slack (measured: 150 * size)
  assert.ok(grown < 1000 * size, `rss grew by ${grown} bytes over 3000 renders of ${size} bytes`)
})

test('a state that is not what render returned is refused without repeating it', () => {
  const good = harbor.render(base, opts()).state
  const secret = good.core_secret
  const cases = [
    [JSON.stringify(good), /plain object of strings/],
    [new Map(Object.entries(good)), /plain object of strings/],
    [Object.entries(good), /plain object of strings/],
    [{ ...good, core_secret: 987654321 }, /state\.core_secret must be a string/],
    [{ ...good, core_secret: { v: secret } }, /state\.core_secret must be a string/],
    [{ ...good, registry_password: 'Abc\udc00def' }, /state\.registry_password holds a lone UTF-16 surrogate/],
  ]
  for (const [state, wanted] of cases) {
    const e = thrown(() => harbor.render(base, { ...opts(), state }))
    assert.equal(e.code, 'InvalidArg', e.message)
    assert.match(e.message, wanted)
    assert.ok(!e.message.includes(secret) && !e.message.includes('987654321'), e.message)
  }
  // null and undefined are no state
  assert.deepEqual(harbor.render(base, { ...opts(), state: null }).state, good)
})
