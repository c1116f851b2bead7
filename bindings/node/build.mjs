// Builds the addon and writes index.d.ts and index.js.
//
// `napi build` always passes `--target <triple>` to cargo, which builds a second copy of every
// dependency under target/<triple>/. This script runs a plain `cargo build` instead, so the
// addon shares the workspace's target/debug with `cargo test`, and then hands the type
// definitions napi-derive recorded to the napi CLI's own generators (`generateTypeDef`,
// `writeJsBinding`), which are what `napi build` calls for the same files.
//
//   node build.mjs [--release] [--strip] [--check]
//
// --release  build with the release profile
// --strip    strip debug info from the copied .node (what `npm pack` ships)
// --check    do not write index.d.ts / index.js; fail if they differ from what would be written

import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { generateTypeDef, writeJsBinding } from '@napi-rs/cli'

const here = dirname(fileURLToPath(import.meta.url))
const workspace = join(here, '..', '..')
const args = new Set(process.argv.slice(2))
const release = args.has('--release')
const check = args.has('--check')

const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'))
const crate = 'harbor-prep-node'
const binaryName = pkg.napi.binaryName
const artifact = `${binaryName}.linux-x64-gnu.node`
if (process.platform !== 'linux' || process.arch !== 'x64') {
  throw new Error(`this package is built for linux-x64-gnu only, not ${process.platform}-${process.arch}`)
}

// napi-derive appends the type definitions to <folder>/<crate> while the crate compiles; the
// folder is kept between builds, and a build is forced when the file is missing
const targetDir = process.env.CARGO_TARGET_DIR ?? join(workspace, 'target')
const typeDefDir = join(targetDir, 'napi-rs', `${crate}-typedef`)
mkdirSync(typeDefDir, { recursive: true })
const env = { ...process.env, NAPI_TYPE_DEF_TMP_FOLDER: typeDefDir }
if (!existsSync(join(typeDefDir, crate))) {
  env[`NAPI_FORCE_BUILD_${crate.replace(/-/g, '_').toUpperCase()}`] = Date.now().toString()
}

const cargoArgs = ['build', '--locked', '-p', crate]
if (release) cargoArgs.push('--release')
execFileSync('cargo', cargoArgs, { cwd: workspace, env, stdio: 'inherit' })

const built = join(targetDir, release ? 'release' : 'debug', `lib${crate.replace(/-/g, '_')}.so`)
// through a temporary name and a rename, so that a process that has the old library loaded
// keeps its copy intact
const dest = join(here, artifact)
const staged = `${dest}.tmp-${process.pid}`
copyFileSync(built, staged)
if (args.has('--strip')) {
  execFileSync('strip', ['--strip-debug', staged], { stdio: 'inherit' })
}
renameSync(staged, dest)

// the CLI's generators write into a directory; render into a scratch one, then compare or copy
const { exports, dts } = await generateTypeDef({
  typeDefDir,
  cwd: here,
  configDtsHeaderFile: pkg.napi.dtsHeaderFile,
})
const scratch = mkdtempSync(join(targetDir, 'napi-rs', 'out-'))
try {
  await writeJsBinding({
    platform: true,
    idents: exports,
    binaryName,
    packageName: pkg.name,
    version: pkg.version,
    outputDir: scratch,
  })
  const generated = {
    'index.d.ts': dts,
    'index.js': readFileSync(join(scratch, 'index.js'), 'utf8'),
  }

  const stale = []
  for (const [name, text] of Object.entries(generated)) {
    const path = join(here, name)
    const current = existsSync(path) ? readFileSync(path, 'utf8') : null
    if (current === text) continue
    if (check) {
      stale.push(name)
    } else {
      writeFileSync(path, text)
      console.log(`wrote ${name}`)
    }
  }
  if (stale.length) {
    console.error(`${stale.join(' and ')} out of date: run \`node build.mjs\` in bindings/node and commit the result`)
    process.exit(1)
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
