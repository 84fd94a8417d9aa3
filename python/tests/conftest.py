"""Shared fixtures: a fresh project directory and handle per test, real tools."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import dxforge

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"
SCENARIO_TOOLS = SCENARIOS / "tools"


@pytest.fixture
def reserve_port() -> Iterator[Callable[[], int]]:
    """Hands out loopback ports without a bind-drop-rebind race.

    Each port stays bound (SO_REUSEPORT, never listening) until the test ends,
    so no other test is given it; the tool binds beside it with SO_REUSEPORT
    and, being the only listener, receives every connection.
    """
    held: list[socket.socket] = []

    def reserve() -> int:
        s = socket.socket()
        held.append(s)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port

    yield reserve
    for s in held:
        s.close()


def pid_alive(pid: int | None) -> bool:
    """True while `pid` exists and is not a zombie."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def write_tool(directory: Path, name: str, source: str) -> Path:
    """Writes an executable Python script (a real tool for the orchestrator)."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(source))
    path.chmod(0o755)
    return path


def tool(name: str, binary: str | os.PathLike[str], **fields: object) -> dxforge.DxToolDefinition:
    """A definition with the scenario runner's quick timings unless overridden."""
    defaults: dict[str, object] = {"health_interval_ms": 50, "stop_timeout_ms": 2000, "startup_timeout_ms": 10_000}
    defaults.update(fields)
    return dxforge.DxToolDefinition(name, str(binary), **defaults)  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def forge(project: Path) -> Iterator[dxforge.DxForge]:
    handle = dxforge.DxForge(project)
    yield handle
    if not handle.closed:
        handle.close()


@pytest.fixture
def server_tool(tmp_path: Path) -> Path:
    """A TCP server: `server PORT [DELAY_S]` listens after DELAY_S until SIGTERM."""
    return write_tool(
        tmp_path,
        "server",
        """
        import signal, socket, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        port = int(sys.argv[1])
        time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen()
        print(f"listening on {port}", flush=True)
        while True:
            srv.accept()[0].close()
        """,
    )


@pytest.fixture
def sleeper(tmp_path: Path) -> Path:
    """`sleeper PIDFILE`: writes its pid, prints a line, sleeps until killed."""
    return write_tool(
        tmp_path,
        "sleeper",
        """
        import os, sys, time
        if len(sys.argv) > 1:
            with open(sys.argv[1] + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        print("sleeping", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        time.sleep(3600)
        """,
    )
