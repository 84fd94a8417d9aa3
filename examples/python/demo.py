"""dxforge from Python on the demo project (examples/demo).

Starts web (and db, its dependency) and waits until both are healthy, prints
status changes as they happen, runs the one-shot lint tool, shows the last log
lines, then leaves the `with` block, which stops every tool.

Run from anywhere: python examples/python/demo.py
"""

from __future__ import annotations

from pathlib import Path

import dxforge

DEMO = Path(__file__).resolve().parents[1] / "demo"


def main() -> None:
    with dxforge.DxForge(DEMO) as forge:
        print("tools:", ", ".join(forge.tool_names()))
        # Callbacks run on a dxforge thread; collect the events and print them here.
        events: list[dxforge.ToolEvent] = []
        subscription = forge.on_status_change(events.append)

        status = forge.ensure_running("web")  # db starts first; both are health-checked
        forge.unsubscribe(subscription)
        for e in events:
            print(f"  event: {e.tool}: {e.old.value} -> {e.new.value}")
        print("web is", status.value)
        for state in forge.states():
            print(f"  {state.name:<5} {state.status.value:<8} pid={state.pid}")

        lint = forge.execute_tool("lint", ["src"])  # a non-zero exit is a result
        print(f"lint exited with {lint.exit_code} after {lint.duration_ms} ms:")
        print("  " + lint.stdout.decode(errors="replace").strip().replace("\n", "\n  "))

        print("last db log lines:", [line.line for line in forge.logs("db", 3)])
        print(forge.run_pipeline("status").text.rstrip())

        try:
            forge.status("no-such-tool")
        except dxforge.NotFoundError as e:
            print(f"as expected: {type(e).__name__} [{e.code}]: {e}")
    print("closed: every tool stopped")


if __name__ == "__main__":
    main()
