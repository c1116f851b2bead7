// prepare, plan, up, status and down: Promises that settle off the JavaScript thread, rejecting
// with the codes of harbor-deploy's error kinds; on a real Docker engine, holding the engine
// lock the Rust tests and scripts take, under a project of its own, purged afterwards.

const assert = require('node:assert/strict')
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { test } = require('node:test')

const { repo, harbor, scratch } = require('./support')

const PROJECT = 'hpt-node'
// published ports are 127.0.0.1:<port + OFFSET>; other engine tests use 18100 to 18300
const OFFSET = 18400
const LOCK = '/tmp/harbor-engine.lock'
const SERVICES = 9
// the container names the rendered compose file fixes
const CONTAINERS = ['harbor-log', 'harbor-db', 'redis', 'registry', 'registryctl', 'harbor-portal', 'harbor-core', 'harbor-jobservice', 'nginx']

/** Holds the engine lock until `release()`: a `flock` child that waits on its stdin. */
async function lockEngine() {
  const child = spawn('flock', [LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`flock exited with ${code}`)))
    child.stdout.once('data', resolve)
  })
  child.removeAllListeners('exit')
  return { release: () => child.stdin.end() }
}

/** Finds or starts the engine (scripts/dockerd.sh) and builds the test images; its DOCKER_HOST. */
function engine() {
  const line = execFileSync('bash', [path.join(repo, 'scripts', 'dockerd.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const m = /^export DOCKER_HOST=(.+)$/m.exec(line)
  assert.ok(m, `dockerd.sh printed ${line}`)
  const host = m[1].trim().replace(/^'|'$/g, '')
  execFileSync('bash', [path.join(repo, 'scripts', 'build-test-images.sh')], { env: { ...process.env, DOCKER_HOST: host }, stdio: ['ignore', 'ignore', 'inherit'] })
  return host
}

/**
 * The engine lock, at a moment when no other project's containers hold the fixed names this
 * deployment needs (a session that locks each command on its own leaves its deployment up
 * between them): waits, lock released, until they are gone. Resolves with the lock and the
 * engine's DOCKER_HOST.
 */
async function freeEngine(deadlineMs) {
  const until = Date.now() + deadlineMs
  for (;;) {
    const lock = await lockEngine()
    const host = engine()
    const rows = execFileSync('docker', ['ps', '-a', '--format', '{{.Names}}\t{{.Label "org.harbor-prep.project"}}'], {
      env: { ...process.env, DOCKER_HOST: host },
      encoding: 'utf8',
    })
    const taken = rows
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([name, project]) => CONTAINERS.includes(name) && project !== PROJECT)
    if (taken.length === 0) return { lock, host }
    lock.release()
    if (Date.now() > until) {
      assert.fail(`the engine stays busy: ${taken.map(([n, p]) => `${n} (project ${p || 'none'})`).join(', ')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 15000))
  }
}

/** The rejection of `promise`; fails when it resolves. */
async function rejection(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  assert.fail('expected a rejection')
}

test('the deploy calls return Promises that reject with the error kind code', async () => {
  const saved = process.env.DOCKER_HOST
  process.env.DOCKER_HOST = 'unix:///nonexistent/harbor-prep-node.sock'
  try {
    const pending = harbor.status(PROJECT)
    assert.ok(pending instanceof Promise)
    const e = await rejection(pending)
    assert.ok(e instanceof Error)
    assert.equal(e.code, 'ENGINE_UNREACHABLE')
    assert.match(e.message, /nonexistent\/harbor-prep-node\.sock/)
    assert.equal((await rejection(harbor.down(PROJECT))).code, 'ENGINE_UNREACHABLE')
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved
  }

  const dir = scratch()
  const config = path.join(dir, 'harbor.yml')
  fs.writeFileSync(config, fs.readFileSync(path.join(repo, 'harbor-prep', 'tests', 'inputs', 'err_semantic.yml')))
  const invalid = await rejection(harbor.prepare({ config, out: path.join(dir, 'out') }))
  assert.equal(invalid.code, 'INVALID_CONFIG')
  assert.deepEqual(invalid.issues.map((i) => i.path), ['_version', 'hostname', 'redis', 'metric.port', 'trace'])
  assert.match(invalid.message, new RegExp(`^${config.replace(/[.]/g, '\\.')}:1:1: _version: `))
  assert.ok(!fs.existsSync(path.join(dir, 'out')), 'an invalid configuration wrote files')

  const badNow = await rejection(harbor.prepare({ config, now: new Date(Number.NaN) }))
  assert.equal(badNow.code, 'INVALID_INPUT')

  // plan refuses a root other than / (containers mount harbor.yml's paths as they are)
  const rooted = await rejection(harbor.plan({ hostname: 'harbor.example.test', root: dir }))
  assert.equal(rooted.code, 'INVALID_INPUT')
})

test('a deploy call keeps off the thread pool fs and dns need', () => {
  // an engine that takes connections and never answers holds each call for its 10 s limit;
  // with a pool of one thread, a call on the pool would hold up every fs call as long
  const script = `
    const fs = require('node:fs')
    const net = require('node:net')
    const harbor = require(${JSON.stringify(path.join(__dirname, '..', 'index.js'))})
    const sock = ${JSON.stringify(path.join(scratch(), 'silent.sock'))}
    const order = []
    net.createServer(() => {}).listen(sock, async () => {
      process.env.DOCKER_HOST = 'unix://' + sock
      const calls = [harbor.status('a'), harbor.status('b')].map((p) =>
        p.then(() => order.push('resolved'), (e) => order.push(e.code)))
      await new Promise((resolve) => setTimeout(resolve, 200))
      await fs.promises.readFile(__filename === '[eval]' ? sock : __filename).catch(() => {})
      order.push('read')
      await Promise.all(calls)
      console.log(JSON.stringify(order))
      process.exit(0)
    })
  `
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } })
  assert.deepEqual(JSON.parse(out), ['read', 'ENGINE_UNREACHABLE', 'ENGINE_UNREACHABLE'])
})

test('option values out of range reject, never throw or wrap', async () => {
  for (const portOffset of [70000, -80, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32, 22000.5]) {
    const pending = harbor.plan({ hostname: 'harbor.example.test', portOffset })
    assert.ok(pending instanceof Promise)
    const e = await rejection(pending)
    assert.equal(e.code, 'INVALID_INPUT', String(portOffset))
    assert.match(e.message, /portOffset .* out of range; it takes a whole number from 0 to 65535/)
  }
  for (const timeoutSeconds of [-1, 0, Number.NaN]) {
    const e = await rejection(harbor.up({ hostname: 'harbor.example.test', timeoutSeconds }))
    assert.equal(e.code, 'INVALID_INPUT', String(timeoutSeconds))
    assert.match(e.message, /timeoutSeconds .* must be a positive number of seconds/)
  }
})

test('prepare writes the bundle and reports what changed', async () => {
  const dir = scratch()
  const opts = { hostname: 'harbor.example.test', root: dir, out: path.join(dir, 'out'), now: new Date('2027-01-01T00:00:00Z') }
  const first = await harbor.prepare(opts)
  assert.equal(first.out, opts.out)
  assert.equal(first.data, path.join(dir, 'data'))
  assert.equal(first.release, 'v2.15.2')
  assert.ok(first.changed.includes(path.join(dir, 'out', 'docker-compose.yml')), first.changed.join('\n'))
  assert.ok(fs.existsSync(path.join(dir, 'data', 'secret', 'keys', 'seed')))

  const again = await harbor.prepare(opts)
  assert.deepEqual(again.changed, [])
  assert.equal(again.unchanged, first.changed.length)
})

test('plan, up, status and down on a real engine', { timeout: 40 * 60 * 1000 }, async (t) => {
  const { lock, host } = await freeEngine(20 * 60 * 1000)
  t.after(() => lock.release())
  process.env.DOCKER_HOST = host
  const docker = (...args) => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8' })

  // the default configuration, every host path inside a fresh directory
  const work = scratch()
  fs.chmodSync(work, 0o755)
  const config = path.join(work, 'harbor.yml')
  const text = fs
    .readFileSync(path.join(repo, 'harbor-prep', 'src', 'default.yml'), 'utf8')
    .replace('{{HOSTNAME}}', 'harbor.example.test')
    .replace('data_volume: /data\n', () => `data_volume: ${work}/data\n`)
    .replace('    location: /var/log/harbor\n', () => `    location: ${work}/log\n`)
  assert.ok(text.includes(`${work}/data`) && text.includes(`${work}/log`))
  fs.writeFileSync(config, text)
  const out = path.join(work, 'harbor')
  const opts = { config, out, project: PROJECT, publishLoopback: true, portOffset: OFFSET, timeoutSeconds: 150 }
  t.after(async () => {
    await harbor.down(PROJECT, { purge: true }).catch(() => {})
  })

  // plan writes nothing
  const plan = await harbor.plan(opts)
  assert.equal(plan.project, PROJECT)
  assert.equal(plan.changed, true)
  assert.equal(plan.steps.length, SERVICES)
  assert.deepEqual(plan.steps.map((s) => s.container).sort(), [...CONTAINERS].sort())
  assert.ok(plan.steps.every((s) => s.action === 'create'), JSON.stringify(plan.steps))
  assert.ok(plan.files.includes(path.join(out, 'docker-compose.yml')), plan.files.join('\n'))
  assert.ok(plan.files.includes(path.join(work, 'data', 'secret', 'keys', 'seed')), plan.files.join('\n'))
  assert.ok(plan.files.every((f) => f.startsWith(`${out}/`) || f.startsWith(`${work}/data/`)), plan.files.join('\n'))
  assert.ok(!fs.existsSync(out), 'plan wrote the installer directory')

  // images that are not there: refused before anything is written or created
  const missing = await rejection(harbor.up({ ...opts, imagePrefix: 'hpt-node-missing.example/' }))
  assert.equal(missing.code, 'IMAGE_MISSING')
  assert.match(missing.message, /hpt-node-missing\.example\/goharbor\/harbor-core:v2\.15\.2/)
  assert.deepEqual(await harbor.status(PROJECT), [])
  assert.ok(!fs.existsSync(path.join(out, 'docker-compose.yml')), 'a refused up wrote the bundle')

  // up from nothing, with progress on the JavaScript thread
  const events = []
  const report = await harbor.up(opts, (e) => events.push(e))
  assert.equal(report.changed, true)
  assert.deepEqual(report.steps.map((s) => [s.service, s.action]), plan.steps.map((s) => [s.service, 'create']))
  assert.ok(report.elapsedMs > 0)
  // the refused up above wrote nothing, so this one writes the whole bundle
  assert.equal(report.prepared.out, out)
  assert.ok(report.prepared.changed.includes(path.join(out, 'docker-compose.yml')), report.prepared.changed.join('\n'))
  assert.equal(report.prepared.unchanged, 0)
  assert.equal(events[0].kind, 'planned')
  assert.equal(events[0].steps.length, SERVICES)
  const ready = new Set(events.filter((e) => e.kind === 'ready').map((e) => e.service))
  assert.deepEqual([...ready].sort(), plan.steps.map((s) => s.service).sort())
  assert.ok(events.some((e) => e.kind === 'working' && e.action === 'create'))

  const status = await harbor.status(PROJECT)
  assert.equal(status.length, SERVICES)
  for (const s of status) {
    assert.equal(s.state, 'running', JSON.stringify(s))
    assert.ok(['healthy', 'none'].includes(s.health), JSON.stringify(s))
    assert.ok(s.id.length >= 12)
  }
  const proxy = status.find((s) => s.service === 'proxy')
  assert.ok(proxy.ports.some((p) => p.startsWith(`127.0.0.1:${80 + OFFSET}`)), proxy.ports.join(', '))
  assert.match(docker('ps', '--filter', `label=org.harbor-prep.project=${PROJECT}`, '--format', '{{.Names}}'), /harbor-core/)

  // converged: nothing to change, and up changes nothing
  const again = await harbor.plan(opts)
  assert.equal(again.changed, false)
  assert.ok(again.steps.every((s) => s.action === 'keep'), JSON.stringify(again.steps))
  const idle = await harbor.up(opts)
  assert.equal(idle.changed, false)
  assert.deepEqual((await harbor.status(PROJECT)).map((s) => s.id), status.map((s) => s.id))

  // what the progress callback throws is an uncaught exception, and up goes on
  const script = `
    const harbor = require(${JSON.stringify(path.join(__dirname, '..', 'index.js'))})
    const caught = []
    process.on('uncaughtException', (e) => caught.push(e.message))
    harbor.up(${JSON.stringify(opts)}, (e) => {
      if (e.kind === 'planned') throw new Error('thrown by the callback')
    }).then((r) => console.log(JSON.stringify({ caught, changed: r.changed })))
  `
  const child = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host } }))
  assert.deepEqual(child, { caught: ['thrown by the callback'], changed: false })

  // a portal that never becomes ready: HEALTH_TIMEOUT, named
  const image = 'hpt-test/portal-silent-node:1'
  const context = scratch()
  fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM goharbor/harbor-portal:v2.15.2\nHEALTHCHECK NONE\nENTRYPOINT ["sleep", "3600"]\n')
  docker('build', '-q', '-t', image, context)
  t.after(() => {
    try {
      docker('rmi', '-f', image)
    } catch {}
  })
  const images = path.join(work, 'images.yml')
  fs.writeFileSync(images, `portal: ${image}\n`)
  const late = await rejection(harbor.up({ ...opts, images, timeoutSeconds: 20 }))
  assert.equal(late.code, 'HEALTH_TIMEOUT', late.message)
  assert.match(late.message, /portal/)

  // down with purge: containers, network and the data the bundle made are gone
  const down = await harbor.down(PROJECT, { purge: true })
  assert.equal(down.project, PROJECT)
  assert.deepEqual([...down.removed].sort(), plan.steps.map((s) => s.service).sort())
  assert.equal(down.networkRemoved, true)
  assert.ok(down.purged.includes(path.join(work, 'data', 'database')), down.purged.join('\n'))
  assert.ok(!fs.existsSync(path.join(work, 'data', 'database')))
  assert.deepEqual(await harbor.status(PROJECT), [])

  // with no container left, the configuration names what to purge
  await harbor.prepare({ config, out })
  assert.ok(fs.existsSync(path.join(work, 'data', 'secret', 'keys', 'seed')))
  const unnamed = await rejection(harbor.down(PROJECT, { purge: true }))
  assert.equal(unnamed.code, 'INVALID_INPUT', unnamed.message)
  const named = await harbor.down(PROJECT, { purge: true, config, out })
  assert.deepEqual(named.removed, [])
  assert.ok(named.purged.includes(path.join(work, 'data', 'secret')), named.purged.join('\n'))
  assert.ok(!fs.existsSync(path.join(work, 'data', 'secret')))
})
