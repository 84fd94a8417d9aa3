// dxforge from Node on the demo project (examples/demo): start `web` (which
// starts its dependency `db` first), watch status changes, run the one-shot
// `lint` tool, read logs, plan a package install, analyse the code in the
// background, run a CLI command string, then close (stops the tools).
//
// Run: node examples/node/demo.mjs   (after `scripts/test-node.sh` or `npx napi build --platform` in node/)
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { DxForge } from '../../node/index.mjs'

const demo = join(dirname(fileURLToPath(import.meta.url)), '..', 'demo')
const forge = DxForge.open(demo)
try {
  console.log('tools:', forge.toolNames().join(', '))
  forge.onStatusChange((e) => console.log(`  [event] ${e.tool}: ${e.old.status} -> ${e.new.status}`))

  const web = await forge.ensureRunning('web')
  console.log('web is', web.status, '| db is', forge.status('db').status)
  for (const s of forge.states()) console.log(`  ${s.name.padEnd(5)} ${s.status.status.padEnd(8)} pid=${s.pid ?? '-'}`)

  const lint = await forge.executeTool('lint')
  console.log(`lint exited with ${lint.exitCode} after ${lint.durationMs} ms:`)
  console.log(lint.stdout.toString().trimEnd().replace(/^/gm, '  | '))

  console.log('last db log lines:', forge.logs('db', 3).map((l) => l.line))

  const plan = await forge.installPackage('button', '^1.2', { dryRun: true })
  console.log(`installPackage('button', '^1.2', { dryRun: true }): ${plan.packages.map((p) => `${p.name}@${p.version}`).join(', ')}`)
  for (const f of plan.files) console.log(`  ${f.light.toUpperCase().padEnd(6)} ${f.path}  (${f.reason})`)

  const task = forge.enqueue('AnalyzeCodebasePatterns') // returns at once
  const done = await forge.wait(task, 30_000)
  console.log(`background task #${task}: ${done.state}, ${done.report.analysis.files} files, ${done.report.analysis.lines} lines analysed`)

  const status = await forge.runPipeline('status')
  console.log(`runPipeline('status'):\n${status.text}`)

  try {
    forge.status('nope')
  } catch (e) {
    console.log(`errors carry a stable code: ${e.code} (${e.message})`)
  }
} finally {
  await forge.close()
  console.log('closed: every tool stopped')
}
