// The generated index.d.ts type-checks typical use under `tsc --strict` and rejects misuse.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const fixture = fileURLToPath(new URL('./fixtures/usage.ts', import.meta.url))

test('index.d.ts compiles with tsc --strict against typical use', () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', fixture],
    { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) },
  )
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
