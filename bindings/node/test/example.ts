import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type HarborError, render, up, validate } from 'harbor-prep'

async function main(): Promise<void> {
  const text = readFileSync('harbor.yml', 'utf8')
  for (const i of validate(text)) {
    console.error(`harbor.yml:${i.line ?? '-'}: ${i.path}: ${i.message} [${i.code}]`)
  }

  try {
    const bundle = render(text, { seed: randomBytes(32), now: new Date() })
    console.log(`${bundle.files.length} files; persist bundle.state to reuse the secrets`)
  } catch (e) {
    for (const i of (e as HarborError).issues ?? []) console.error(i.path, i.message)
  }

  // off the JavaScript thread; rejects with a code such as IMAGE_MISSING or HEALTH_TIMEOUT
  const report = await up({ config: '/etc/harbor/harbor.yml' }, (event) => {
    if (event.kind === 'ready') console.log(`${event.service} is healthy`)
  })
  console.log(`${report.project}: ${report.steps.length} services in ${report.elapsedMs} ms`)
}

main().catch((e: HarborError) => console.error(e.code, e.message))
