"""Whole-process rows of issue 14's table: the `dxforge` command line against
the peer's command line on the same input, interleaved (one of ours, one of
theirs, repeated), so that load from the rest of the machine hits both.

Only the command is timed; making fresh inputs and cleaning up is not.
Prints one `bench-row {json}` line per row on stdout (read by table.py) and a
readable line per row on stderr.

Usage: python3 scripts/bench/cli.py DXFORGE_BINARY [ROW ...]
Rows: install upgrade merge snapshot_first snapshot_incremental restore
      first_start sync_push (sync_push needs the DXFORGE_TEST_S3_* server).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

DX = ""
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@localhost"}


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in argv], cwd=cwd, env=env, check=True, **QUIET)


def timed(*commands: list[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None) -> int:
    """Runs the commands one after the other; their wall time in ns."""
    start = time.perf_counter_ns()
    for argv in commands:
        subprocess.run([str(a) for a in argv], cwd=cwd, env=env, check=True, **QUIET)
    return time.perf_counter_ns() - start


def emit(row: str, ours: list[int], peer: list[int], **extra: object) -> None:
    print("bench-row " + json.dumps({"row": row, "mode": "cli", "ours_ns": ours, "peer_ns": peer, **extra}),
          flush=True)
    o, p = statistics.median(ours), statistics.median(peer) if peer else 0
    ratio = f", ratio {o / p:.2f}" if p else ""
    print(f"  cli {row}: dxforge median {o / 1e6:.1f} ms, peer median {p / 1e6:.1f} ms{ratio}",
          file=sys.stderr, flush=True)


def interleave(n: int, ours: Callable[[int], int], peer: Callable[[int], int]) -> tuple[list[int], list[int]]:
    a: list[int] = []
    b: list[int] = []
    for i in range(n):
        a.append(ours(i))
        b.append(peer(i))
    return a, b


# ---------------------------------------------------------------- inputs

def big_registry(root: Path) -> Path:
    """`big` 1.0.0 and 2.0.0: 1,000 files, 2.0.0 changes each file's last line
    (the same package as crates/traffic/benches/traffic.rs)."""
    for version, tail in (("1.0.0", "v1"), ("2.0.0", "v2")):
        pkg = root / "big" / version
        (pkg / "files").mkdir(parents=True)
        (pkg / "dxpkg.toml").write_text(f'name = "big"\nversion = "{version}"\n')
        for i in range(1000):
            f = pkg / "files" / "components" / f"group{i % 20}" / f"file{i}.tsx"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("".join(f'export const item{i}_{l} = "{l}";\n' for l in range(40))
                         + f'export const version = "{tail}";\n')
    return root


def project(root: Path, registry: Path | None = None, extra: str = "") -> Path:
    root.mkdir(parents=True)
    text = '[project]\nname = "bench"\n'
    if registry:
        text += f'\n[registry]\npath = "{registry}"\n'
    (root / "dxforge.toml").write_text(text + extra)
    (root / ".gitignore").write_text(".dxforge/\n")
    return root


def source_tree(root: Path) -> Path:
    """10,000 files of 2–6 KiB (about 40 MB) in 100 directories."""
    for d in range(100):
        folder = root / "src" / f"mod{d:03}"
        folder.mkdir(parents=True)
        for f in range(100):
            size = 2048 + (d * 131 + f * 97) % 4096
            line = f"    let value_{d}_{f} = compute({d}, {f}); // <Button>\n"
            (folder / f"file{f:03}.rs").write_text((line * (size // len(line) + 1))[:size])
    return root


def touch_ten(root: Path, round_: int) -> None:
    for i in range(10):
        with open(root / "src" / f"mod{i * 7:03}" / f"file{(round_ * 3 + i) % 100:03}.rs", "a") as f:
            f.write(f"// round {round_}\n")


# ---------------------------------------------------------------- rows

def row_install(scratch: Path, n: int) -> None:
    reg = big_registry(scratch / "reg")
    files = reg / "big" / "1.0.0" / "files"

    def ours(i: int) -> int:
        p = project(scratch / f"i{i}", reg)
        return timed([DX, "-C", p, "add", "big@=1.0.0"])

    def peer(i: int) -> int:
        return timed(["cp", "-r", files, scratch / f"c{i}"])

    emit("install", *interleave(n, ours, peer))


def row_upgrade(scratch: Path, n: int) -> None:
    reg = big_registry(scratch / "reg")
    template = project(scratch / "template", reg)
    run(DX, "-C", template, "add", "big@=1.0.0")
    for i in range(0, 1000, 10):
        f = template / "components" / f"group{i % 20}" / f"file{i}.tsx"
        f.write_text(f.read_text().replace('"0"', '"user edit"', 1))
    times = []
    for i in range(n):
        p = scratch / f"u{i}"
        run("cp", "-a", template, p)
        times.append(timed([DX, "-C", p, "add", "big@^2"]))
    emit("upgrade", times, [], files=1000, edited=100)


def row_merge(scratch: Path, n: int) -> None:
    """`dxforge check` (light + three-way merge against the recorded base) of a
    10,000-line file with 50 user edits against an upstream file with 50 other
    edits, vs `git merge-file -p` of the same three files."""
    def big(edits: dict[int, str]) -> str:
        return "".join(f"    let value_{i} = edited_by_{edits[i]}({i});\n" if i in edits
                       else f"    let value_{i} = compute({i});\n" for i in range(10_000))
    ours_edits = {k * 200 + 10: "user" for k in range(50)}
    theirs_edits = {k * 200 + 110: "upstream" for k in range(50)}
    reg = scratch / "reg"
    pkg = reg / "bigfile" / "1.0.0"
    (pkg / "files").mkdir(parents=True)
    (pkg / "dxpkg.toml").write_text('name = "bigfile"\nversion = "1.0.0"\n')
    (pkg / "files" / "big.rs").write_text(big({}))
    p = project(scratch / "p", reg)
    run(DX, "-C", p, "add", "bigfile@=1.0.0")
    (p / "big.rs").write_text(big(ours_edits))
    (scratch / "theirs.rs").write_text(big(theirs_edits))
    (scratch / "base.rs").write_text(big({}))
    shutil.copy(p / "big.rs", scratch / "ours.rs")
    emit("merge", *interleave(
        n,
        lambda _: timed([DX, "-C", p, "check", "big.rs", "--with", scratch / "theirs.rs"]),
        lambda _: timed(["git", "merge-file", "-p", scratch / "ours.rs", scratch / "base.rs",
                         scratch / "theirs.rs"])))


def git_snapshot() -> list[list[str]]:
    return [["git", "add", "-A"], ["git", "write-tree"]]


def row_snapshot_first(scratch: Path, n: int) -> None:
    ours_tree = project(scratch / "ours")
    source_tree(ours_tree)
    theirs = scratch / "theirs"
    run("cp", "-a", ours_tree, theirs)

    def ours(_: int) -> int:
        shutil.rmtree(ours_tree / ".dxforge", ignore_errors=True)
        return timed([DX, "-C", ours_tree, "snapshot"])

    def peer(_: int) -> int:
        shutil.rmtree(theirs / ".git", ignore_errors=True)
        run("git", "init", "-q", cwd=theirs, env=GIT_ENV)
        return timed(*git_snapshot(), cwd=theirs, env=GIT_ENV)

    emit("snapshot_first", *interleave(n, ours, peer), files=10_000)


def row_snapshot_incremental(scratch: Path, n: int) -> None:
    ours_tree = project(scratch / "ours")
    source_tree(ours_tree)
    theirs = scratch / "theirs"
    run("cp", "-a", ours_tree, theirs)
    run(DX, "-C", ours_tree, "snapshot")
    run("git", "init", "-q", cwd=theirs, env=GIT_ENV)
    timed(*git_snapshot(), cwd=theirs, env=GIT_ENV)

    def ours(i: int) -> int:
        touch_ten(ours_tree, i)
        return timed([DX, "-C", ours_tree, "snapshot"])

    def peer(i: int) -> int:
        touch_ten(theirs, i)
        return timed(*git_snapshot(), cwd=theirs, env=GIT_ENV)

    emit("snapshot_incremental", *interleave(n, ours, peer), files=10_000, changed=10)


def row_restore(scratch: Path, n: int) -> None:
    """Every file missing (src/ removed): `dxforge restore ID` (a safety
    snapshot first, then 10,000 files written) vs `git checkout-index -a -f`."""
    ours_tree = project(scratch / "ours")
    source_tree(ours_tree)
    theirs = scratch / "theirs"
    run("cp", "-a", ours_tree, theirs)
    out = subprocess.run([DX, "-C", str(ours_tree), "--json", "snapshot"], check=True,
                         capture_output=True, text=True).stdout
    snap = json.loads(out)["id"]
    run("git", "init", "-q", cwd=theirs, env=GIT_ENV)
    run("git", "add", "-A", cwd=theirs, env=GIT_ENV)

    def ours(_: int) -> int:
        shutil.rmtree(ours_tree / "src")
        return timed([DX, "-C", ours_tree, "restore", snap])

    def peer(_: int) -> int:
        shutil.rmtree(theirs / "src")
        return timed(["git", "checkout-index", "-a", "-f"], cwd=theirs, env=GIT_ENV)

    emit("restore", *interleave(n, ours, peer), files=10_000)


def row_first_start(scratch: Path, n: int) -> None:
    """`dxforge run` of a tool (process start, config, runtime, spawn, wait)
    vs the tool's binary run directly: what a fresh handle costs a CLI user."""
    p = project(scratch / "p", extra='\n[tools.hello]\nbinary_path = "/bin/true"\n')
    emit("first_start", *interleave(n, lambda _: timed([DX, "-C", p, "run", "hello"]),
                                    lambda _: timed(["/bin/true"])))


def row_sync_push(scratch: Path, n: int) -> None:
    """`dxforge sync push` of 10,000 objects into a fresh prefix vs `aws s3 sync`
    of the same files with one request at a time (the sequential peer)."""
    env = {k: os.environ.get(f"DXFORGE_TEST_S3_{k}") for k in ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET")}
    if None in env.values():
        print("  cli sync_push: skipped (no S3 server)", file=sys.stderr)
        return
    aws = shutil.which("aws")
    tree = scratch / "tree"
    tree.mkdir()
    for d in range(100):
        (tree / "src" / f"mod{d:03}").mkdir(parents=True)
        for f in range(100):
            line = f"export const value_{d}_{f} = compute({d}, {f});\n"
            (tree / "src" / f"mod{d:03}" / f"file{f:03}.ts").write_text(line * 20)
    cfg = scratch / "aws.cfg"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 1\n")
    aws_env = {**os.environ, "AWS_ACCESS_KEY_ID": env["ACCESS_KEY"], "AWS_SECRET_ACCESS_KEY": env["SECRET_KEY"],
               "AWS_CONFIG_FILE": str(cfg)}
    dx_env = {**os.environ, "DXFORGE_S3_ACCESS_KEY_ID": env["ACCESS_KEY"],
              "DXFORGE_S3_SECRET_ACCESS_KEY": env["SECRET_KEY"]}
    stamp = time.time_ns()

    def ours(i: int) -> int:
        p = scratch / f"p{i}"
        run("cp", "-a", tree, p)
        (p / "dxforge.toml").write_text(
            f'[project]\nname = "bench"\n\n[remote]\nendpoint = "{env["ENDPOINT"]}"\n'
            f'bucket = "{env["BUCKET"]}"\nprefix = "bench/cli-{stamp}-{i}/"\n')
        run(DX, "-C", p, "snapshot")
        return timed([DX, "-C", p, "sync", "push"], env=dx_env)

    def peer(i: int) -> int:
        if not aws:
            return 0
        return timed([aws, "s3", "sync", "--only-show-errors", "--endpoint-url", env["ENDPOINT"], tree,
                      f"s3://{env['BUCKET']}/bench/aws-{stamp}-{i}/"], env=aws_env)

    a, b = interleave(n, ours, peer)
    emit("sync_push", a, b if aws else [], objects=10_000, peer_command="aws s3 sync, max_concurrent_requests = 1")


ROWS = {
    "install": (row_install, 15),
    "upgrade": (row_upgrade, 7),
    "merge": (row_merge, 21),
    "snapshot_first": (row_snapshot_first, 7),
    "snapshot_incremental": (row_snapshot_incremental, 21),
    "restore": (row_restore, 7),
    "first_start": (row_first_start, 31),
    "sync_push": (row_sync_push, 2),
}


def main() -> None:
    global DX
    DX = str(Path(sys.argv[1]).resolve())
    rows = sys.argv[2:] or list(ROWS)
    for name in rows:
        fn, n = ROWS[name]
        with tempfile.TemporaryDirectory(prefix=f"dxforge-bench-{name}-") as tmp:
            fn(Path(tmp), n)


if __name__ == "__main__":
    main()
