#!/usr/bin/env bash
# Memory of `dxforge up` supervising 10 idle tools (target < 10 MB RSS;
# pm2's daemon alone takes about 80 MB). Prints the supervisor's VmRSS and
# VmHWM after all tools are running. Uses the release build (a benchmark).
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
sleep 1
rss=$(awk '/VmRSS/ {print $2}' "/proc/$up/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$up/status")
awk -v r="$rss" -v h="$hwm" 'BEGIN { printf "dxforge up, 10 idle tools: VmRSS %.1f MB, peak %.1f MB (target < 10 MB)\n", r / 1024, h / 1024 }'
"$dx" -C "$project" stop >/dev/null
wait "$up"
