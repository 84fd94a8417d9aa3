#!/usr/bin/env bash
# Fuzzes every parser of untrusted input (fuzz/README.md) for a bounded time:
# builds all cargo-fuzz targets in one invocation, then runs each for
# DXFORGE_FUZZ_SECONDS (default 30) from its committed seeds, one target per
# core at a time (DXFORGE_FUZZ_JOBS, default: the number of cores), and prints
# executions, exec/s and the verdict per target. Fails when any target crashes,
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
jobs="${DXFORGE_FUZZ_JOBS:-$(nproc)}"
start=$(date +%s)

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # Built in cargo's own temporary directory, not in ours.
    env -u CARGO_TARGET_DIR cargo install cargo-fuzz --locked
fi
installed=$(date +%s)

# Its own target dir: the fuzz build uses other compiler flags than the
# workspace build, so sharing one would only evict each other's artifacts.
export CARGO_TARGET_DIR="${DXFORGE_FUZZ_TARGET_DIR:-$repo/fuzz/target}"
# The same flags for `build` and `run`, so that `run` rebuilds nothing.
# AddressSanitizer stays on (cargo-fuzz's default): its allocator is what
# enforces libFuzzer's -malloc_limit_mb, i.e. what turns a crafted length into
# a reported "malloc(N) exceeds limit" instead of a silent lazy allocation.
# Debug assertions and overflow checks are on too (cargo-fuzz's default).
build_flags=(--sanitizer address)

# The fuzz workspace is outside the main one, so `cargo fmt --all` misses it.
cargo fmt --manifest-path fuzz/Cargo.toml --check

mapfile -t all < <(cargo fuzz list)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
    if [ ! -d "fuzz/seeds/$t" ]; then
        echo "fuzz: no target $t with seeds in fuzz/seeds/$t" >&2
        exit 2
    fi
done

# The fuzz workspace resolves with exactly the dependency versions the main
# workspace is built and tested with (cargo adds only libfuzzer-sys).
cp Cargo.lock fuzz/Cargo.lock

cargo +nightly fuzz build "${build_flags[@]}"
built=$(date +%s)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One bounded run: seeds read from fuzz/seeds/T, new inputs written to a
# temporary corpus. -timeout: one input running 10 s is a hang, reported like
# a crash. The outer timeout only guards against libFuzzer itself not stopping.
run_one() {
    local t="$1" rc=0
    mkdir -p "$tmp/corpus/$t"
    timeout --kill-after=30 $((secs + 300)) \
        cargo +nightly fuzz run "${build_flags[@]}" "$t" "$tmp/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$tmp/$t.log" 2>&1 || rc=$?
    echo "$rc" >"$tmp/$t.rc"
}

for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    run_one "$t" &
done
wait

failed=()
summary=()
for t in "${targets[@]}"; do
    log="$tmp/$t.log"
    rc=$(cat "$tmp/$t.rc")
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
    summary+=("$(printf '%-18s %10s execs %8s exec/s %6s new units  %s' \
        "$t" "${execs:-?}" "${rate:-?}" "${units:-?}" "$verdict")")
done

end=$(date +%s)
echo
echo "fuzz: ${#targets[@]} targets, ${secs} s each, ${jobs} at a time; $((end - start)) s in all" \
    "(install $((installed - start)) s, build $((built - installed)) s, runs $((end - built)) s)"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/; see fuzz/README.md)" >&2
    exit 1
fi
