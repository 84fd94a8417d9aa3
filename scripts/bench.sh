#!/usr/bin/env bash
# Runs every benchmark of dxforge in one run and prints one table: for each
# row the median and p90 of dxforge and of its peer measured in the same run,
# their ratio and the target (issue 14). Release builds; not part of the test
# command, and nothing fails on speed. Quote medians and ratios: machines
# like ours are noisy; run it on a quiet machine (the load is printed).
#
#   orchestrator  cold and first ensure_running vs std spawn, hot ensure_running
#   rss           `dxforge up` with 10 idle tools
#   traffic       merge vs `git merge-file`, gix-merge, diffy; install vs `cp -r`; upgrade
#   worker        enqueue, snapshots vs git, restore vs `git checkout-index`, analyze vs tokei
#   sync          `sync push` of 10,000 objects vs sequential puts (needs the S3 server)
#   bindings      per-call status/enqueue from C, Python and Node vs Rust
#   cli           the same rows as whole `dxforge` processes vs the peers' command lines
#
# Usage: scripts/bench.sh [PART]...   (default: all; the table covers what ran)
# The log and the table are kept in $CARGO_TARGET_DIR/bench-results/.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"
results="$target/bench-results"
mkdir -p "$results"
log="$results/run.log"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(orchestrator rss traffic worker sync bindings cli)

started_s3=""
if [[ " ${parts[*]} " == *" sync "* || " ${parts[*]} " == *" cli "* ]] && [ -z "${DXFORGE_TEST_S3_ENDPOINT:-}" ]; then
    export DXFORGE_S3_DIR="${DXFORGE_S3_DIR:-$(mktemp -d)}"
    if eval "$(bash scripts/s3-server.sh start)"; then started_s3=1; fi
fi
cleanup() { if [ -n "$started_s3" ]; then bash scripts/s3-server.sh stop; fi; }
trap cleanup EXIT

cargo build --release --quiet -p dxforge-cli
dx="$target/release/dxforge"
{
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(date -u +%FT%TZ); $(git rev-parse --short HEAD)"
    for part in "${parts[@]}"; do
        printf '\n######## %s\n' "$part"
        case "$part" in
            orchestrator)
                cargo bench -p dxforge --bench orchestrator -- \
                    --warm-up-time 1 --measurement-time 3 2>&1 \
                    | grep -vE '^(Benchmarking|Found|  +[0-9]+ \(|  +change:|  +(No change|Change within|Performance))' || true ;;
            rss) bash scripts/bench-rss.sh ;;
            traffic) bash crates/traffic/benches/compare.sh ;;
            worker) bash crates/worker/benches/compare.sh ;;
            sync) cargo bench -p dxforge-worker --bench sync 2>&1 | grep -E '^(sync push|bench-row)' ;;
            bindings)
                bash bindings/c/bench/run.sh
                [ -x python/.venv/bin/maturin ] || bash scripts/test-python.sh >/dev/null
                (cd python && .venv/bin/maturin develop --release --quiet)
                echo "python-json $(python/.venv/bin/python python/bench/bench_calls.py --json | tr -d '\n')"
                (cd python && .venv/bin/maturin develop --quiet) # back to the debug build the tests use
                cargo build --release --quiet -p dxforge-node
                addon="$(mktemp -d)/dxforge.node"
                cp "$target/release/libdxforge_node.so" "$addon"
                DXFORGE_NODE_ADDON="$addon" node node/bench/status.mjs ;;
            cli) python3 scripts/bench/cli.py "$dx" ;;
            *) echo "unknown part: $part" >&2; exit 2 ;;
        esac
    done
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$log"
python3 scripts/bench/table.py "$log" "$target/criterion" | tee "$results/table.md"
