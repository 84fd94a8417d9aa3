"""Runs every shared scenario file of tests/scenarios/ through the Python binding.

Same semantics as the Rust runner (core/tests/scenarios.rs): a fresh DxForge on
an empty project per file, tool defaults health_interval_ms=50,
stop_timeout_ms=2000, startup_timeout_ms=10000, free ports for ${PORT1}/${PORT2}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

import dxforge
from conftest import SCENARIO_TOOLS, SCENARIOS

T = TypeVar("T")

SCENARIO_FILES = sorted(SCENARIOS.glob("*.scn"))


@dataclass
class Step:
    line: str
    words: list[str]
    expect: list[str]


def parse(text: str, variables: dict[str, str]) -> list[Step]:
    steps = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for key, value in variables.items():
            line = line.replace("${" + key + "}", value)
        step, _, expect = line.partition("=>")
        steps.append(Step(line, step.split(), expect.split()))
    return steps


def keys(words: list[str]) -> dict[str, str]:
    return dict(w.split("=", 1) for w in words if "=" in w)


def as_list(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def definition(name: str, k: dict[str, str]) -> dxforge.DxToolDefinition:
    d = dxforge.DxToolDefinition(
        name,
        k["bin"],
        args=as_list(k.get("args")),
        dependencies=as_list(k.get("deps")),
        health_interval_ms=50,
        stop_timeout_ms=2000,
        startup_timeout_ms=10_000,
    )
    if "priority" in k:
        d.priority = int(k["priority"])
    if "health_tcp" in k:
        d.health = dxforge.HealthCheck.tcp(k["health_tcp"])
    if "restart" in k:
        d.restart = {"never": "never", "always": "always"}.get(k["restart"], "on-failure")  # type: ignore[assignment]
    if "max_restarts" in k:
        d.max_restarts = int(k["max_restarts"])
    if "startup_timeout_ms" in k:
        d.startup_timeout_ms = int(k["startup_timeout_ms"])
    if "stop_timeout_ms" in k:
        d.stop_timeout_ms = int(k["stop_timeout_ms"])
    return d


def check(step: Step, call: Callable[[], T], on_ok: Callable[[T], None]) -> None:
    """Runs `call` and checks it against the step's expectation."""
    where = f"{step.line!r}"
    if step.expect[:1] == ["error"]:
        with pytest.raises(dxforge.DxForgeError) as info:
            call()
        assert info.value.code == step.expect[1], f"{where}: wrong error {info.value!r}"
        return
    on_ok(call())


def run_file(path: Path, project: Path, reserve_port: Callable[[], int]) -> None:
    variables = {"TOOLS": str(SCENARIO_TOOLS.resolve()), "PORT1": str(reserve_port()), "PORT2": str(reserve_port())}
    pids: dict[str, int | None] = {}
    with dxforge.DxForge(project) as forge:
        for step in parse(path.read_text(), variables):
            op, name, w = step.words[0], step.words[1], step.words

            def expect_status(status: dxforge.ToolStatus, step: Step = step) -> None:
                assert status.value == step.expect[0], f"{step.line!r}: got {status}"
                assert status is getattr(dxforge.ToolStatus, step.expect[0].upper())

            if op == "tool":
                check(step, lambda: forge.register_tool(definition(name, keys(w[2:]))), lambda _: None)
            elif op == "ensure_running":
                check(step, lambda: forge.ensure_running(name), expect_status)
            elif op == "status":
                check(step, lambda: forge.status(name), expect_status)
            elif op == "stop":
                check(step, lambda: forge.stop(name), lambda _: None)
            elif op == "execute":
                args = as_list(keys(w[2:]).get("args"))

                def expect_exec(result: dxforge.ExecResult, step: Step = step) -> None:
                    assert result.exit_code == int(step.expect[1]), f"{step.line!r}: {result!r}"
                    text = keys(step.expect[2:]).get("stdout")
                    if text is not None:
                        assert text in result.stdout.decode(errors="replace"), f"{step.line!r}: {result.stdout!r}"

                check(step, lambda: forge.execute_tool(name, args), expect_exec)
            elif op == "remember_pid":
                pid = forge.state(name).pid
                assert pid is not None, f"{step.line!r}: running tool has no pid"
                pids[name] = pid
            elif op == "same_pid":
                assert forge.state(name).pid == pids.get(name), step.line
            else:
                pytest.fail(f"{path.name}: unknown step {op!r}")


def test_scenario_files_exist() -> None:
    assert len(SCENARIO_FILES) >= 4, SCENARIO_FILES


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_shared_scenario(path: Path, project: Path, reserve_port: Callable[[], int]) -> None:
    run_file(path, project, reserve_port)
