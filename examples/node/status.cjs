// dxforge from CommonJS on the demo project (examples/demo): start `web` (and
// `db`, its dependency), print every tool's status, then close (stops them).
//
// Run: node examples/node/status.cjs   (after `scripts/test-node.sh`)
// In a project that installed the package: require('dxforge').
const { join } = require('node:path')

const { DxForge } = require('../../node/index.js')

async function main() {
  const forge = DxForge.open(join(__dirname, '..', 'demo'))
  try {
    const web = await forge.ensureRunning('web')
    console.log('web is', web.status)
    for (const s of forge.states()) console.log(`  ${s.name.padEnd(5)} ${s.status.status.padEnd(8)} pid=${s.pid ?? '-'}`)
  } finally {
    await forge.close()
    console.log('closed: every tool stopped')
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
