// Per-call overhead of cheap calls from Node: `status` of a registered tool
// (compare with the Rust criterion bench `cargo bench -p dxforge --bench status`),
// `enqueue` of a background task, and the `isClosed` getter (the napi floor).
//
// Run: node node/bench/status.mjs
//   DXFORGE_NODE_ADDON=path/to/dxforge.node node node/bench/status.mjs   (e.g. a release build:
//   cargo build --release -p dxforge-node && cp target/release/libdxforge_node.so /tmp/dxforge.node)
// Prints the median over ROUNDS rounds of N calls each, in ns per call; then
// the median and 99th percentile of the per-call time over BATCHES batches of
// 100 calls of `status` and `enqueue` (as python/bench/bench_calls.py and
// bindings/c/bench/calls_rust.rs do). Like them, the project has one consumer
// and no registry, so prefetch tasks fail at once and the queue stays full.
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const addon = process.env.DXFORGE_NODE_ADDON
const { DxForge } = addon ? require(addon) : require('dxforge')

const N = Number(process.env.N ?? 200_000)
const ROUNDS = Number(process.env.ROUNDS ?? 15)
const BATCHES = Number(process.env.BATCHES ?? 20_000)

function batchPercentiles(fn) {
  const perCall = []
  for (let b = 0; b < BATCHES; b++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < 100; i++) fn()
    perCall.push(Number(process.hrtime.bigint() - t0) / 100)
  }
  perCall.sort((a, b) => a - b)
  return { median: perCall[Math.floor(BATCHES / 2)], p99: perCall[Math.min(BATCHES - 1, Math.floor((BATCHES * 99) / 100))] }
}

function measure(fn) {
  for (let i = 0; i < N; i++) fn() // warm-up (JIT, caches)
  const perCall = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < N; i++) fn()
    perCall.push(Number(process.hrtime.bigint() - t0) / N)
  }
  perCall.sort((a, b) => a - b)
  return { median: perCall[Math.floor(ROUNDS / 2)], min: perCall[0], max: perCall.at(-1) }
}

const dir = mkdtempSync(join(tmpdir(), 'dxforge-bench-'))
writeFileSync(join(dir, 'dxforge.toml'), '[project]\nname = "bench"\n\n[worker]\nconcurrency = 1\n')
const forge = new DxForge(dir)
forge.registerTool({ name: 'db', binaryPath: '/bin/true' })

const results = {
  'isClosed getter (napi floor)': measure(() => forge.isClosed),
  'status(registered tool)': measure(() => forge.status('db')),
  'state(registered tool)': measure(() => forge.state('db')),
  'enqueue(PrefetchPackage)': measure(() => forge.enqueue('PrefetchPackage', 'button@^1.2')),
}
const batched = {
  'status, batches of 100': batchPercentiles(() => forge.status('db')),
  'enqueue, batches of 100': batchPercentiles(() => forge.enqueue('PrefetchPackage', 'button@^1.2')),
}
const c = forge.counters()
await forge.close()
// A running background task may still be writing under .dxforge/ (close() does not wait for it).
rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 })

console.log(`node ${process.version}, ${addon ? `addon ${addon}` : 'dxforge package build'}, ${ROUNDS} rounds x ${N} calls`)
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(34)} median ${r.median.toFixed(1).padStart(7)} ns/call  (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)})`)
}
for (const [name, r] of Object.entries(batched)) {
  console.log(`${name.padEnd(34)} median ${r.median.toFixed(1).padStart(7)} ns/call  p99 ${r.p99.toFixed(1)}`)
}
console.log(`enqueue: ${c.enqueued} tasks, ${c.dropped} dropped by the full queue (drop-oldest), ${c.succeeded} ran`)
