#!/usr/bin/env bash
# Worker benchmarks against the peers measured in the same run: git for snapshots
# (`git add -A && git write-tree`) and restore (`git checkout-index -a -f`), tokei for
# analysis.
#
#   compare.sh    in-process (criterion, benches/compare.rs), medians and ratios
#
# The same rows as whole processes (`dxforge snapshot` / `dxforge restore` against the
# git commands, interleaved) are in scripts/bench/cli.py, run by `scripts/bench.sh cli`.
#
# Targets (issue 14): first snapshot of 10,000 files (40 MB) <= 0.3x git, incremental
# snapshot with 10 changed <= 0.3x git, restore of 10,000 files <= 1.0x git; analyze
# <= 1.5x tokei; enqueue p99 < 1 us.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"

command -v tokei >/dev/null || echo "warning: tokei not on PATH (cargo install tokei); analyze has no peer" >&2

cargo bench -p dxforge-worker --bench enqueue --bench compare 2>&1 \
    | grep -E '^enqueue \(|^interleaved|^bench-row|^tokei not found' || true

python3 - "$target/criterion" <<'PY'
import json, os, sys
base = sys.argv[1]

def median_ns(group, name):
    path = os.path.join(base, group, name, "new", "estimates.json") if name else os.path.join(base, group, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None

def fmt(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"

print(f"{'benchmark':34} {'dxforge':>12} {'peer':>12} {'ratio':>8} {'target':>8}")
for group, peer, target in (
    ("snapshot_first", "git", 0.3),
    ("snapshot_incremental_10_changed", "git", 0.3),
    ("restore", "git", 1.0),
    ("analyze", "tokei", 1.5),
):
    ours, theirs = median_ns(group, "dxforge"), median_ns(group, peer)
    ratio = f"{ours / theirs:.2f}x" if ours and theirs else "n/a"
    print(f"{group + ' vs ' + peer:34} {fmt(ours):>12} {fmt(theirs):>12} {ratio:>8} {'<=' + str(target) + 'x':>8}")
enq = median_ns("enqueue_full_queue", None)
print(f"{'enqueue (criterion median/call)':34} {fmt(enq):>12}")
PY
