"""Fork safety: a child made by os.fork() either works or gets a clear error, never hangs.

Each case runs in a fresh interpreter (so which runtime and bridge exist
before the fork is controlled), forks there, and reports what the child saw.
A hang shows up as a subprocess timeout, which fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import asyncio, json, os, sys, tempfile, time
import dxforge

def in_child(body):
    # Runs body() in a forked child; returns what it returned (as JSON) or the
    # exception type and message. The child always ends with os._exit.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = {"ok": body()}
        except BaseException as e:
            out = {"error": type(e).__name__, "code": getattr(e, "code", None), "message": str(e)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    return json.loads(data)

def project():
    return tempfile.mkdtemp(prefix="dxforge-fork-")
"""


def run(script: str, timeout: float = 60) -> str:
    code = PRELUDE + textwrap.dedent(script)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_fresh_handle_in_the_child_works(sleeper: Path) -> None:
    out = run(
        f"""
        parent = dxforge.DxForge(project())
        parent.register_tool(dxforge.DxToolDefinition("echo", "/bin/echo"))
        parent.execute_tool("echo", ["warm up the runtime before fork"])

        def child():
            with dxforge.DxForge(project()) as f:
                f.register_tool(dxforge.DxToolDefinition("echo", "/bin/echo"))
                f.register_tool(dxforge.DxToolDefinition("sleep", {str(sleeper)!r}, stop_timeout_ms=2000))
                started = f.ensure_running("sleep").value
                f.stop("sleep")
                return [f.execute_tool("echo", ["from child"]).stdout.decode(), started, f.status("sleep").value]

        print(json.dumps(in_child(child)))
        parent.close()
        """
    )
    assert '{"ok": ["from child\\n", "running", "stopped"]}' in out


def test_the_parents_handle_raises_forked_in_the_child(sleeper: Path) -> None:
    out = run(
        f"""
        parent = dxforge.DxForge(project())
        parent.register_tool(dxforge.DxToolDefinition("sleep", {str(sleeper)!r}, stop_timeout_ms=2000))
        parent.ensure_running("sleep")
        pid = parent.state("sleep").pid

        print(json.dumps(in_child(lambda: parent.status("sleep"))))
        print(json.dumps(in_child(lambda: parent.close())))
        print(json.dumps(in_child(lambda: parent.execute_tool("sleep"))))
        # The child's exit (and its copy of the handle) did not stop the parent's tool.
        print(json.dumps({{"parent": parent.status("sleep").value, "same_pid": parent.state("sleep").pid == pid}}))
        parent.close()
        """
    )
    lines = out.splitlines()
    for line in lines[:3]:
        assert '"error": "ForkedError"' in line and '"code": "FORKED"' in line, line
        assert "fork" in line
    assert lines[3] == '{"parent": "running", "same_pid": true}'


def test_async_in_a_child_after_the_parent_used_async_raises_instead_of_hanging() -> None:
    out = run(
        """
        parent = dxforge.DxForge(project())
        parent.register_tool(dxforge.DxToolDefinition("true", "/bin/true"))
        async def run_true(f):
            return await f.execute_tool_async("true", [])

        asyncio.run(run_true(parent))   # the bridge is now bound to the parent's runtime

        def child():
            f = dxforge.DxForge(project())
            f.register_tool(dxforge.DxToolDefinition("true", "/bin/true"))
            sync_ok = f.execute_tool("true").exit_code
            try:
                asyncio.run(run_true(f))
            except dxforge.ForkedError as e:
                return [sync_ok, "ForkedError", str(e)]
            return [sync_ok, "no error"]

        print(json.dumps(in_child(child)))
        parent.close()
        """
    )
    assert '"ok": [0, "ForkedError", "the asyncio bridge' in out, out


def test_async_in_a_child_works_when_the_parent_never_used_it() -> None:
    out = run(
        """
        parent = dxforge.DxForge(project())
        parent.register_tool(dxforge.DxToolDefinition("true", "/bin/true"))
        parent.execute_tool("true")   # the core runtime exists, the bridge does not yet

        def child():
            with dxforge.DxForge(project()) as f:
                f.register_tool(dxforge.DxToolDefinition("echo", "/bin/echo"))
                async def main():
                    return await f.execute_tool_async("echo", ["async child"])
                return asyncio.run(main()).stdout.decode()

        print(json.dumps(in_child(child)))
        parent.close()
        """
    )
    assert '{"ok": "async child\\n"}' in out, out


def test_fork_before_any_use_works_in_both() -> None:
    out = run(
        """
        def use():
            with dxforge.DxForge(project()) as f:
                f.register_tool(dxforge.DxToolDefinition("echo", "/bin/echo"))
                return f.execute_tool("echo", [str(os.getpid())]).stdout.decode().strip() == str(os.getpid())

        print(json.dumps(in_child(use)), use())
        """
    )
    assert out.strip() == '{"ok": true} True'


def test_multiprocessing_fork_pool_gets_clear_errors_not_hangs() -> None:
    out = run(
        """
        import multiprocessing as mp
        parent = dxforge.DxForge(project())

        def work(_):
            try:
                parent.tool_names()
                return "no error"
            except dxforge.ForkedError:
                return "ForkedError"

        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map(work, range(4)))
        parent.close()
        """
    )
    assert out.strip() == "['ForkedError', 'ForkedError', 'ForkedError', 'ForkedError']"
