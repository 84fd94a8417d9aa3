#!/usr/bin/env bash
# Runs the Traffic Branching benchmarks once and prints medians and ratios.
# Usage: crates/traffic/benches/compare.sh   (from anywhere inside the repository)
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cargo bench -p dxforge-traffic --bench traffic -- --noplot "$@" >&2
python3 - <<'PY'
import json, os
base = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
def median(group, bench):
    with open(os.path.join(base, group, bench, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"] / 1e6  # ms
m_ours, m_git = median("merge", "dxforge_light_and_merge"), median("merge", "git_merge_file_process")
m3, gix, diffy = median("merge", "dxforge_merge3"), median("merge", "gix_merge_blob"), median("merge", "diffy_merge")
i_ours, i_cp = median("install_1000", "dxforge_install"), median("install_1000", "cp_r")
u, uc = median("upgrade_1000", "dxforge_upgrade_10pct_edited"), median("upgrade_1000", "classify_only")
print(f"light+merge 10k lines, 50 edits/side: dxforge {m_ours:.3f} ms, git merge-file {m_git:.3f} ms -> {m_git / m_ours:.1f}x faster (target >= 8x)")
print(f"merge alone: dxforge {m3:.3f} ms, gix-merge {gix:.3f} ms, diffy {diffy:.3f} ms -> {m3 / min(gix, diffy):.2f}x the faster peer (target <= 1.0x)")
print(f"fresh install 1,000 files: dxforge {i_ours:.1f} ms, cp -r {i_cp:.1f} ms -> {i_ours / i_cp:.2f}x of cp -r (target <= 1.2x)")
print(f"upgrade 1,000 files (10% user-edited): {u:.1f} ms -> {1000 / (u / 1000):.0f} files/s; verdicts and merges {uc:.2f} ms = {100 * uc / u:.2f}% of it, the rest I/O")
PY
