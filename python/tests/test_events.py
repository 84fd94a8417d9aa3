"""Status-change callbacks: delivered on a non-main thread, unsubscribe, errors."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import dxforge
from conftest import tool
from dxforge import ToolStatus


def wait_for(events: list[Any], count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_events_follow_start_and_stop(forge: dxforge.DxForge, sleeper: Path) -> None:
    events: list[dxforge.ToolEvent] = []
    threads: set[str] = set()

    def on_event(event: dxforge.ToolEvent) -> None:
        threads.add(threading.current_thread().name)
        events.append(event)

    sub = forge.on_status_change(on_event)
    assert isinstance(sub, int)
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    pid = forge.state("sleep").pid
    forge.stop("sleep")
    wait_for(events, 3)
    transitions = [(e.tool, e.old, e.new) for e in events]
    assert transitions[:3] == [
        ("sleep", ToolStatus.STOPPED, ToolStatus.STARTING),
        ("sleep", ToolStatus.STARTING, ToolStatus.RUNNING),
        ("sleep", ToolStatus.RUNNING, ToolStatus.STOPPED),
    ], transitions
    assert events[1].pid == pid
    assert "ToolEvent(tool='sleep'" in repr(events[0])
    assert threading.main_thread().name not in threads


def test_unsubscribe_stops_delivery(forge: dxforge.DxForge, sleeper: Path) -> None:
    kept: list[dxforge.ToolEvent] = []
    dropped: list[dxforge.ToolEvent] = []
    forge.on_status_change(kept.append)
    forge.unsubscribe(forge.on_status_change(dropped.append))
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    forge.stop("sleep")
    wait_for(kept, 3)
    assert len(kept) >= 3 and dropped == []
    forge.unsubscribe(123456)  # unknown ids are ignored


def test_a_raising_callback_is_reported_and_delivery_continues(
    forge: dxforge.DxForge, sleeper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    calls: list[dxforge.ToolEvent] = []

    def bad(event: dxforge.ToolEvent) -> None:
        calls.append(event)
        raise RuntimeError(f"callback failed on {event.new}")

    forge.on_status_change(bad)
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    forge.stop("sleep")
    wait_for(calls, 3)
    wait_for(reported, 3)
    assert len(calls) >= 3, "later events are still delivered"
    assert all(isinstance(r.exc_value, RuntimeError) for r in reported)
    assert len(reported) == len(calls)


def test_callback_must_be_callable(forge: dxforge.DxForge) -> None:
    with pytest.raises(TypeError, match="callable"):
        forge.on_status_change("not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forge.unsubscribe("1")  # type: ignore[arg-type]


def test_close_ends_subscriptions(project: Path, sleeper: Path) -> None:
    events: list[dxforge.ToolEvent] = []
    forge = dxforge.DxForge(project)
    forge.on_status_change(events.append)
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    wait_for(events, 2)
    forge.close()
    time.sleep(0.2)
    count = len(events)
    time.sleep(0.2)
    assert len(events) == count
