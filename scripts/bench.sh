#!/usr/bin/env bash
# Runs every benchmark of dxforge once and prints medians and ratios against
# the peers measured in the same run (release builds; not part of the test
# command). Quote medians and ratios: machines like ours are noisy.
#
#   orchestrator  cold ensure_running vs std spawn, hot ensure_running
#   rss           `dxforge up` with 10 idle tools (pm2's daemon: ~80 MB)
#   traffic       light + merge vs `git merge-file`, install vs `cp -r`, upgrade rate
#   worker        enqueue p50/p99, snapshot vs `git add -A && git write-tree`, analyze vs tokei
#   bindings      per-call status/enqueue from C, Python and Node vs Rust
#
# Usage: scripts/bench.sh [orchestrator|rss|traffic|worker|bindings]...  (default: all)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(orchestrator rss traffic worker bindings)
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
        bindings)
            bash bindings/c/bench/run.sh
            [ -x python/.venv/bin/maturin ] || bash scripts/test-python.sh >/dev/null
            (cd python && .venv/bin/maturin develop --release --quiet)
            python/.venv/bin/python python/bench/bench_calls.py
            (cd python && .venv/bin/maturin develop --quiet) # back to the debug build the tests use
            cargo build --release --quiet -p dxforge-node
            addon="$(mktemp -d)/dxforge.node"
            cp "${CARGO_TARGET_DIR:-target}/release/libdxforge_node.so" "$addon"
            DXFORGE_NODE_ADDON="$addon" node node/bench/status.mjs ;;
        *) echo "unknown part: $part" >&2; exit 2 ;;
    esac
done
