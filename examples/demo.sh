#!/usr/bin/env bash
# The dxforge main job on examples/demo: start the tools in dependency order,
# wait until healthy, show the status (through the control socket of the
# running supervisor), run the one-shot lint tool, plan a package install,
# then stop everything. Ends by itself.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
demo="$repo/examples/demo"
cargo build --quiet -p dxforge-cli
dx="${CARGO_TARGET_DIR:-$repo/target}/debug/dxforge"

"$dx" -C "$demo" up db web &
up_pid=$!
trap 'kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true' EXIT

# Wait until the supervisor answers and web is healthy (at most 30 s).
for _ in $(seq 1 300); do
    if "$dx" -C "$demo" --json status 2>/dev/null | grep -q '"status": "healthy"' \
        && [ "$("$dx" -C "$demo" --json status | grep -c '"status": "healthy"')" -ge 2 ]; then
        break
    fi
    sleep 0.1
done

echo "== dxforge status (from a second process, through the control socket)"
"$dx" -C "$demo" status
echo "== dxforge run lint"
"$dx" -C "$demo" run lint || echo "(lint exited with $?: a result, not an error)"
echo "== dxforge logs db"
"$dx" -C "$demo" logs db -n 5
echo "== dxforge add button --dry-run"
"$dx" -C "$demo" add button --dry-run || true
echo "== dxforge stop"
"$dx" -C "$demo" stop
wait "$up_pid"
trap - EXIT
echo "== done: every tool stopped"
