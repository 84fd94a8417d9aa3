"""pytest plugin shipped in the wheel (entry point ``pytest11``): the ``dxforge_tools`` fixture.

A test asks for the tools it needs; they start from the project's
``dxforge.toml`` with their dependencies and the fixture returns only when
each is ready (its health check passed), so the test never races the tool::

    def test_api(dxforge_tools):
        forge = dxforge_tools("db", "web")   # a dxforge.DxForge handle
        assert forge.status("web") == dxforge.ToolStatus.HEALTHY

Tools stay up for the rest of the test session (a second call for a running
tool returns at once) and stop when the session ends. The project is the
directory of the nearest ``dxforge.toml`` at or above pytest's root directory,
or the ``dxforge_project`` ini option (relative to the root directory), or
``--dxforge-project DIR`` on the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dxforge._dxforge import DxForge

_CONFIG_FILE = "dxforge.toml"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Registers ``--dxforge-project`` and the ``dxforge_project`` ini option."""
    group = parser.getgroup("dxforge")
    group.addoption(
        "--dxforge-project",
        dest="dxforge_project",
        default=None,
        help="directory holding the dxforge.toml whose tools dxforge_tools starts",
    )
    parser.addini(
        "dxforge_project",
        "directory (relative to the root directory) holding the dxforge.toml for dxforge_tools",
        default="",
    )


def _project_root(config: pytest.Config) -> Path:
    """The configured project, else the nearest dxforge.toml at or above the root directory."""
    option = config.getoption("dxforge_project")
    if option:
        return _checked(Path(option).resolve(), "--dxforge-project")
    ini = str(config.getini("dxforge_project"))
    if ini:
        return _checked((config.rootpath / ini).resolve(), "dxforge_project (ini option)")
    for directory in (config.rootpath, *config.rootpath.parents):
        if (directory / _CONFIG_FILE).is_file():
            return directory
    raise pytest.UsageError(
        f"dxforge_tools: no {_CONFIG_FILE} in {config.rootpath} or any parent directory; "
        "set the dxforge_project ini option or pass --dxforge-project DIR"
    )


def _checked(directory: Path, source: str) -> Path:
    if not (directory / _CONFIG_FILE).is_file():
        raise pytest.UsageError(f"dxforge_tools: {source} names {directory}, which has no {_CONFIG_FILE}")
    return directory


@pytest.fixture(scope="session")
def dxforge_tools(pytestconfig: pytest.Config) -> Iterator[Callable[..., DxForge]]:
    """Starts tools of the project's dxforge.toml, readiness-gated; returns the handle.

    ``dxforge_tools("db", "web")`` starts each tool (and its dependencies) and
    waits until it is ready; a tool that fails to start raises the handle's
    error and fails the test. One handle serves the whole session; it stops
    every tool it started when the session ends.
    """
    handle: DxForge | None = None

    def start(*tools: str) -> DxForge:
        nonlocal handle
        if handle is None:
            # Opened on first use, so a session that never asks for tools
            # never needs a dxforge.toml.
            handle = DxForge(_project_root(pytestconfig))
        for name in tools:
            handle.ensure_running(name)
        return handle

    try:
        yield start
    finally:
        if handle is not None and not handle.closed:
            handle.close()
