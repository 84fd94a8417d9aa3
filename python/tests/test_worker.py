"""The Shadow Worker through Python: queue, snapshots, restore, analysis, prefetch, sync."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import dxforge
from conftest import REPO
from dxforge import BackgroundTask

REGISTRY = REPO / "examples" / "registry"


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".dxforge" not in p.relative_to(root).parts
    }


def configure(project: Path, extra: str = "") -> None:
    (project / "dxforge.toml").write_text(
        f'[project]\nname = "w"\n\n[registry]\npath = "{REGISTRY}"\n{extra}'
    )


@pytest.fixture
def tree(project: Path) -> Path:
    configure(project)
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("print('hello')\n")
    (project / "src" / "util.ts").write_text("export const x = 1;\n")
    (project / ".gitignore").write_text("build/\n")
    (project / "build").mkdir()
    (project / "build" / "out.bin").write_bytes(b"\x00" * 10)
    return project


def test_background_task_values() -> None:
    tasks = [
        BackgroundTask.cache_current_state(),
        BackgroundTask.sync_to_cloudflare_r2(),
        BackgroundTask.prefetch_package("button@^1"),
        BackgroundTask.analyze_codebase_patterns(),
    ]
    assert [t.kind for t in tasks] == [
        "cache_current_state",
        "sync_to_cloudflare_r2",
        "prefetch_package",
        "analyze_codebase_patterns",
    ]
    assert repr(tasks[2]) == "BackgroundTask.prefetch_package('button@^1')"
    assert tasks[0] == BackgroundTask.cache_current_state() and tasks[0] != tasks[3]


def test_enqueue_wait_and_counters(tree: Path) -> None:
    with dxforge.DxForge(tree) as forge:
        ids = [forge.enqueue(BackgroundTask.cache_current_state()), forge.enqueue(BackgroundTask.analyze_codebase_patterns())]
        assert ids[1] > ids[0]
        snap = forge.wait(ids[0], timeout=60)
        assert snap["state"] == "succeeded"
        assert snap["detail"]["kind"] == "snapshot"
        assert snap["detail"]["files"] == 4  # build/ is git-ignored
        analysis = forge.wait(ids[1], 60)
        assert analysis["state"] == "succeeded" and analysis["detail"]["kind"] == "analysis"
        assert (tree / ".dxforge" / "analysis.json").exists()
        assert forge.task(ids[0]) == snap
        assert forge.task(10_000) is None
        counters = forge.counters()
        assert counters["enqueued"] == 2 and counters["succeeded"] == 2
        assert counters["queued"] == counters["running"] == counters["failed"] == counters["dropped"] == 0


def test_a_failing_task_reports_its_error(tree: Path) -> None:
    with dxforge.DxForge(tree) as forge:
        state = forge.wait(forge.enqueue(BackgroundTask.sync_to_cloudflare_r2()), 60)
        assert state["state"] == "failed" and "remote" in state["detail"]
        assert forge.counters()["failed"] == 1


def test_drop_oldest_when_full_and_every_task_ends(tree: Path) -> None:
    configure(tree, "\n[worker]\nqueue_capacity = 2\nconcurrency = 1\n")
    with dxforge.DxForge(tree) as forge:
        ids = [forge.enqueue(BackgroundTask.cache_current_state()) for _ in range(20)]
        finals = [forge.wait(i, 120)["state"] for i in ids]
        counters = forge.counters()
        assert counters["enqueued"] == 20
        assert finals.count("dropped") == counters["dropped"] > 0
        assert finals.count("succeeded") == counters["succeeded"]
        assert counters["succeeded"] + counters["dropped"] == 20
        assert finals[-1] == "succeeded", "the newest task is never the one dropped"


def test_snapshot_restore_round_trip_and_undo(tree: Path) -> None:
    with dxforge.DxForge(tree) as forge:
        original = files(tree)
        snap = forge.snapshot()
        (tree / "src" / "app.py").write_text("changed\n")
        (tree / "src" / "new.txt").write_text("new\n")
        (tree / "src" / "util.ts").unlink()
        changed = files(tree)
        report = forge.restore(snap["id"])
        assert report["restored"] == snap["id"]
        assert files(tree) == original
        assert [s["id"] for s in forge.snapshots()][:1] == [snap["id"]]
        forge.restore(report["safety_snapshot"])
        assert files(tree) == changed
        gc = forge.gc_snapshots()
        assert gc["removed"] == 0 and gc["kept"] > 0


def test_restore_bad_ids(tree: Path) -> None:
    with dxforge.DxForge(tree) as forge:
        before = files(tree)
        with pytest.raises(dxforge.InvalidArgumentError, match="nope"):
            forge.restore("nope")
        with pytest.raises(dxforge.NotFoundError):
            forge.restore("20200101T000000Z-00000000")
        with pytest.raises(dxforge.NotFoundError):
            forge.wait(424242, 1)
        with pytest.raises(ValueError, match="timeout"):
            forge.wait(1, -1)
        with pytest.raises(TypeError):
            forge.enqueue("cache_current_state")  # type: ignore[arg-type]
        assert files(tree) == before


def test_wait_times_out(tree: Path) -> None:
    configure(tree, "\n[worker]\nconcurrency = 1\n")
    for i in range(300):
        (tree / "src" / f"f{i}.txt").write_text(str(i) * 100)
    with dxforge.DxForge(tree) as forge:
        ids = [forge.enqueue(BackgroundTask.cache_current_state()) for _ in range(5)]
        with pytest.raises(dxforge.TimeoutError) as info:
            forge.wait(ids[-1], timeout=0)
        assert isinstance(info.value, TimeoutError) and info.value.code == "TIMEOUT"


def test_wait_async(tree: Path) -> None:
    with dxforge.DxForge(tree) as forge:

        async def main() -> list[dxforge.reports.TaskState]:
            ids = [forge.enqueue(BackgroundTask.cache_current_state()) for _ in range(3)]
            return list(await asyncio.gather(*(forge.wait_async(i, 60) for i in ids)))

        assert [s["state"] for s in asyncio.run(main())] == ["succeeded"] * 3


def test_analyze_and_prefetch(tree: Path) -> None:
    (tree / "src" / "page.tsx").write_text("<Button />\n")
    with dxforge.DxForge(tree) as forge:
        report = forge.analyze()
        assert {lang["language"] for lang in report["languages"]} >= {"Python", "TypeScript"}
        packages = report["packages"]
        assert packages is not None and "button" in packages["referenced_not_installed"]
        cached = forge.prefetch("card@^0.1")
        assert [(p["name"], p["version"]) for p in cached["packages"]] == [("card", "0.1.0"), ("utils", "1.1.0")]
        state = forge.wait(forge.enqueue(BackgroundTask.prefetch_package("card@^0.1")), 60)
        assert state["state"] == "succeeded"
        assert all(p["already_cached"] for p in state["detail"]["packages"])  # type: ignore[typeddict-item]
        with pytest.raises(dxforge.NotFoundError, match="`nope` not found"):
            forge.prefetch("nope")


def test_push_without_remote_is_a_config_error(tree: Path) -> None:
    with dxforge.DxForge(tree) as forge:
        with pytest.raises(dxforge.ConfigError, match="remote"):
            forge.push()


def test_worker_methods_after_close(tree: Path) -> None:
    forge = dxforge.DxForge(tree)
    forge.close()
    for call in (
        lambda: forge.enqueue(BackgroundTask.cache_current_state()),
        forge.counters,
        forge.snapshot,
        forge.snapshots,
        lambda: forge.install_package("button"),
        lambda: forge.analyze_traffic_safety("x", b""),
    ):
        with pytest.raises(dxforge.ClosedError):
            call()


S3 = {k: os.environ.get(f"DXFORGE_TEST_S3_{k}") for k in ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET")}


@pytest.mark.skipif(not all(S3.values()), reason="no local S3 server (scripts/test-python.sh starts one when s3s-fs is installed)")
def test_push_then_pull_into_another_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DXFORGE_S3_ACCESS_KEY_ID", S3["ACCESS_KEY"] or "")
    monkeypatch.setenv("DXFORGE_S3_SECRET_ACCESS_KEY", S3["SECRET_KEY"] or "")
    remote = (
        f'\n[remote]\nendpoint = "{S3["ENDPOINT"]}"\nbucket = "{S3["BUCKET"]}"\n'
        f'prefix = "python-{os.getpid()}-{tmp_path.name}/"\nregion = "auto"\n'
    )
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    configure(a, remote)
    configure(b, remote)
    (a / "data.txt").write_text("sync me\n")
    with dxforge.DxForge(a) as forge:
        snap = forge.snapshot()
        pushed = forge.push()
        assert pushed["objects_sent"] >= 1 and snap["id"] in pushed["snapshots"]
        again = forge.push()
        assert again["objects_sent"] == 0
    with dxforge.DxForge(b) as forge:

        async def pull() -> dxforge.reports.SyncReport:
            return await forge.pull_async(snap["id"])

        pulled = asyncio.run(pull())
        assert pulled["restore"] is not None
        assert (b / "data.txt").read_text() == "sync me\n"
    monkeypatch.setenv("DXFORGE_S3_SECRET_ACCESS_KEY", "wrong-secret")
    with dxforge.DxForge(a) as forge:
        forge.snapshot()
        (a / "more.txt").write_text("more\n")
        forge.snapshot()
        with pytest.raises(dxforge.RemoteError):
            forge.push()
