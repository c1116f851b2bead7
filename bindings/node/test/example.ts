import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { type HarborError, render, up, validate } from 'harbor-prep'

async function main(): Promise<void> {
  const text = readFileSync('harbor.yml', 'utf8')
  for (const i of validate(text)) {
    console.error(`harbor.yml:${i.line ?? '-'}: ${i.path}: ${i.message} [${i.code}]`)
  }

  // the seed and the state are secret: made once, kept (mode 0600), given to every render
  if (!existsSync('seed')) writeFileSync('seed', randomBytes(32), { mode: 0o600 })
  const state = existsSync('state.json') ? JSON.parse(readFileSync('state.json', 'utf8')) : undefined
  try {
    const bundle = render(text, { seed: readFileSync('seed'), now: new Date(), state })
    writeFileSync('state.json', JSON.stringify(bundle.state), { mode: 0o600 })
    console.log(`${bundle.files.length} files, the same bytes on every run`)
  } catch (e) {
    for (const i of (e as HarborError).issues ?? []) console.error(i.path, i.message)
  }

  // on a thread of its own; rejects with a code such as IMAGE_MISSING or HEALTH_TIMEOUT
  const report = await up({ config: '/etc/harbor/harbor.yml' }, (event) => {
    if (event.kind === 'ready') console.log(`${event.service} is healthy`)
  })
  console.log(`${report.project}: ${report.steps.length} services in ${report.elapsedMs} ms`)
}

main().catch((e: HarborError) => console.error(e.code, e.message))
