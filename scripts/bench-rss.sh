#!/usr/bin/env bash
# Memory of `dxforge up` supervising 10 idle tools (issue 14's target: <= 4 MB;
# pm2's daemon alone takes about 80 MB). Uses the release build (a benchmark).
#
# Prints the supervisor's VmRSS twice: idle (2 s after the last control
# request, once `up` has given back its start-up pages; see cli/src/trim.rs)
# and right after a `status` request; plus the parked helper processes (the
# per-tool shims and the parked pair), which share the supervisor's address
# space (CLONE_VM) and so add no pages of their own. Emits a `bench-row`
# line for scripts/bench/table.py.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --quiet --release -p dxforge-cli
dx="${CARGO_TARGET_DIR:-$repo/target}/release/dxforge"
project="$(mktemp -d)"
trap 'kill "$up" 2>/dev/null || true; rm -rf "$project"' EXIT
for i in $(seq 1 10); do
    printf '[tools.idle%02d]\nbinary_path = "sleep"\nargs = ["3600"]\n\n' "$i" >> "$project/dxforge.toml"
done
"$dx" -C "$project" up >/dev/null 2>&1 &
up=$!
for _ in $(seq 1 200); do
    [ "$("$dx" -C "$project" --json status 2>/dev/null | grep -c '"status": "running"')" = 10 ] && break
    sleep 0.1
done
sleep 2
kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$up/status"; }
idle=$(kb VmRSS)
"$dx" -C "$project" status >/dev/null
sleep 0.2
busy=$(kb VmRSS)
hwm=$(kb VmHWM)
threads=$(kb Threads)
helpers=$(pgrep -c -P "$up" || true)
parked=$(pgrep -c -x dxforge-parked || true)
awk -v r="$idle" -v b="$busy" -v h="$hwm" -v t="$threads" -v n="$helpers" -v p="$parked" 'BEGIN {
    printf "dxforge up, 10 idle tools: VmRSS %.2f MB idle, %.2f MB right after a status request, peak %.1f MB; %d threads (target <= 4 MB)\n", r / 1024, b / 1024, h / 1024, t
    printf "helpers: %d shims (one of them the parked pair) + %d parked tool, all in the supervisor address space (no pages of their own)\n", n, p
}'
printf 'bench-row {"row":"rss","mode":"cli","rss_kb":%d,"busy_rss_kb":%d,"hwm_kb":%d,"helpers":%d,"helpers_rss_kb":%d}\n' \
    "$idle" "$busy" "$hwm" "$((helpers + parked))" "$idle"
"$dx" -C "$project" stop >/dev/null
wait "$up"
