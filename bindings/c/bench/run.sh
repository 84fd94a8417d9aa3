#!/usr/bin/env bash
# C-vs-Rust per-call benchmark, in one run (release builds here only, never in
# scripts/test-c.sh):
#   1. criterion's status_registered_tool (core/benches/status.rs), the Rust baseline;
#   2. bench_calls (C, cc -O2, release libdxforge.so) and calls_rust (the same
#      loops straight on the dxforge crate), alternated 3 times each;
#   3. instructions per status call of both under callgrind (deterministic;
#      difference of two loop lengths, so setup cancels out).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"
out="$target/dxforge-c"
mkdir -p "$out"
cargo build -p dxforge-c --release --locked --lib --example bench_calls_rust
# The C program loads the library by its SONAME (bindings/c/build.rs).
soname="$(readelf -d "$target/release/libdxforge.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
ln -sfn libdxforge.so "$target/release/$soname"
cc -std=c11 -O2 -Wall -Wextra -pedantic -Werror -Iinclude bindings/c/bench/bench_calls.c \
    -o "$out/bench_calls" -L"$target/release" -ldxforge -Wl,-rpath,"$target/release"
rust_bin="$target/release/examples/bench_calls_rust"

echo "== criterion (Rust)"
cargo bench -p dxforge --bench status --locked -- status_registered_tool 2>&1 | grep "^status_registered_tool"
echo "== same loops, alternated"
for _ in 1 2 3; do
    "$out/bench_calls"
    "$rust_bin"
done
echo "== callgrind instructions per status call"
per_call() { # binary -> instructions per call
    local a b
    a=$(BENCH_CALLS=1000 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    b=$(BENCH_CALLS=21000 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo $(( (b - a) / (20000 * 31) ))   # 31 rounds of (21000 - 1000) more calls
}
c_ir=$(per_call "$out/bench_calls")
rust_ir=$(per_call "$rust_bin")
python3 -c "import sys; c, r = int(sys.argv[1]), int(sys.argv[2]); print(f'status: C {c} instructions/call, Rust {r}, ratio C/Rust {c / r:.2f} (target <= 1.2)')" "$c_ir" "$rust_ir"
