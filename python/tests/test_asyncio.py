"""Awaitable variants on the core's runtime (one runtime per process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import dxforge
from conftest import pid_alive, tool, write_tool
from dxforge import ToolStatus


def test_async_lifecycle(forge: dxforge.DxForge, sleeper: Path) -> None:
    forge.register_tool(tool("sleep", sleeper))

    async def main() -> None:
        assert await forge.ensure_running_async("sleep") is ToolStatus.RUNNING
        pid = forge.state("sleep").pid
        assert pid is not None and pid_alive(pid)
        await forge.stop_async("sleep")
        assert forge.status("sleep") is ToolStatus.STOPPED
        await forge.ensure_all_running_async()
        assert forge.status("sleep") is ToolStatus.RUNNING
        await forge.stop_all_async()
        assert forge.status("sleep") is ToolStatus.STOPPED

    asyncio.run(main())


def test_concurrent_executes_with_gather(forge: dxforge.DxForge) -> None:
    forge.register_tool(dxforge.DxToolDefinition("sh", "/bin/sh"))

    async def main() -> list[dxforge.ExecResult]:
        return await asyncio.gather(*(forge.execute_tool_async("sh", ["-c", f"sleep 0.2; echo {i}; exit {i}"]) for i in range(5)))

    results = asyncio.run(main())
    assert [r.exit_code for r in results] == list(range(5))
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(5)]


def test_the_event_loop_keeps_running_while_awaiting(
    forge: dxforge.DxForge, server_tool: Path, reserve_port: Callable[[], int]
) -> None:
    port = reserve_port()
    forge.register_tool(tool("slow", server_tool, args=[str(port), "0.5"], health=dxforge.HealthCheck.tcp(f"127.0.0.1:{port}")))
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    async def main() -> ToolStatus:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        status = await forge.ensure_running_async("slow")
        stop.set()
        await task
        return status

    assert asyncio.run(main()) is ToolStatus.HEALTHY
    assert ticks >= 10, ticks


def test_async_errors_are_dxforge_errors(forge: dxforge.DxForge) -> None:
    async def main() -> None:
        with pytest.raises(dxforge.NotFoundError, match="nope"):
            await forge.ensure_running_async("nope")
        with pytest.raises(dxforge.NotFoundError):
            await forge.execute_tool_async("nope", [])
        with pytest.raises(dxforge.NotFoundError):
            await forge.stop_async("nope")
        with pytest.raises(dxforge.UsageError):
            await forge.run_pipeline_async("frobnicate")
        with pytest.raises(TypeError):
            await forge.stop_async(5)  # type: ignore[arg-type]

    asyncio.run(main())


def test_async_after_close_raises_closed(project: Path) -> None:
    forge = dxforge.DxForge(project)
    forge.close()

    async def main() -> None:
        with pytest.raises(dxforge.ClosedError):
            await forge.ensure_running_async("x")
        with pytest.raises(dxforge.ClosedError):
            await forge.run_pipeline_async("status")

    asyncio.run(main())


def test_run_pipeline_async(forge: dxforge.DxForge) -> None:
    forge.register_tool(dxforge.DxToolDefinition("sh", "/bin/sh"))

    async def main() -> dxforge.PipelineOutcome:
        return await forge.run_pipeline_async("run sh -- -c 'exit 9'")

    assert asyncio.run(main()).exit_code == 9


def test_cancelling_execute_kills_the_run(forge: dxforge.DxForge, sleeper: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "run.pid"
    forge.register_tool(tool("sleep", sleeper))

    async def main() -> int:
        task = asyncio.ensure_future(forge.execute_tool_async("sleep", [str(pidfile)]))
        for _ in range(500):
            if pidfile.exists():
                break
            await asyncio.sleep(0.01)
        pid = int(pidfile.read_text())
        assert pid_alive(pid)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pid

    pid = asyncio.run(main())
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)


def test_async_methods_need_a_running_loop(forge: dxforge.DxForge) -> None:
    with pytest.raises(RuntimeError):
        forge.ensure_running_async("x")


def test_no_second_runtime_is_created(forge: dxforge.DxForge) -> None:
    """The asyncio bridge runs on the core's runtime: no tokio threads of its own."""
    forge.register_tool(dxforge.DxToolDefinition("true", "/bin/true"))

    async def main() -> None:
        await forge.execute_tool_async("true", [])

    asyncio.run(main())
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except FileNotFoundError:
            continue
    assert any(n.startswith("dxforge-rt") for n in names), names
    assert not any(n.startswith("tokio-runtime") for n in names), names


def test_async_with_stops_even_a_tool_that_ignores_sigterm(project: Path, tmp_path: Path) -> None:
    stubborn = write_tool(
        tmp_path,
        "stubborn",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(3600)\n",
    )

    async def main() -> int | None:
        async with dxforge.DxForge(project) as forge:
            assert isinstance(forge, dxforge.DxForge)
            forge.register_tool(tool("stubborn", stubborn, stop_timeout_ms=500))
            await forge.ensure_running_async("stubborn")
            pid = forge.state("stubborn").pid
            while not forge.logs("stubborn"):  # "up": SIGTERM is ignored from now on
                await asyncio.sleep(0.01)
        assert forge.closed
        return pid

    pid = asyncio.run(main())
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)


def test_close_async_is_idempotent_then_calls_raise_closed(project: Path) -> None:
    forge = dxforge.DxForge(project)

    async def main() -> None:
        await forge.close_async()
        await forge.close_async()  # idempotent, like close()
        with pytest.raises(dxforge.ClosedError):
            await forge.ensure_running_async("x")

    asyncio.run(main())
    assert forge.closed
