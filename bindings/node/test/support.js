// What the tests share: where the workspace, the reference material and the CLI are, the
// fixed seed and time, and small file helpers.

const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const repo = path.resolve(__dirname, '..', '..', '..')
const shared = process.env.HARBOR_SHARED ?? path.join(repo, '..', 'shared')
const reference = path.join(shared, 'reference')
const cli = process.env.HARBOR_DEPLOY ?? path.join(repo, 'target', 'debug', 'harbor-deploy')

// the package under test: the built directory, or the installed copy the pack test points at
const harbor = require(process.env.HARBOR_PREP_PACKAGE ?? path.join(__dirname, '..'))

// RSA-4096 key search time depends on the seed; of 16 candidates this one was quickest (0.15 s,
// against up to 2 s), which keeps some sixty renders short
const SEED = Buffer.from('harbor-prep node binding seed 10')
const NOW = '2027-01-01T00:00:00Z'

/** A fresh directory below the system's temporary directory, removed when the process exits. */
function scratch(prefix = 'harbor-prep-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Runs the CLI; resolves with its exit code, stdout and stderr. */
function runCli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(cli, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr })
    })
  })
}

/** Every file and directory below `dir`, relative, with `/` separators. */
function walk(dir) {
  const files = []
  const dirs = []
  const visit = (rel) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        dirs.push(child)
        visit(child)
      } else {
        files.push(child)
      }
    }
  }
  if (fs.existsSync(dir)) visit('')
  return { files: files.sort(), dirs: dirs.sort() }
}

/** The host files a configuration names, read below `root` as the CLI reads them. */
function hostFiles(text, root, opts = {}) {
  const files = {}
  for (const p of harbor.hostPaths(text, opts)) {
    const onDisk = path.join(root, p.path)
    let st
    try {
      st = fs.statSync(onDisk)
    } catch {
      continue
    }
    if (!st.isFile()) continue
    files[p.path] = { contents: fs.readFileSync(onDisk), mode: st.mode & 0o7777, uid: st.uid }
  }
  return files
}

/** An env file's values as Docker Compose v2 reads the quoting harbor-prep writes. */
function parseEnv(text) {
  const values = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (!m) continue
    values[m[1]] = decodeEnvValue(m[2])
  }
  return values
}

function decodeEnvValue(v) {
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) {
    return v.slice(1, -1).replace(/\\'/g, "'")
  }
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) {
    const escapes = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '\u0000$' }
    const unescaped = v.slice(1, -1).replace(/\\(.)/g, (all, c) => escapes[c] ?? all)
    // `$$` is a literal `$`; an escaped `\$` was marked so it is not taken for half of one
    return unescaped.replace(/\$\$/g, '$').replace(/\u0000\$/g, '$')
  }
  return v
}

module.exports = { repo, shared, reference, cli, harbor, SEED, NOW, scratch, runCli, walk, hostFiles, parseEnv }
