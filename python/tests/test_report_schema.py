"""Every report Python returns matches schema/reports.json, the core's one definition
of report shapes; reports.py is generated from that schema and must be current."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import dxforge
from conftest import REPO
from dxforge import BackgroundTask

SCHEMA = json.loads((REPO / "schema" / "reports.json").read_text())
DEFS: dict[str, Any] = SCHEMA["$defs"]
REGISTRY = REPO / "examples" / "registry"
BUTTON = "components/ui/button.tsx"
TYPES: dict[str, type] = {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Merges a `$ref` with the keywords beside it (a tagged variant adds its tag)."""
    if "$ref" not in schema:
        return schema
    base = resolve(DEFS[schema["$ref"].rsplit("/", 1)[-1]])
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    merged = {**base, **rest}
    merged["properties"] = {**base.get("properties", {}), **rest.get("properties", {})}
    merged["required"] = base.get("required", []) + rest.get("required", [])
    return merged


def errors(value: Any, schema: dict[str, Any], at: str = "$") -> list[str]:
    """Why `value` does not match `schema` (empty when it does): a small validator for
    the keywords the report schema uses."""
    schema = resolve(schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            matches = sum(not errors(value, s, at) for s in schema[key])
            ok = matches == 1 if key == "oneOf" else matches >= 1
            return [] if ok else [f"{at}: {value!r} matches {matches} of the {key} variants"]
    if "const" in schema and value != schema["const"]:
        return [f"{at}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    declared = schema.get("type")
    kinds: list[str] = [declared] if isinstance(declared, str) else declared or []
    if kinds and not any(
        (isinstance(value, int) and not isinstance(value, bool) and value >= schema.get("minimum", value))
        if k == "integer"
        else isinstance(value, TYPES[k])
        for k in kinds
    ):
        return [f"{at}: {value!r} is not {'/'.join(kinds)}"]
    found: list[str] = []
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += errors(item, schema["items"], f"{at}[{i}]")
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        found += [f"{at}: missing {k}" for k in schema.get("required", []) if k not in value]
        found += [f"{at}: unknown field {k}" for k in value if k not in props]
        for k, v in value.items():
            if k in props:
                found += errors(v, props[k], f"{at}.{k}")
    return found


def check(report: Any, name: str) -> Any:
    assert name in SCHEMA["reports"] or name in DEFS
    problems = errors(report, {"$ref": f"#/$defs/{name}"})
    assert not problems, f"{name} does not match schema/reports.json:\n" + "\n".join(problems)
    return report


def test_reports_py_is_generated_from_the_current_schema() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen-reports.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_checker_rejects_what_the_schema_forbids() -> None:
    counters = {"enqueued": 1, "queued": 0, "running": 0, "succeeded": 1, "failed": 0, "dropped": 0}
    assert not errors(counters, {"$ref": "#/$defs/Counters"})
    assert errors({**counters, "extra": 1}, {"$ref": "#/$defs/Counters"})
    assert errors({k: v for k, v in counters.items() if k != "queued"}, {"$ref": "#/$defs/Counters"})
    assert errors({**counters, "queued": "0"}, {"$ref": "#/$defs/Counters"})
    assert errors({"state": "succeeded", "detail": "x"}, {"$ref": "#/$defs/TaskState"})
    assert errors("rolled_sideways", {"$ref": "#/$defs/Recovery"})


@pytest.fixture
def pkg_project(project: Path) -> Path:
    (project / "dxforge.toml").write_text(
        f'[project]\nname = "t"\n\n[registry]\npath = "{REGISTRY}"\n\n[dependencies]\ncard = "^0.1"\n'
    )
    return project


def test_traffic_reports_match_the_schema(pkg_project: Path) -> None:
    """The scenarios of test_traffic.py: plans, installs, a Red conflict, removal, recovery."""
    with dxforge.DxForge(pkg_project) as forge:
        check(forge.install_package("button", "^1.2", dry_run=True), "InstallReport")
        check(forge.install_package("button", "=1.0.0"), "InstallReport")
        check(forge.recover_traffic(), "Recovery")
        (pkg_project / BUTTON).write_bytes(b"my own button\n")
        upstream = (REGISTRY / "button/1.3.0/files" / BUTTON).read_bytes()
        verdict = check(forge.check(BUTTON, upstream), "FileReport")
        assert verdict["conflicts"]
        red = check(forge.install_package("button", "^1"), "InstallReport")
        assert any(f.get("side_file") for f in red["files"])
        check(forge.check("src/new.ts", b"anything"), "FileReport")
        check(forge.remove_package("button", dry_run=True), "RemoveReport")
        check(forge.remove_package("button"), "RemoveReport")
        check(forge.diff(), "InstallReport")
        check(forge.install_all_dependencies(), "InstallReport")
        check(forge.update(dry_run=True), "InstallReport")


@pytest.fixture
def tree(project: Path) -> Path:
    (project / "dxforge.toml").write_text(f'[project]\nname = "w"\n\n[registry]\npath = "{REGISTRY}"\n')
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("print('hello')\n")
    (project / "src" / "page.tsx").write_text("<Button />\n")
    (project / ".gitignore").write_text("build/\n")
    os.mkfifo(project / "src" / "pipe")  # a skipped entry
    return project


def test_worker_reports_match_the_schema(tree: Path) -> None:
    """The scenarios of test_worker.py: queue, snapshots, restore, gc, analysis, prefetch."""
    with dxforge.DxForge(tree) as forge:
        snap = check(forge.snapshot(), "SnapshotSummary")
        assert snap["skipped_entries"]
        for summary in forge.snapshots():
            check(summary, "SnapshotSummary")
        (tree / "src" / "app.py").write_text("changed\n")
        restored = check(forge.restore(snap["id"]), "RestoreReport")
        check(forge.restore(restored["safety_snapshot"]), "RestoreReport")
        check(forge.gc_snapshots(), "GcReport")
        analysis = check(forge.analyze(), "AnalysisReport")
        assert analysis["packages"] is not None
        check(forge.prefetch("card@^0.1"), "PrefetchReport")
        tasks = [
            BackgroundTask.cache_current_state(),
            BackgroundTask.analyze_codebase_patterns(),
            BackgroundTask.prefetch_package("card@^0.1"),
            BackgroundTask.sync_to_cloudflare_r2(),  # fails: no [remote]
        ]
        ids = [forge.enqueue(t) for t in tasks]
        check(forge.task(ids[-1]), "TaskState")
        states = [check(forge.wait(i, 60), "TaskState") for i in ids]
        assert [s["state"] for s in states] == ["succeeded"] * 3 + ["failed"]
        for i in ids:
            check(forge.task(i), "TaskState")

        async def waited() -> Any:
            return await forge.wait_async(forge.enqueue(BackgroundTask.cache_current_state()), 60)

        check(asyncio.run(waited()), "TaskState")
        check(forge.counters(), "Counters")


S3 = {k: os.environ.get(f"DXFORGE_TEST_S3_{k}") for k in ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET")}


@pytest.mark.skipif(not all(S3.values()), reason="no local S3 server (scripts/test-python.sh starts one when s3s-fs is installed)")
def test_sync_reports_match_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scenario of test_worker.py's push/pull round trip."""
    monkeypatch.setenv("DXFORGE_S3_ACCESS_KEY_ID", S3["ACCESS_KEY"] or "")
    monkeypatch.setenv("DXFORGE_S3_SECRET_ACCESS_KEY", S3["SECRET_KEY"] or "")
    remote = (
        f'[project]\nname = "w"\n\n[remote]\nendpoint = "{S3["ENDPOINT"]}"\nbucket = "{S3["BUCKET"]}"\n'
        f'prefix = "python-schema-{os.getpid()}-{tmp_path.name}/"\nregion = "auto"\n'
    )
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
        (root / "dxforge.toml").write_text(remote)
    (a / "data.txt").write_text("sync me\n")
    with dxforge.DxForge(a) as forge:
        snap = forge.snapshot()
        check(forge.push(), "SyncReport")
        state = check(forge.wait(forge.enqueue(BackgroundTask.sync_to_cloudflare_r2()), 60), "TaskState")
        assert state["state"] == "succeeded"
    with dxforge.DxForge(b) as forge:
        pulled = check(forge.pull(snap["id"]), "SyncReport")
        assert pulled["restore"] is not None
