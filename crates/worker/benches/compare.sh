#!/usr/bin/env bash
# Worker benchmarks against the peers measured in the same run: git for snapshots
# (`git add -A && git write-tree`) and restore (`git checkout-index -a -f`), tokei for
# analysis.
#
#   compare.sh           in-process (criterion, benches/compare.rs), medians and ratios
#   compare.sh cli [BIN] whole processes: `BIN snapshot` / `BIN restore ID` against the
#                        git commands, interleaved, wall and CPU medians (BIN defaults to
#                        the release build of the CLI)
#
# Targets (issue 14): first snapshot of 10,000 files (40 MB) <= 0.3x git, incremental
# snapshot with 10 changed <= 0.3x git, restore of 10,000 files <= 1.0x git; analyze
# <= 1.5x tokei; enqueue p99 < 1 us.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"

if [ "${1:-}" = cli ]; then
    bin="${2:-$target/release/dxforge}"
    [ -x "$bin" ] || { echo "no CLI at $bin: cargo build --release -p dxforge-cli" >&2; exit 1; }
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    python3 - "$bin" "$work" "${RUNS:-7}" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time

bin_, base, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")

def generate(root):
    # 10,000 files of 2-6 KiB (about 40 MB) in 100 directories, like benches/compare.rs.
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write("target/\n*.tmp\n")
    for d in range(100):
        dd = os.path.join(root, f"src/mod{d:03}")
        os.makedirs(dd)
        for n in range(100):
            size = 2048 + (d * 7919 + n * 104729) % 4096
            line = f"    let value = compute({d}, {n}); // <Button>\n"
            with open(os.path.join(dd, f"file{n:03}.rs"), "w") as f:
                f.write((line * (size // len(line) + 1))[:size])

def run(cmd, cwd):
    """Wall seconds and CPU seconds (user + system, children included) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed: {cmd}")
    return wall, usage.ru_utime + usage.ru_stime

def delete_tree(root):
    shutil.rmtree(os.path.join(root, "src"))
    os.remove(os.path.join(root, ".gitignore"))

ours, theirs = os.path.join(base, "ours"), os.path.join(base, "theirs")
for root in (ours, theirs):
    os.makedirs(root)
    generate(root)
time.sleep(1.1)  # no file is "racy" for either tool

def report(name, a, b, target):
    wa, wb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
    ca, cb = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
    print(f"{name:30} dxforge {wa*1e3:8.1f} ms (cpu {ca*1e3:7.1f})  git {wb*1e3:8.1f} ms (cpu {cb*1e3:7.1f})"
          f"  ratio {wa/wb:.2f}x  target <= {target}x", flush=True)

snap = f"'{bin_}' snapshot -C '{ours}'"
a, b = [], []
for _ in range(runs):
    shutil.rmtree(os.path.join(ours, ".dxforge"), ignore_errors=True)
    a.append(run(snap, ours))
    shutil.rmtree(os.path.join(theirs, ".git"), ignore_errors=True)
    run("git init -q", theirs)
    b.append(run("git add -A && git write-tree", theirs))
report("first snapshot (10,000 files)", a, b, 0.3)

time.sleep(1.1)
a, b = [], []
for r in range(runs * 3):
    for root in (ours, theirs):
        for i in range(10):
            with open(os.path.join(root, f"src/mod{i*9:03}/file{(i*4)%100:03}.rs"), "w") as f:
                f.write(f"// round {r} file {i}\n")
    a.append(run(snap, ours))
    b.append(run("git add -A && git write-tree", theirs))
report("incremental (10 changed)", a, b, 0.3)

out = subprocess.run(f"{snap} --json", shell=True, check=True, capture_output=True, text=True).stdout
sid = json.loads(out)["id"]
run("git add -A", theirs)
a, b = [], []
for _ in range(runs):
    delete_tree(ours)
    a.append(run(f"'{bin_}' restore -C '{ours}' {sid}", ours))
    delete_tree(theirs)
    b.append(run("git checkout-index -a -f", theirs))
report("restore (10,000 files)", a, b, 1.0)
print(f"load average after the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
PY
    exit 0
fi

command -v tokei >/dev/null || echo "warning: tokei not on PATH (cargo install tokei); analyze has no peer" >&2

cargo bench -p dxforge-worker --bench enqueue --bench compare 2>&1 \
    | grep -E '^enqueue \(|^interleaved|^tokei not found' || true

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
