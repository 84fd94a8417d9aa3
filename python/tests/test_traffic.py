"""Traffic Branching through Python, on the example registry (examples/registry)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import dxforge
from conftest import REPO
from dxforge import TrafficLight

REGISTRY = REPO / "examples" / "registry"
BUTTON = "components/ui/button.tsx"


def tree(root: Path) -> dict[str, str]:
    """Project files (outside .dxforge/) and their hashes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".dxforge" not in p.relative_to(root).parts
    }


@pytest.fixture
def pkg_project(project: Path) -> Path:
    (project / "dxforge.toml").write_text(f'[project]\nname = "t"\n\n[registry]\npath = "{REGISTRY}"\n')
    return project


@pytest.fixture
def forge(pkg_project: Path) -> Iterator[dxforge.DxForge]:
    with dxforge.DxForge(pkg_project) as handle:
        yield handle


def test_dry_run_plans_and_writes_nothing(forge: dxforge.DxForge, pkg_project: Path) -> None:
    before = tree(pkg_project)
    plan = forge.install_package("button", "^1.2", dry_run=True)
    assert plan["dry_run"] is True
    assert [(p["name"], p["version"]) for p in plan["packages"]] == [("button", "1.3.0"), ("utils", "1.1.0")]
    assert {(f["path"], f["light"], f["action"]) for f in plan["files"]} == {
        ("components/ui/button.css", "green", "create"),
        (BUTTON, "green", "create"),
        ("lib/utils.ts", "green", "create"),
    }
    assert tree(pkg_project) == before


def test_install_writes_files_lock_and_dependency(forge: dxforge.DxForge, pkg_project: Path) -> None:
    report = forge.install_package("button", "=1.0.0")
    assert report["dry_run"] is False and report["manifest_updated"] is True
    assert (pkg_project / BUTTON).exists() and (pkg_project / "lib/utils.ts").exists()
    assert (pkg_project / "dxforge.lock").exists()
    assert 'button = "=1.0.0"' in (pkg_project / "dxforge.toml").read_text()
    assert forge.recover_traffic() == "clean"


def test_conflicting_edit_is_red_and_keeps_the_users_file(forge: dxforge.DxForge, pkg_project: Path) -> None:
    forge.install_package("button", "=1.0.0")
    mine = b"my own button\n"
    (pkg_project / BUTTON).write_bytes(mine)
    upstream = (REGISTRY / "button/1.3.0/files" / BUTTON).read_bytes()
    assert forge.analyze_traffic_safety(BUTTON, upstream) is TrafficLight.RED
    verdict = forge.check(BUTTON, upstream)
    assert verdict["light"] == "red" and verdict["action"] == "write_new" and verdict["conflicts"]
    report = forge.install_package("button", "^1")
    red = [f for f in report["files"] if f["path"] == BUTTON]
    assert red and red[0]["light"] == "red" and red[0]["conflicts"][0]["ours"]["start"] == 1
    assert (pkg_project / BUTTON).read_bytes() == mine
    assert (pkg_project / (BUTTON + ".new")).read_bytes() == upstream


def test_lights_of_new_and_identical_content(forge: dxforge.DxForge, pkg_project: Path) -> None:
    assert forge.analyze_traffic_safety("src/new.ts", b"anything") is TrafficLight.GREEN
    forge.install_package("button", "=1.0.0")
    same = (pkg_project / BUTTON).read_text()
    assert forge.analyze_traffic_safety(BUTTON, same) is TrafficLight.GREEN  # str is taken as UTF-8
    assert forge.analyze_traffic_safety(pkg_project / BUTTON, same.encode()) is TrafficLight.GREEN
    assert TrafficLight.GREEN.value == "green" and str(TrafficLight.RED) == "red"
    assert len({TrafficLight.GREEN, TrafficLight.YELLOW, TrafficLight.RED}) == 3


def test_remove_keeps_modified_files(forge: dxforge.DxForge, pkg_project: Path) -> None:
    forge.install_package("button", "=1.2.0")
    (pkg_project / BUTTON).write_text("edited\n")
    plan = forge.remove_package("button", dry_run=True)
    assert (pkg_project / "components/ui/button.css").exists()
    report = forge.remove_package("button")
    actions = {f["path"]: f["action"] for f in report["files"]}
    assert actions == {BUTTON: "keep", "components/ui/button.css": "delete"}
    assert plan["files"] == report["files"]
    assert (pkg_project / BUTTON).read_text() == "edited\n"
    assert not (pkg_project / "components/ui/button.css").exists()


def test_install_all_dependencies_and_diff(pkg_project: Path) -> None:
    (pkg_project / "dxforge.toml").write_text(
        f'[project]\nname = "t"\n\n[registry]\npath = "{REGISTRY}"\n\n[dependencies]\ncard = "^0.1"\n'
    )
    with dxforge.DxForge(pkg_project) as forge:
        assert forge.diff()["dry_run"] is True
        report = forge.install_all_dependencies()
        assert {p["name"] for p in report["packages"]} == {"card", "utils"}
        assert forge.diff()["files"] == []
        assert forge.update(dry_run=True)["files"] == []


def test_bad_input_changes_nothing(forge: dxforge.DxForge, pkg_project: Path) -> None:
    before = tree(pkg_project)
    with pytest.raises(dxforge.NotFoundError, match="nope"):
        forge.install_package("nope")
    with pytest.raises(dxforge.DependencyError, match=r"\^9"):
        forge.install_package("button", "^9")
    with pytest.raises(dxforge.UnsafePathError, match=r"\.\./outside"):
        forge.check("../outside", b"x")
    with pytest.raises(dxforge.UnsafePathError):
        forge.analyze_traffic_safety("/etc/passwd", b"x")
    with pytest.raises(dxforge.DxForgeError):
        forge.install_package("../evil")
    with pytest.raises(TypeError):
        forge.analyze_traffic_safety(BUTTON, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forge.install_package("button", dry_run="yes")  # type: ignore[arg-type]
    assert tree(pkg_project) == before


def test_no_registry_is_a_clear_error(project: Path) -> None:
    with dxforge.DxForge(project) as forge:
        with pytest.raises(dxforge.DxForgeError, match="registry"):
            forge.install_package("button")
