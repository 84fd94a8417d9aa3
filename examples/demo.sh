#!/usr/bin/env bash
# The dxforge main job, on a temporary copy of examples/demo (and the
# registry next to it) so the repository stays clean. It ends by itself:
#
#  1. Sovereign Orchestrator: start the fake database and the web server that
#     depends on it, wait until both are healthy, then from a second process
#     (through the supervisor's control socket) show the status, run the
#     one-shot lint tool and read a tool's logs.
#  2. Traffic Branching: install the project's [dependencies], edit an
#     installed file as a user would, upgrade the package and watch the edit
#     survive a three-way merge (Yellow light).
#  3. Shadow Worker: snapshot the project, list snapshots, analyse the code.
#  4. Stop everything.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --quiet -p dxforge-cli
dx="${CARGO_TARGET_DIR:-$repo/target}/debug/dxforge"
work="$(mktemp -d)"
cp -r "$repo/examples/demo" "$repo/examples/registry" "$work/"
demo="$work/demo"
say() { printf '\n== %s\n' "$*"; }

say "dxforge up db web (in the background)"
"$dx" -C "$demo" up db web &
up_pid=$!
trap 'kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# Wait (at most 30 s) until the supervisor answers with both tools healthy.
for _ in $(seq 1 300); do
    healthy="$("$dx" -C "$demo" --json status 2>/dev/null | grep -c '"status": "healthy"' || true)"
    [ "$healthy" -ge 2 ] && break
    sleep 0.1
done

say "dxforge status   (a second process, through the control socket)"
"$dx" -C "$demo" status
say "dxforge run lint"
"$dx" -C "$demo" run lint || echo "(lint exited with $?: a result, not an error)"
say "dxforge logs db -n 5"
"$dx" -C "$demo" logs db -n 5

say "dxforge install   ([dependencies] button = \"=1.2.0\")"
"$dx" -C "$demo" install
say "a user edit of components/ui/button.tsx"
printf '// Our team: keep buttons accessible.\n' | cat - "$demo/components/ui/button.tsx" > "$work/edited"
mv "$work/edited" "$demo/components/ui/button.tsx"
say "dxforge add button@^1.3 --dry-run   (the plan; nothing written)"
"$dx" -C "$demo" add 'button@^1.3' --dry-run
say "dxforge add button@^1.3"
"$dx" -C "$demo" add 'button@^1.3'
grep -q 'Our team: keep buttons accessible' "$demo/components/ui/button.tsx"
echo "(the user's edit survived the upgrade)"

say "dxforge snapshot / snapshots"
"$dx" -C "$demo" snapshot
"$dx" -C "$demo" snapshots
say "dxforge analyze"
"$dx" -C "$demo" analyze

say "dxforge stop"
"$dx" -C "$demo" stop
wait "$up_pid"
echo
echo "done: every tool stopped"
