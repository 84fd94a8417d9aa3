#!/usr/bin/env bash
# C-vs-Rust per-call benchmark, in one run:
#   1. the Rust baseline: criterion's status_registered_tool (core/benches/status.rs);
#   2. the same query through the C API (release libdxforge.so, cc -O2).
# Release builds are used here only, never in scripts/test-c.sh.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
out="$repo/target/dxforge-c"
mkdir -p "$out"
cargo build -p dxforge-c --release --locked
cc -std=c11 -O2 -Wall -Wextra -pedantic -Werror -Iinclude bindings/c/bench/bench_calls.c \
    -o "$out/bench_calls" -Ltarget/release -ldxforge -Wl,-rpath,"$repo/target/release"
cargo bench -p dxforge --bench status --locked -- status_registered_tool 2>&1 | grep -A3 "^status_registered_tool"
rust_ns="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
    target/criterion/status_registered_tool/new/estimates.json)"
c_out="$("$out/bench_calls")"
echo "$c_out"
c_ns="$(echo "$c_out" | sed -n 's/^c status_registered_tool: median \([0-9.]*\) ns.*/\1/p')"
python3 -c "import sys; r, c = float(sys.argv[1]), float(sys.argv[2]); print(f'status: Rust {r:.1f} ns, C {c:.1f} ns, ratio C/Rust {c / r:.2f} (target <= 1.2)')" "$rust_ns" "$c_ns"
