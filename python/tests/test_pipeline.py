"""run_pipeline: the command line's commands as one call."""

from __future__ import annotations

from pathlib import Path

import pytest

import dxforge
from conftest import tool


def test_status_text_and_json(forge: dxforge.DxForge, sleeper: Path) -> None:
    forge.register_tool(tool("sleep", sleeper))
    forge.ensure_running("sleep")
    out = forge.run_pipeline("status")
    assert out.exit_code == 0
    assert "sleep" in out.text and "running" in out.text
    assert isinstance(out.json, (dict, list))
    assert "sleep" in repr(out.json)
    assert "PipelineOutcome(exit_code=0" in repr(out)


def test_run_returns_the_tools_exit_code(forge: dxforge.DxForge) -> None:
    forge.register_tool(dxforge.DxToolDefinition("sh", "/bin/sh"))
    out = forge.run_pipeline("run sh -- -c 'echo hi; exit 5'")
    assert out.exit_code == 5
    assert "hi" in out.text


def test_up_starts_and_stop_stops(forge: dxforge.DxForge, sleeper: Path) -> None:
    forge.register_tool(tool("sleep", sleeper))
    assert forge.run_pipeline("up").exit_code == 0
    assert forge.status("sleep") is dxforge.ToolStatus.RUNNING
    assert forge.run_pipeline("stop sleep").exit_code == 0
    assert forge.status("sleep") is dxforge.ToolStatus.STOPPED


def test_malformed_commands_are_usage_errors(forge: dxforge.DxForge) -> None:
    with pytest.raises(dxforge.UsageError, match="frobnicate") as info:
        forge.run_pipeline("frobnicate")
    assert info.value.code == "USAGE"
    with pytest.raises(dxforge.UsageError):
        forge.run_pipeline("'unclosed")
    with pytest.raises(dxforge.NotFoundError):
        forge.run_pipeline("logs nope")
    with pytest.raises(TypeError):
        forge.run_pipeline(["status"])  # type: ignore[arg-type]


def test_init_writes_a_config(forge: dxforge.DxForge, project: Path) -> None:
    out = forge.run_pipeline("init --name demo")
    assert out.exit_code == 0
    assert (project / "dxforge.toml").exists()
