"""The pytest plugin shipped in the wheel: a real pytest run (a subprocess,
through the ``pytest11`` entry point) against a tiny project whose tools are
real processes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import pid_alive


def write_project(root: Path, server_tool: Path, db_port: int, web_port: int) -> None:
    # Both servers listen only after a delay: a fixture that did not wait for
    # readiness would hand the test a port that refuses connections.
    (root / "dxforge.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "plugin-test"

            [tools.db]
            binary_path = "{server_tool}"
            args = ["{db_port}", "0.5"]
            health = {{ tcp = "127.0.0.1:{db_port}" }}
            health_interval_ms = 50
            stop_timeout_ms = 2000

            [tools.web]
            binary_path = "{server_tool}"
            args = ["{web_port}", "0.5"]
            dependencies = ["db"]
            health = {{ tcp = "127.0.0.1:{web_port}" }}
            health_interval_ms = 50
            stop_timeout_ms = 2000
            """
        )
    )


def test_dxforge_tools_starts_ready_tools_and_stops_them_at_session_end(
    pytester: pytest.Pytester, server_tool: Path, reserve_port: Callable[[], int]
) -> None:
    db_port, web_port = reserve_port(), reserve_port()
    write_project(pytester.path, server_tool, db_port, web_port)
    pids = pytester.path / "pids"
    pytester.makepyfile(
        test_inner=f"""
        import socket

        import dxforge

        def test_web_and_its_dependency_are_ready(dxforge_tools):
            forge = dxforge_tools("web")
            assert isinstance(forge, dxforge.DxForge)
            assert forge.status("web") == dxforge.ToolStatus.HEALTHY
            assert forge.status("db") == dxforge.ToolStatus.HEALTHY
            for port in ({db_port}, {web_port}):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            with open({str(pids)!r}, "w") as f:
                f.write(f"{{forge.state('db').pid}} {{forge.state('web').pid}}")

        def test_tools_stay_up_and_the_handle_is_shared(dxforge_tools):
            forge = dxforge_tools()
            assert forge is dxforge_tools("db", "web")
            assert forge.status("web") == dxforge.ToolStatus.HEALTHY
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    db_pid, web_pid = (int(p) for p in pids.read_text().split())
    # The session ended: the fixture's handle stopped both tools.
    assert not pid_alive(db_pid)
    assert not pid_alive(web_pid)


def test_a_tool_that_never_becomes_ready_fails_the_test(pytester: pytest.Pytester, tmp_path: Path) -> None:
    (pytester.path / "dxforge.toml").write_text(
        textwrap.dedent(
            f"""
            [tools.db]
            binary_path = "{tmp_path / "no-such-binary"}"
            restart = "never"
            """
        )
    )
    pytester.makepyfile(test_inner="def test_db(dxforge_tools):\n    dxforge_tools('db')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=0, failed=1)
    result.stdout.fnmatch_lines(["*no-such-binary*"])


def test_a_project_option_without_dxforge_toml_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_inner="def test_db(dxforge_tools):\n    dxforge_tools('db')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--dxforge-project={tmp_path}")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*has no dxforge.toml*"])
