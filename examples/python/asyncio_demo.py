"""dxforge with asyncio: tools defined in code, awaited concurrently.

Creates a throwaway project, registers a TCP server (readiness by TCP health
check) and a one-shot tool, starts the server and runs the tool three times
concurrently, all without blocking the event loop.

Run: python examples/python/asyncio_demo.py
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile

import dxforge

SERVER = """
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])), reuse_port=True)
print("listening", flush=True)
while True:
    srv.accept()[0].close()
"""


def reserve_port() -> socket.socket:
    """A loopback port held (bound with SO_REUSEPORT, never listening) while in use.

    Holding it means no other program is given the same port meanwhile; the
    server binds beside it with SO_REUSEPORT and, as the only listener, gets
    every connection.
    """
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    return s


async def main() -> None:
    with reserve_port() as reserved, tempfile.TemporaryDirectory() as root, dxforge.DxForge(root) as forge:
        port: int = reserved.getsockname()[1]
        forge.register_tool(
            dxforge.DxToolDefinition(
                "server",
                sys.executable,
                args=["-c", SERVER, str(port)],
                health=dxforge.HealthCheck.tcp(f"127.0.0.1:{port}"),
                health_interval_ms=50,
            )
        )
        forge.register_tool(dxforge.DxToolDefinition("greet", "/bin/sh", dependencies=["server"]))

        status = await forge.ensure_running_async("server")
        print(f"server is {status.value} (pid {forge.state('server').pid})")

        runs = await asyncio.gather(
            *(forge.execute_tool_async("greet", ["-c", f"echo hello {i}; exit {i}"]) for i in range(3))
        )
        for run in runs:
            print(f"greet -> exit {run.exit_code}: {run.stdout.decode().strip()}")

        await forge.stop_all_async()
        print("server is", forge.status("server").value)


if __name__ == "__main__":
    asyncio.run(main())
