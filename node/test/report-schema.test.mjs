// Every report the Node binding returns matches schema/reports.json, the core's one
// definition of report shapes. Node keeps its napi objects (index.d.ts stays generated
// by napi); this checks them against the schema in the scenarios of traffic.test.mjs
// and worker.test.mjs, through the documented Node conventions below.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { DxForge } from 'dxforge'
import { REPO, tempDir } from './helpers.mjs'

const SCHEMA = JSON.parse(readFileSync(join(REPO, 'schema', 'reports.json'), 'utf8'))
const DEFS = SCHEMA.$defs

// Node's deliberate differences from the core's serde form: field names are camelCase,
// a `None` is an absent field, InstallReport adds `hasRed`, SnapshotSummary does not
// carry `full_walk`, and a task state is `{ state, report: { kind, [kind]: … }, error }`.
const NODE_ONLY = { InstallReport: ['has_red'] }
const NOT_IN_NODE = { SnapshotSummary: ['full_walk'] }

const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** A Node report in the core's serde form: snake_case keys, undefined fields dropped. */
function serdeForm(value) {
  if (Array.isArray(value)) return value.map(serdeForm)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [snake(k), serdeForm(v)]),
  )
}

/** Node's task state in the serde form (`{ state, detail }`, the report flattened with its kind). */
function taskStateForm(s) {
  const state = serdeForm(s)
  if (state.state === 'succeeded') {
    const { kind } = state.report
    return { state: 'succeeded', detail: { kind, ...state.report[kind] } }
  }
  if (state.state === 'failed') return { state: 'failed', detail: state.error }
  assert.deepEqual(Object.keys(state), ['state'], 'an unfinished task has only its state')
  return state
}

const refName = (ref) => ref.split('/').at(-1)

/** A `$ref` merged with the keywords beside it (a tagged variant adds its tag). */
function resolve(schema) {
  if (!schema.$ref) return schema
  const base = resolve(DEFS[refName(schema.$ref)])
  return {
    ...base,
    ...schema,
    $ref: undefined,
    properties: { ...base.properties, ...schema.properties },
    required: [...(base.required ?? []), ...(schema.required ?? [])],
  }
}

const nullable = (s) => {
  const r = resolve(s)
  return [r.type].flat().includes('null') || (r.anyOf ?? []).some((x) => x.type === 'null')
}

const isType = {
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  integer: (v) => Number.isInteger(v) && v >= 0,
  number: (v) => typeof v === 'number',
  array: Array.isArray,
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  null: (v) => v === null,
}

/** Why `value` does not match `schema` (empty when it does), with `name` for Node's differences. */
function errors(value, schema, at = '$', name = schema.$ref && refName(schema.$ref)) {
  const s = resolve(schema)
  for (const key of ['oneOf', 'anyOf']) {
    if (!s[key]) continue
    const matches = s[key].filter((v) => errors(value, v, at).length === 0).length
    return (key === 'oneOf' ? matches === 1 : matches >= 1) ? [] : [`${at}: ${JSON.stringify(value)} matches ${matches} ${key} variants`]
  }
  if ('const' in s && value !== s.const) return [`${at}: ${JSON.stringify(value)} is not ${s.const}`]
  const types = [s.type ?? []].flat()
  if (types.length && !types.some((t) => isType[t](value))) return [`${at}: ${JSON.stringify(value)} is not ${types.join('/')}`]
  const found = []
  if (Array.isArray(value) && s.items) value.forEach((v, i) => found.push(...errors(v, s.items, `${at}[${i}]`)))
  if (isType.object(value) && s.properties) {
    const extra = NODE_ONLY[name] ?? []
    const absent = NOT_IN_NODE[name] ?? []
    for (const k of s.required ?? []) {
      if (!(k in value) && !absent.includes(k) && !nullable(s.properties[k])) found.push(`${at}: missing ${k}`)
    }
    for (const [k, v] of Object.entries(value)) {
      if (k in s.properties) found.push(...errors(v, s.properties[k], `${at}.${k}`))
      else if (!extra.includes(k)) found.push(`${at}: unknown field ${k}`)
    }
  }
  return found
}

function check(report, name) {
  assert.ok(DEFS[name], `no ${name} in the schema`)
  const form = name === 'TaskState' ? taskStateForm(report) : serdeForm(report)
  const problems = errors(form, { $ref: `#/$defs/${name}` })
  assert.deepEqual(problems, [], `${name} does not match schema/reports.json: ${JSON.stringify(report)}`)
  return report
}

test('the checker rejects what the schema forbids', () => {
  const counters = { enqueued: 1, queued: 0, running: 0, succeeded: 1, failed: 0, dropped: 0 }
  const ref = { $ref: '#/$defs/Counters' }
  assert.deepEqual(errors(counters, ref), [])
  assert.notDeepEqual(errors({ ...counters, extra: 1 }, ref), [])
  assert.notDeepEqual(errors({ ...counters, queued: '0' }, ref), [])
  assert.notDeepEqual(errors({ ...counters, queued: undefined, enqueued: 1.5 }, ref), [])
  assert.notDeepEqual(errors({ state: 'succeeded', detail: 'x' }, { $ref: '#/$defs/TaskState' }), [])
  assert.notDeepEqual(errors('rolled_sideways', { $ref: '#/$defs/Recovery' }), [])
})

const LINES = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`)
const text = (lines) => lines.join('\n') + '\n'
const edit = (n, value) => LINES.map((l, i) => (i === n - 1 ? value : l))

function project(t) {
  const dir = tempDir(t)
  const pkg = (name, version, files, extra = '') => {
    const base = join(dir, 'registry', name, version)
    mkdirSync(base, { recursive: true })
    writeFileSync(join(base, 'dxpkg.toml'), `name = "${name}"\nversion = "${version}"\ndescription = "t"\n${extra}`)
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(base, 'files', path, '..'), { recursive: true })
      writeFileSync(join(base, 'files', path), content)
    }
  }
  pkg('helper', '1.0.0', { 'lib/helper.txt': 'help\n' }, '\n[detect]\npatterns = ["useHelper("]\n')
  const dep = '\n[dependencies]\nhelper = "^1"\n'
  pkg('widget', '1.0.0', { 'src/widget.txt': text(LINES) }, dep)
  pkg('widget', '2.0.0', { 'src/widget.txt': text(edit(2, 'line 2 upstream')) }, dep)
  writeFileSync(join(dir, 'dxforge.toml'), '[project]\nname = "t"\n\n[registry]\npath = "registry"\n')
  mkdirSync(join(dir, 'app'))
  writeFileSync(join(dir, 'app/main.js'), 'useHelper(1)\n')
  const forge = new DxForge(dir)
  t.after(() => forge.close())
  return { dir, forge }
}

test('traffic reports match the schema', async (t) => {
  const { dir, forge } = project(t)
  check(await forge.installPackage('widget', '=1.0.0', { dryRun: true }), 'InstallReport')
  check(await forge.installPackage('widget', '=1.0.0'), 'InstallReport')
  check(await forge.recoverTraffic(), 'Recovery')
  writeFileSync(join(dir, 'src/widget.txt'), text(edit(2, 'line 2 mine')))
  const verdict = check(await forge.check('src/widget.txt', text(edit(2, 'line 2 upstream'))), 'FileReport')
  assert.equal(verdict.conflicts.length, 1)
  check(await forge.check('src/new-file.txt', 'x'), 'FileReport')
  check(await forge.diff('widget'), 'InstallReport')
  const red = check(await forge.installPackage('widget', '^2'), 'InstallReport')
  assert.ok(red.files.some((f) => f.sideFile), JSON.stringify(red))
  check(await forge.update(), 'InstallReport')
  check(await forge.removePackage('widget', { dryRun: true }), 'RemoveReport')
  check(await forge.removePackage('widget'), 'RemoveReport')
  check(await forge.installAllDependencies(), 'InstallReport')
})

test('worker reports match the schema', async (t) => {
  const { dir, forge } = project(t)
  execFileSync('mkfifo', [join(dir, 'app/pipe')]) // a skipped entry
  const snap = check(await forge.snapshot(), 'SnapshotSummary')
  assert.ok(snap.skippedEntries.length > 0, JSON.stringify(snap))
  for (const s of await forge.snapshots()) check(s, 'SnapshotSummary')
  writeFileSync(join(dir, 'app/main.js'), 'changed\n')
  const restored = check(await forge.restore(snap.id), 'RestoreReport')
  check(await forge.restore(restored.safetySnapshot), 'RestoreReport')
  check(await forge.gcSnapshots(), 'GcReport')
  const analysis = check(await forge.analyze(), 'AnalysisReport')
  assert.ok(analysis.packages, JSON.stringify(analysis))
  check(await forge.prefetch('helper@^1'), 'PrefetchReport')
  const ids = [
    forge.enqueue('CacheCurrentState'),
    forge.enqueue('AnalyzeCodebasePatterns'),
    forge.enqueue('PrefetchPackage', 'helper@^1'),
    forge.enqueue('SyncToCloudflareR2'), // fails: no [remote]
  ]
  check(forge.task(ids.at(-1)), 'TaskState')
  const states = []
  for (const id of ids) states.push(check(await forge.wait(id, 60000), 'TaskState'))
  assert.deepEqual(states.map((s) => s.state), ['succeeded', 'succeeded', 'succeeded', 'failed'])
  for (const id of ids) check(forge.task(id), 'TaskState')
  check(forge.counters(), 'Counters')
})

const s3 = process.env.DXFORGE_TEST_S3_ENDPOINT
test('sync reports match the schema', { skip: s3 ? false : 'no local S3 server (DXFORGE_TEST_S3_* unset; scripts/s3-server.sh start)' }, async (t) => {
  process.env.DXFORGE_S3_ACCESS_KEY_ID = process.env.DXFORGE_TEST_S3_ACCESS_KEY
  process.env.DXFORGE_S3_SECRET_ACCESS_KEY = process.env.DXFORGE_TEST_S3_SECRET_KEY
  const remote = `[project]\nname = "s"\n\n[remote]\nendpoint = "${s3}"\nbucket = "${process.env.DXFORGE_TEST_S3_BUCKET}"\nprefix = "node-schema-${process.pid}-${Date.now()}/"\nregion = "auto"\n`
  const [a, b] = [tempDir(t), tempDir(t)]
  writeFileSync(join(a, 'dxforge.toml'), remote)
  writeFileSync(join(b, 'dxforge.toml'), remote)
  writeFileSync(join(a, 'data.txt'), 'sync me\n')
  const fa = new DxForge(a)
  t.after(() => fa.close())
  const snap = await fa.snapshot()
  check(await fa.push(), 'SyncReport')
  const state = check(await fa.wait(fa.enqueue('SyncToCloudflareR2'), 60000), 'TaskState')
  assert.equal(state.state, 'succeeded')
  const fb = new DxForge(b)
  t.after(() => fb.close())
  const pulled = check(await fb.pull(snap.id), 'SyncReport')
  assert.equal(pulled.restore.restored, snap.id)
})
