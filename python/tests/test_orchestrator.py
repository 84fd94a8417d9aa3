"""The orchestrator through Python: real processes started, queried, stopped."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import dxforge
from conftest import pid_alive, tool, write_tool
from dxforge import ToolStatus


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_ensure_running_starts_a_real_process_and_stop_ends_it(forge: dxforge.DxForge, sleeper: Path) -> None:
    forge.register_tool(tool("sleep", sleeper, args=[]))
    assert forge.status("sleep") is ToolStatus.STOPPED
    assert forge.ensure_running("sleep") is ToolStatus.RUNNING
    state = forge.state("sleep")
    assert state.status is ToolStatus.RUNNING and state.name == "sleep"
    assert state.pid is not None and pid_alive(state.pid)
    assert forge.ensure_running("sleep") is ToolStatus.RUNNING
    assert forge.state("sleep").pid == state.pid, "a running tool is left alone"
    forge.stop("sleep")
    assert forge.status("sleep") is ToolStatus.STOPPED
    assert forge.state("sleep").pid is None
    assert wait_until(lambda: not pid_alive(state.pid))


def test_dependencies_start_first_and_health_checks_gate_readiness(
    forge: dxforge.DxForge, server_tool: Path, reserve_port: Callable[[], int]
) -> None:
    p1, p2 = reserve_port(), reserve_port()
    forge.register_tool(tool("db", server_tool, args=[str(p1), "0.3"], health=dxforge.HealthCheck.tcp(f"127.0.0.1:{p1}")))
    forge.register_tool(
        tool("web", server_tool, args=[str(p2)], dependencies=["db"], health=dxforge.HealthCheck.tcp(f"127.0.0.1:{p2}"))
    )
    assert forge.ensure_running("web") is ToolStatus.HEALTHY
    assert forge.status("db") is ToolStatus.HEALTHY
    states = forge.states()
    assert [s.name for s in states] == ["db", "web"]
    assert all(s.status is ToolStatus.HEALTHY and s.pid is not None for s in states)
    forge.stop("db")  # dependents first
    assert [forge.status(n) for n in ("db", "web")] == [ToolStatus.STOPPED, ToolStatus.STOPPED]


def test_ensure_all_running_and_stop_all(forge: dxforge.DxForge, sleeper: Path) -> None:
    for name in ("a", "b", "c"):
        forge.register_tool(tool(name, sleeper))
    forge.ensure_all_running()
    pids = [forge.state(n).pid for n in ("a", "b", "c")]
    assert all(p is not None and pid_alive(p) for p in pids)
    forge.stop_all()
    assert all(forge.status(n) is ToolStatus.STOPPED for n in ("a", "b", "c"))
    assert wait_until(lambda: not any(pid_alive(p) for p in pids if p is not None))


def test_execute_tool_returns_bytes_exit_code_and_duration(forge: dxforge.DxForge, tmp_path: Path) -> None:
    script = write_tool(
        tmp_path,
        "emit",
        """
        import sys
        sys.stdout.buffer.write(b"out\\xff\\x00" + " ".join(sys.argv[1:]).encode())
        sys.stderr.buffer.write(b"err")
        sys.exit(int(sys.argv[1]))
        """,
    )
    forge.register_tool(tool("emit", script))
    result = forge.execute_tool("emit", ["7", "ü"])
    assert result.exit_code == 7 and result.signal is None
    assert result.stdout == b"out\xff\x007 \xc3\xbc"
    assert result.stderr == b"err"
    assert isinstance(result.duration_ms, int) and result.duration == pytest.approx(result.duration_ms / 1000)
    assert forge.execute_tool("emit", args=["0"]).exit_code == 0
    assert "exit_code=7" in repr(result)


def test_execute_tool_killed_by_a_signal(forge: dxforge.DxForge, tmp_path: Path) -> None:
    script = write_tool(tmp_path, "die", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    forge.register_tool(tool("die", script))
    result = forge.execute_tool("die")
    assert result.exit_code is None and result.signal == signal.SIGKILL


def test_logs_capture_both_streams(forge: dxforge.DxForge, sleeper: Path) -> None:
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    assert wait_until(lambda: len(forge.logs("sleep")) >= 2)
    lines = forge.logs("sleep", 10)
    assert {(line.stream, line.line) for line in lines} == {("stdout", "sleeping"), ("stderr", "to stderr")}
    assert len(forge.logs("sleep", 1)) == 1
    assert "LogLine(stream=" in repr(lines[0])


def test_a_crashing_tool_is_degraded_with_its_last_exit(forge: dxforge.DxForge, tmp_path: Path) -> None:
    crash = write_tool(tmp_path, "crash", "import sys, time\ntime.sleep(0.1)\nsys.exit(4)\n")
    forge.register_tool(tool("crash", crash, restart="never"))
    forge.ensure_running("crash")
    assert wait_until(lambda: forge.status("crash") is ToolStatus.DEGRADED)
    state = forge.state("crash")
    assert state.last_exit_code == 4 and state.last_exit_signal is None
    assert state.last_error is not None and "4" in state.last_error


def test_unknown_tools_raise_not_found_naming_the_tool(forge: dxforge.DxForge) -> None:
    for call in (
        lambda: forge.status("nope"),
        lambda: forge.state("nope"),
        lambda: forge.tool("nope"),
        lambda: forge.logs("nope"),
        lambda: forge.ensure_running("nope"),
        lambda: forge.execute_tool("nope"),
        lambda: forge.stop("nope"),
    ):
        with pytest.raises(dxforge.NotFoundError, match="nope") as info:
            call()
        assert isinstance(info.value, LookupError)
        assert info.value.code == "NOT_FOUND" and info.value.kind is dxforge.ErrorKind.NOT_FOUND


def test_a_binary_that_cannot_start_is_tool_failed(forge: dxforge.DxForge) -> None:
    forge.register_tool(tool("ghost", "/nonexistent/dxforge-ghost", restart="never"))
    with pytest.raises(dxforge.ToolFailedError, match="ghost"):
        forge.ensure_running("ghost")
    assert forge.status("ghost") is ToolStatus.DEGRADED


def test_wrong_argument_types_raise_type_error(forge: dxforge.DxForge) -> None:
    with pytest.raises(TypeError):
        forge.status(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forge.execute_tool("x", "not-a-list")  # a str is a Sequence[str] to mypy, not to dxforge
    with pytest.raises(TypeError):
        forge.logs("x", "ten")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forge.ensure_running(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dxforge.DxForge(42)  # type: ignore[arg-type]


def test_every_method_raises_closed_error_after_close(project: Path) -> None:
    forge = dxforge.DxForge(project)
    forge.register_tool(dxforge.DxToolDefinition("t", "/bin/true"))
    forge.close()
    assert forge.closed
    forge.close()  # idempotent
    calls: list[Callable[[], object]] = [
        lambda: forge.register_tool(dxforge.DxToolDefinition("u", "/bin/true")),
        lambda: forge.tool("t"),
        lambda: forge.tool_names(),
        lambda: forge.status("t"),
        lambda: forge.state("t"),
        lambda: forge.states(),
        lambda: forge.logs("t"),
        lambda: forge.ensure_running("t"),
        lambda: forge.ensure_all_running(),
        lambda: forge.execute_tool("t"),
        lambda: forge.stop("t"),
        lambda: forge.stop_all(),
        lambda: forge.on_status_change(print),
        lambda: forge.unsubscribe(1),
        lambda: forge.run_pipeline("status"),
        lambda: forge.watch(),
        lambda: forge.unwatch(),
    ]
    for call in calls:
        with pytest.raises(dxforge.ClosedError, match="closed"):
            call()
    assert "closed" in repr(forge)


def test_context_manager_stops_its_tools(project: Path, sleeper: Path) -> None:
    with dxforge.DxForge(project) as forge:
        assert isinstance(forge, dxforge.DxForge)
        forge.register_tool(tool("sleep", sleeper))
        forge.ensure_running("sleep")
        pid = forge.state("sleep").pid
        assert pid is not None and pid_alive(pid)
    assert forge.closed
    assert wait_until(lambda: not pid_alive(pid))


def test_context_manager_stops_tools_when_the_block_raises(project: Path, sleeper: Path) -> None:
    pid = None
    with pytest.raises(KeyError):
        with dxforge.DxForge(project) as forge:
            forge.register_tool(tool("sleep", sleeper))
            forge.ensure_running("sleep")
            pid = forge.state("sleep").pid
            raise KeyError("boom")
    assert pid is not None
    dead = pid
    assert wait_until(lambda: not pid_alive(dead))


def test_dropping_the_last_reference_stops_its_tools(project: Path, sleeper: Path) -> None:
    forge = dxforge.DxForge(project)
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    pid = forge.state("sleep").pid
    assert pid is not None
    del forge
    gc.collect()
    assert wait_until(lambda: not pid_alive(pid))


def test_blocking_calls_release_the_gil(
    forge: dxforge.DxForge, server_tool: Path, reserve_port: Callable[[], int]
) -> None:
    """While ensure_running waits (~0.5 s for the server), another Python thread keeps running."""
    port = reserve_port()
    forge.register_tool(tool("slow", server_tool, args=[str(port), "0.5"], health=dxforge.HealthCheck.tcp(f"127.0.0.1:{port}")))
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    thread = threading.Thread(target=ticker)
    thread.start()
    assert wait_until(lambda: ticks)  # the ticker runs before the call starts
    started = time.monotonic()
    forge.ensure_running("slow")
    ended = time.monotonic()
    stop.set()
    thread.join()
    during = [t for t in ticks if started < t < ended]
    # With the GIL held for the whole call the thread could not tick at all.
    assert len(during) >= 10, (len(during), ended - started)


def test_root_and_opening_the_current_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with dxforge.DxForge(str(project)) as a:
        assert a.root == project.resolve()
        assert repr(a).startswith("<DxForge root=")
    monkeypatch.chdir(project)
    with dxforge.DxForge() as b:
        assert b.root == project.resolve()


def test_dxforge_toml_tools_are_registered(project: Path) -> None:
    (project / "dxforge.toml").write_text(
        '[project]\nname = "p"\n\n[tools.hello]\nbinary_path = "/bin/echo"\nargs = ["hi"]\nrestart = "never"\n'
    )
    with dxforge.DxForge(project) as forge:
        assert forge.tool_names() == ["hello"]
        d = forge.tool("hello")
        assert (d.binary_path, d.args, d.restart) == ("/bin/echo", ["hi"], dxforge.RestartPolicy.NEVER)
        assert forge.execute_tool("hello", ["there"]).stdout == b"there\n"


def test_watch_restarts_a_tool_when_a_watched_file_changes(forge: dxforge.DxForge, sleeper: Path, project: Path) -> None:
    (project / "src").mkdir()
    forge.register_tool(tool("sleep", sleeper, watch=["src/**/*.txt"]))
    forge.ensure_running("sleep")
    first = forge.state("sleep").pid
    forge.watch(50)  # returns once the project is watched: no wait needed
    (project / "src" / "a.txt").write_text("change")
    assert wait_until(lambda: forge.state("sleep").pid not in (None, first))
    forge.unwatch()


def test_handles_are_independent(tmp_path: Path, sleeper: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with dxforge.DxForge(tmp_path / "one") as one, dxforge.DxForge(tmp_path / "two") as two:
        one.register_tool(tool("s", sleeper))
        two.register_tool(tool("s", sleeper))
        one.ensure_running("s")
        assert two.status("s") is ToolStatus.STOPPED
        pid = one.state("s").pid
        two.close()
        assert pid is not None and pid_alive(pid) and one.status("s") is ToolStatus.RUNNING


def test_many_threads_can_share_one_handle(forge: dxforge.DxForge) -> None:
    forge.register_tool(dxforge.DxToolDefinition("echo", "/bin/echo"))
    results: list[bytes] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results.append(forge.execute_tool("echo", [str(i)]).stdout)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == sorted(f"{i}\n".encode() for i in range(8))


def test_pid_of_running_tool_is_its_real_process(forge: dxforge.DxForge, sleeper: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    forge.register_tool(tool("sleep", sleeper, args=[str(pidfile)]))
    forge.ensure_running("sleep")
    assert wait_until(pidfile.exists)
    assert forge.state("sleep").pid == int(pidfile.read_text())
    os.kill(int(pidfile.read_text()), 0)


def test_interpreter_exit_without_close_neither_hangs_nor_leaks_tools(tmp_path: Path, sleeper: Path) -> None:
    import subprocess
    import sys

    script = f"""
import dxforge
forge = dxforge.DxForge({str(tmp_path)!r})
forge.register_tool(dxforge.DxToolDefinition("s", {str(sleeper)!r}, stop_timeout_ms=1000))
forge.on_status_change(lambda e: None)
forge.ensure_running("s")
print(forge.state("s").pid, flush=True)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    pid = int(proc.stdout.strip())
    assert wait_until(lambda: not pid_alive(pid))
