#!/usr/bin/env bash
# Fuzzes every parser of untrusted input (fuzz/README.md) for a bounded time:
# builds all cargo-fuzz targets in one invocation, then runs each for
# DXFORGE_FUZZ_SECONDS (default 30) from its committed seeds, and prints the
# executions, exec/s and verdict per target. Fails when any target crashes,
# hangs or runs out of memory; the input is left in fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh                      # every target, 30 s each
#   DXFORGE_FUZZ_SECONDS=300 bash scripts/fuzz.sh pack_index txn_journal
#
# Needs a nightly toolchain and cargo-fuzz; both are installed on first run.
# The corpus grown by the run goes to a temporary directory, so the tree stays
# clean (only the git-ignored fuzz/target, fuzz/Cargo.lock and, on a crash,
# fuzz/artifacts are written).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
secs="${DXFORGE_FUZZ_SECONDS:-30}"
# Its own target dir: the fuzz build uses other compiler flags than the
# workspace build, so sharing one would only evict each other's artifacts.
export CARGO_TARGET_DIR="${DXFORGE_FUZZ_TARGET_DIR:-$repo/fuzz/target}"
# Same build flags for `build` and `run`, so `run` finds everything built.
# AddressSanitizer stays on (the default): its allocator is what enforces
# libFuzzer's -malloc_limit_mb, i.e. what turns a crafted length into a
# reported "malloc(N) exceeds limit" instead of a silent lazy allocation.
# Debug assertions and overflow checks are on too (cargo-fuzz's default).
build_flags=(--sanitizer address)

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

mapfile -t all < <(cargo fuzz list)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

# The fuzz workspace resolves with exactly the dependency versions the main
# workspace is built and tested with (plus libfuzzer-sys).
cp Cargo.lock fuzz/Cargo.lock

start=$(date +%s)
cargo +nightly fuzz build "${build_flags[@]}"
built=$(date +%s)
echo "fuzz: built ${#all[@]} targets in $((built - start)) s"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    if [ ! -d "fuzz/seeds/$t" ]; then
        echo "fuzz: no seeds for target $t (fuzz/seeds/$t)" >&2
        exit 2
    fi
    mkdir -p "$tmp/corpus/$t"
    log="$tmp/$t.log"
    rc=0
    # -timeout: one input running 10 s is a hang, reported like a crash.
    # The outer timeout only guards against libFuzzer itself not stopping.
    timeout --kill-after=30 $((secs + 300)) \
        cargo +nightly fuzz run "${build_flags[@]}" "$t" "$tmp/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        verdict="no crash"
    else
        verdict="CRASH (exit $rc)"
        failed+=("$t")
        echo "---- $t: last lines of the libFuzzer log ----"
        tail -n 60 "$log"
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        if [ -n "$artifact" ]; then
            echo "input: $artifact"
            echo "reproduce: cargo +nightly fuzz run $t $artifact"
        fi
    fi
    line=$(printf '%-18s %10s execs %8s exec/s %6s new units  %s' \
        "$t" "${execs:-?}" "${rate:-?}" "${units:-?}" "$verdict")
    echo "fuzz: $line"
    summary+=("$line")
done

echo
echo "fuzz: ${secs} s per target, $(($(date +%s) - start)) s in all (build $((built - start)) s)"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/; see fuzz/README.md)" >&2
    exit 1
fi
