#!/usr/bin/env bash
# Whole-process rows of the Traffic Branching benchmarks, each run
# interleaved with its peer (dxforge, peer, dxforge, peer, ...) so both see
# the same machine load; prints medians, p90 and the ratio.
#
#   install: `dxforge add big` (1,000 files, `[registry] path`, a fresh
#            project each run) vs `cp -r` of the package's files.
#   merge:   `dxforge check FILE --with UPSTREAM` on an installed
#            10,000-line file with 50 user edits against an upstream file
#            with 50 other edits (light + three-way merge against the
#            recorded base) vs `git merge-file -p ours base theirs`.
#
# Usage: crates/traffic/benches/cli_compare.sh [RUNS]   (default 21)
# Uses the release CLI in $CARGO_TARGET_DIR (built if missing or stale).
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cargo build --release -p dxforge-cli >&2
BIN="${CARGO_TARGET_DIR:-target}/release/dxforge"
RUNS="${1:-21}" BIN="$(realpath "$BIN")" python3 - <<'PY'
import os, shutil, statistics, subprocess, tempfile, time

runs, dx = int(os.environ["RUNS"]), os.environ["BIN"]
work = tempfile.mkdtemp(prefix="dxforge-cli-bench-")

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)

def run(args, cwd=None):
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start

def project(name):
    root = os.path.join(work, name)
    os.makedirs(root)
    write(os.path.join(root, "dxforge.toml"), f'[registry]\npath = "{work}/reg"\n')
    return root

# The registry: `big` (1,000 files of 41 lines in 20 directories) and
# `bigfile` (one 10,000-line file).
for i in range(1000):
    lines = "".join(f'export const item{i}_{l} = "{l}";\n' for l in range(40))
    write(f"{work}/reg/big/1.0.0/files/components/group{i % 20}/file{i}.tsx",
          lines + 'export const version = "v1";\n')
write(f"{work}/reg/big/1.0.0/dxpkg.toml", 'name = "big"\nversion = "1.0.0"\n')

def big_file(edits, tag):
    return "".join(f"    let value_{i} = edited_by_{tag}({i});\n" if i in edits
                   else f"    let value_{i} = compute({i});\n" for i in range(10_000))

base = big_file(set(), "")
ours = big_file({k * 200 + 10 for k in range(50)}, "user")
theirs = big_file({k * 200 + 110 for k in range(50)}, "upstream")
write(f"{work}/reg/bigfile/1.0.0/files/src/big.rs", base)
write(f"{work}/reg/bigfile/1.0.0/dxpkg.toml", 'name = "bigfile"\nversion = "1.0.0"\n')
merge_project = project("merge")
subprocess.run([dx, "add", "bigfile"], cwd=merge_project, check=True, stdout=subprocess.DEVNULL)
write(f"{merge_project}/src/big.rs", ours)
for name, text in [("ours", ours), ("base", base), ("theirs", theirs)]:
    write(f"{work}/git/{name}", text)
git = ["git", "merge-file", "-p", f"{work}/git/ours", f"{work}/git/base", f"{work}/git/theirs"]
check = [dx, "check", "src/big.rs", "--with", f"{work}/git/theirs"]
merged = subprocess.run(git, capture_output=True).stdout
assert subprocess.run(check, cwd=merge_project, capture_output=True).returncode == 0

rows = {k: [] for k in ["add", "cp", "check", "git"]}
for n in range(runs):
    rows["add"].append(run([dx, "add", "big"], cwd=project(f"p{n}")))
    rows["cp"].append(run(["cp", "-r", f"{work}/reg/big/1.0.0/files", f"{work}/c{n}"]))
    rows["check"].append(run(check, cwd=merge_project))
    rows["git"].append(run(git))

def stats(xs):
    xs = sorted(xs)
    return statistics.median(xs) * 1e3, xs[min(len(xs) - 1, int(len(xs) * 0.9))] * 1e3

load = os.getloadavg()[0]
print(f"{runs} interleaved runs, load average {load:.2f}")
for ours_key, peer_key, what, peer in [("add", "cp", "install 1,000 files (dxforge add)", "cp -r"),
                                       ("check", "git", "light + merge 10k lines (dxforge check)", "git merge-file -p")]:
    (om, op), (pm, pp) = stats(rows[ours_key]), stats(rows[peer_key])
    print(f"{what}: median {om:.1f} ms (p90 {op:.1f}); {peer}: median {pm:.1f} ms (p90 {pp:.1f}); ratio {om / pm:.2f}x")
shutil.rmtree(work)
PY
