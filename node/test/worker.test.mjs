// The Shadow Worker through the Node binding: queue, tasks, snapshots, analysis,
// prefetch, and (when a local S3-compatible server is running) push and pull.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import { DxForge } from 'dxforge'
import { expectCode, tempDir } from './helpers.mjs'

function project(t, toml = '') {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'registry/tiny/1.0.0/files'), { recursive: true })
  writeFileSync(join(dir, 'registry/tiny/1.0.0/dxpkg.toml'), 'name = "tiny"\nversion = "1.0.0"\ndescription = "t"\n\n[detect]\npatterns = ["useTiny("]\n')
  writeFileSync(join(dir, 'registry/tiny/1.0.0/files/tiny.js'), 'export const tiny = 1\n')
  writeFileSync(join(dir, 'dxforge.toml'), `[project]\nname = "w"\n\n[registry]\npath = "registry"\n${toml}`)
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src/app.js'), 'useTiny(1)\nconsole.log("hi")\n')
  const forge = new DxForge(dir)
  t.after(() => forge.close())
  return { dir, forge }
}

test('enqueue returns increasing ids at once; wait resolves with the report', async (t) => {
  const { dir, forge } = project(t)
  const snap = forge.enqueue('CacheCurrentState')
  const analysis = forge.enqueue('AnalyzeCodebasePatterns')
  assert.equal(typeof snap, 'number')
  assert.ok(analysis > snap)
  assert.ok(['queued', 'running', 'succeeded'].includes(forge.task(snap).state))

  const s = await forge.wait(snap, 30000)
  assert.equal(s.state, 'succeeded')
  assert.equal(s.report.kind, 'snapshot')
  assert.ok(s.report.snapshot.files >= 4, JSON.stringify(s.report))
  assert.deepEqual(forge.task(snap), s, 'task() reports the same final state')

  const a = await forge.wait(analysis)
  assert.equal(a.report.kind, 'analysis')
  assert.ok(a.report.analysis.files >= 4)
  assert.ok(existsSync(join(dir, '.dxforge/analysis.json')))
  assert.equal(a.report.analysis.packagesReferenced, 1, JSON.stringify(a.report.analysis))
})

test('PrefetchPackage caches a package; a failing task is a failed state, not an exception', async (t) => {
  const { forge } = project(t)
  const ok = await forge.wait(forge.enqueue('PrefetchPackage', 'tiny@^1'))
  assert.equal(ok.state, 'succeeded')
  assert.deepEqual(ok.report.prefetch.packages.map((p) => p.name), ['tiny'])
  const again = await forge.prefetch('tiny')
  assert.equal(again.packages[0].alreadyCached, true)

  const missing = await forge.wait(forge.enqueue('PrefetchPackage', 'nope@^1'))
  assert.equal(missing.state, 'failed')
  assert.match(missing.error, /nope/)
  const sync = await forge.wait(forge.enqueue('SyncToCloudflareR2'))
  assert.equal(sync.state, 'failed')
  assert.match(sync.error, /remote/)

  const c = forge.counters()
  assert.equal(c.enqueued, 3)
  assert.equal(c.succeeded, 1)
  assert.equal(c.failed, 2)
  assert.equal(c.queued + c.running, 0)
})

test('a full queue drops the oldest tasks and counts them; nothing is lost uncounted', async (t) => {
  const { forge } = project(t, '\n[worker]\nqueue_capacity = 2\nconcurrency = 1\n')
  const ids = Array.from({ length: 30 }, () => forge.enqueue('CacheCurrentState'))
  const finals = await Promise.all(ids.map((id) => forge.wait(id, 60000)))
  const states = finals.map((s) => s.state)
  assert.ok(states.every((s) => s === 'succeeded' || s === 'dropped'), states.join(','))
  const dropped = states.filter((s) => s === 'dropped').length
  assert.ok(dropped > 0, 'some tasks were evicted')
  assert.equal(finals.at(-1).state, 'succeeded', 'the newest task is never the one dropped')
  const c = forge.counters()
  assert.equal(c.enqueued, 30)
  assert.equal(c.dropped, dropped)
  assert.equal(c.succeeded + c.dropped, 30)
})

test('snapshot, change, restore gives the old tree back; the safety snapshot undoes it', async (t) => {
  const { dir, forge } = project(t)
  const first = await forge.snapshot()
  assert.match(first.id, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/)
  writeFileSync(join(dir, 'src/app.js'), 'changed\n')
  writeFileSync(join(dir, 'src/extra.js'), 'new\n')
  const restored = await forge.restore(first.id)
  assert.equal(restored.restored, first.id)
  assert.equal(readFileSync(join(dir, 'src/app.js'), 'utf8'), 'useTiny(1)\nconsole.log("hi")\n')
  assert.equal(existsSync(join(dir, 'src/extra.js')), false)
  assert.ok(restored.written >= 1 && restored.deleted >= 1, JSON.stringify(restored))

  await forge.restore(restored.safetySnapshot)
  assert.equal(readFileSync(join(dir, 'src/app.js'), 'utf8'), 'changed\n')
  assert.equal(readFileSync(join(dir, 'src/extra.js'), 'utf8'), 'new\n')

  const ids = (await forge.snapshots()).map((s) => s.id)
  assert.ok(ids.includes(first.id) && ids.includes(restored.safetySnapshot), ids.join(','))
  const gc = await forge.gcSnapshots()
  assert.ok(gc.kept > 0)
  assert.equal(gc.removed, 0, 'every object is still referenced')
})

test('analyze returns the full report', async (t) => {
  const { forge } = project(t)
  const report = await forge.analyze()
  assert.ok(report.languages.some((l) => l.language === 'JavaScript'), JSON.stringify(report.languages))
  const tiny = report.packages.packages.find((p) => p.name === 'tiny')
  // The registry's own dxpkg.toml (inside the project here) also contains the pattern.
  assert.equal(tiny.referenceCount, tiny.references.length)
  assert.ok(
    tiny.references.some((r) => r.file === 'src/app.js' && r.line === 1 && r.pattern === 'useTiny('),
    JSON.stringify(tiny.references),
  )
  assert.deepEqual(report.packages.referencedNotInstalled, ['tiny'])
})

test('bad worker input gets coded errors', async (t) => {
  const { forge } = project(t)
  await expectCode(() => forge.enqueue('PrefetchPackage'), 'INVALID_ARGUMENT', 'packageSpec')
  await expectCode(() => forge.enqueue('CacheCurrentState', 'tiny'), 'INVALID_ARGUMENT', 'packageSpec')
  assert.throws(() => forge.enqueue('Bogus'), /Bogus|BackgroundTaskKind/)
  await expectCode(() => forge.task(-1), 'INVALID_ARGUMENT')
  assert.equal(forge.task(424242), null)
  await expectCode(() => forge.wait(424242), 'NOT_FOUND')
  await expectCode(() => forge.restore('not-an-id'), 'INVALID_ARGUMENT')
  await expectCode(() => forge.restore('20200101T000000Z-00000000'), 'NOT_FOUND')
  await expectCode(() => forge.push(), 'CONFIG', 'remote')
  assert.equal(forge.counters().enqueued, 0, 'refused tasks were not queued')
})

test('wait rejects with TIMEOUT when the task does not finish in time', async (t) => {
  const { forge } = project(t, '\n[worker]\nconcurrency = 1\n')
  const ids = Array.from({ length: 5 }, () => forge.enqueue('CacheCurrentState'))
  await expectCode(() => forge.wait(ids.at(-1), 0), 'TIMEOUT')
  for (const id of ids) await forge.wait(id)
})

const s3 = process.env.DXFORGE_TEST_S3_ENDPOINT
test('push then pull into a second empty project reproduces the tree', { skip: s3 ? false : 'no local S3 server (DXFORGE_TEST_S3_* unset; scripts/s3-server.sh start)' }, async (t) => {
  process.env.DXFORGE_S3_ACCESS_KEY_ID = process.env.DXFORGE_TEST_S3_ACCESS_KEY
  process.env.DXFORGE_S3_SECRET_ACCESS_KEY = process.env.DXFORGE_TEST_S3_SECRET_KEY
  const prefix = `node-${process.pid}-${Date.now()}/`
  const remote = `\n[remote]\nendpoint = "${s3}"\nbucket = "${process.env.DXFORGE_TEST_S3_BUCKET}"\nprefix = "${prefix}"\nregion = "auto"\n`
  const a = project(t, remote)
  const snap = await a.forge.snapshot()
  const pushed = await a.forge.push()
  assert.ok(pushed.objectsSent >= 3, JSON.stringify(pushed))
  assert.ok(pushed.snapshots.includes(snap.id))
  const again = await a.forge.push()
  assert.equal(again.objectsSent, 0, 'a second push sends nothing new')

  const dir = tempDir(t)
  writeFileSync(join(dir, 'dxforge.toml'), `[project]\nname = "b"\n${remote}`)
  const b = new DxForge(dir)
  t.after(() => b.close())
  const pulled = await b.pull(snap.id)
  assert.equal(pulled.restore.restored, snap.id)
  assert.equal(readFileSync(join(dir, 'src/app.js'), 'utf8'), 'useTiny(1)\nconsole.log("hi")\n')
  assert.equal(readFileSync(join(dir, 'registry/tiny/1.0.0/files/tiny.js'), 'utf8'), 'export const tiny = 1\n')

  process.env.DXFORGE_S3_SECRET_ACCESS_KEY = 'wrong-secret'
  await expectCode(() => a.forge.push(), 'REMOTE')
  rmSync(join(dir, 'src'), { recursive: true })
})
