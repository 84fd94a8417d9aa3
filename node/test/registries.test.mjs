// Registry items (shadcn registry-item JSON) through the Node binding, served by a
// real local HTTP server (node:http) from the fixture registry in
// examples/shadcn-registry: add by registry name and by URL, diff, update.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'

import { DxForge } from 'dxforge'
import { REPO, expectCode, tempDir } from './helpers.mjs'

const FIXTURE = join(REPO, 'examples', 'shadcn-registry')

/** Serves FIXTURE; resolves to its base URL. */
async function serve(t) {
  const server = createServer((req, res) => {
    try {
      const body = readFileSync(join(FIXTURE, new URL(req.url, 'http://x').pathname.replace(/\.\./g, '')))
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(body)
    } catch {
      res.writeHead(404)
      res.end('not found')
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  return `http://127.0.0.1:${server.address().port}`
}

test('registry items: add by name and URL, diff, update merging an edit', async (t) => {
  const base = await serve(t)
  const dir = tempDir(t)
  writeFileSync(join(dir, 'dxforge.toml'), `[registries]\n"@demo" = "${base}/r/{name}.json"\n`)
  const forge = new DxForge(dir)
  t.after(() => forge.close())
  const read = (p) => readFileSync(join(dir, p), 'utf8')

  const report = await forge.installPackage('@demo/card')
  assert.deepEqual(report.packages.map((p) => p.name).sort(), ['@demo/button', '@demo/card', '@demo/utils'])
  assert.match(read('components/ui/card.tsx'), /from "@\/components\/ui\/button"/)
  assert.match(read('dxforge.toml'), /"@demo\/card" = "\*"/)
  const card = report.items.find((i) => i.name === '@demo/card')
  assert.deepEqual(card.notApplied, ['cssVars'])
  assert.deepEqual(report.items.find((i) => i.name === '@demo/utils').dependencies, ['clsx', 'tailwind-merge'])

  await forge.installPackage(`${base}/r/use-toggle.json`)
  assert.match(read('hooks/use-toggle.ts'), /\r\n/)

  writeFileSync(join(dir, 'lib/utils.ts'), read('lib/utils.ts') + '// mine\n')
  const plan = await forge.diff('@demo/utils')
  assert.equal(plan.dryRun, true)
  const offline = await forge.update('@demo/utils', { dryRun: true, offline: true })
  assert.equal(offline.items[0].fromCache, true)
  const updated = await forge.update('@demo/utils')
  assert.deepEqual(updated.files.map((f) => f.light), ['yellow'])
  assert.match(read('lib/utils.ts'), /\/\/ mine\n$/)

  await expectCode(() => forge.installPackage('@demo/missing'), 'REMOTE', '/r/missing.json')
})
