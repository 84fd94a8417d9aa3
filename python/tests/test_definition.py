"""DxToolDefinition, HealthCheck, RestartPolicy: construction, fields, equality, repr, types."""

from __future__ import annotations

from pathlib import Path

import pytest

import dxforge
from dxforge import DxToolDefinition, HealthCheck, RestartPolicy


def full_definition() -> DxToolDefinition:
    return DxToolDefinition(
        "web",
        "./bin/web",
        args=["--port", "8080"],
        priority=3,
        dependencies=["db"],
        dependency_conditions={"db": "started"},
        cwd="srv",
        env_file=".env.web",
        env={"MODE": "dev", "Ü": "ä"},
        health=HealthCheck.http("http://127.0.0.1:8080/health"),
        health_interval_ms=100,
        startup_timeout_ms=2000,
        restart=RestartPolicy.ALWAYS,
        max_restarts=2,
        stop_signal="SIGINT",
        stop_timeout_ms=700,
        watch=["src/**/*.py"],
    )


def test_defaults_match_the_core() -> None:
    d = DxToolDefinition("lint", "lint")
    assert (d.name, d.binary_path, d.args, d.priority, d.dependencies) == ("lint", "lint", [], 0, [])
    assert (d.cwd, d.env, d.health, d.watch) == (None, {}, None, [])
    assert (d.health_interval_ms, d.startup_timeout_ms, d.max_restarts) == (500, 30_000, 5)
    assert (d.restart, d.stop_signal, d.stop_timeout_ms) == (RestartPolicy.ON_FAILURE, "SIGTERM", 5000)


def test_stub_defaults_are_the_cores() -> None:
    """The ``.pyi`` repeats the core's defaults for type checkers; they must not drift."""
    import ast

    stub = Path(dxforge.__file__).with_name("_dxforge.pyi")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DxToolDefinition")
    new = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__new__")
    defaults = dict(zip((a.arg for a in new.args.kwonlyargs), new.args.kw_defaults, strict=True))
    core = DxToolDefinition("t", "t")
    checked = []
    for field, node in defaults.items():
        assert node is not None, f"{field} has no default in the stub"
        value = ast.literal_eval(node)
        if value is Ellipsis:
            assert not getattr(core, field), f"{field}: the stub says ..., the core has {getattr(core, field)!r}"
        elif value is None and field == "restart":
            assert core.restart is RestartPolicy.ON_FAILURE or core.restart == RestartPolicy.ON_FAILURE
        else:
            assert getattr(core, field) == value, f"{field}: stub {value!r}, core {getattr(core, field)!r}"
        checked.append(field)
    assert len(checked) == 15, checked


def test_every_field_is_kept_through_registration(forge: dxforge.DxForge) -> None:
    forge.register_tool(DxToolDefinition("db", "db"))
    d = full_definition()
    forge.register_tool(d)
    back = forge.tool("web")
    assert back == d
    assert back is not d
    assert back.cwd == Path("srv")
    assert back.dependency_conditions == {"db": "started"}
    assert back.env_file == ".env.web"
    assert back.env == {"MODE": "dev", "Ü": "ä"}
    assert back.health == HealthCheck.http("http://127.0.0.1:8080/health")
    assert back.restart is RestartPolicy.ALWAYS or back.restart == RestartPolicy.ALWAYS
    assert forge.tool_names() == ["db", "web"]


def test_fields_are_assignable_and_equality_follows_them() -> None:
    a, b = full_definition(), full_definition()
    assert a == b
    b.args = ["--port", "9090"]
    assert a != b
    b.args = a.args
    b.restart = "never"
    assert b.restart == RestartPolicy.NEVER and a != b
    b.restart = RestartPolicy.ALWAYS
    assert a == b
    b.env = {}
    b.cwd = None
    b.health = None
    assert (b.env, b.cwd, b.health) == ({}, None, None)
    assert a != b
    assert a != "web"


def test_repr_names_every_field_and_evaluates_back() -> None:
    d = full_definition()
    text = repr(d)
    for field in (
        "name", "binary_path", "args", "priority", "dependencies", "cwd", "env", "health",
        "health_interval_ms", "startup_timeout_ms", "restart", "max_restarts", "stop_signal",
        "stop_timeout_ms", "watch",
    ):  # fmt: skip
        assert f"{field}=" in text
    namespace = {"DxToolDefinition": DxToolDefinition, "HealthCheck": HealthCheck, "RestartPolicy": RestartPolicy}
    positional = text.replace("DxToolDefinition(name='web', binary_path='./bin/web', ", "DxToolDefinition('web', './bin/web', ")
    assert eval(positional, namespace) == d


def test_health_checks() -> None:
    tcp = HealthCheck.tcp("127.0.0.1:5432")
    assert (tcp.kind, tcp.target) == ("tcp", "127.0.0.1:5432")
    http = HealthCheck.http("http://x/health")
    assert (http.kind, http.target) == ("http", "http://x/health")
    cmd = HealthCheck.command(["pg_isready", "-q"])
    assert (cmd.kind, cmd.target) == ("command", ["pg_isready", "-q"])
    assert tcp == HealthCheck.tcp("127.0.0.1:5432") and tcp != http
    assert repr(cmd) == "HealthCheck.command(['pg_isready', '-q'])"
    assert eval(repr(cmd), {"HealthCheck": HealthCheck}) == cmd


def test_enums_have_values_and_are_hashable() -> None:
    assert [p.value for p in (RestartPolicy.NEVER, RestartPolicy.ON_FAILURE, RestartPolicy.ALWAYS)] == [
        "never",
        "on-failure",
        "always",
    ]
    statuses = [dxforge.ToolStatus.STOPPED, dxforge.ToolStatus.STARTING, dxforge.ToolStatus.RUNNING,
                dxforge.ToolStatus.HEALTHY, dxforge.ToolStatus.DEGRADED]  # fmt: skip
    assert [s.value for s in statuses] == ["stopped", "starting", "running", "healthy", "degraded"]
    assert len(set(statuses)) == 5
    assert str(dxforge.ToolStatus.RUNNING) == "running"
    assert repr(dxforge.ToolStatus.RUNNING) == "ToolStatus.RUNNING"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"args": "not-a-list"}, "args"),
        ({"args": [1, 2]}, "args"),
        ({"priority": "high"}, "priority"),
        ({"env": ["A=1"]}, "env"),
        ({"env": {"A": 1}}, "env"),
        ({"health": "tcp:1"}, "health"),
        ({"restart": 3}, "restart"),
        ({"stop_timeout_ms": 1.5}, "stop_timeout_ms"),
        ({"cwd": 3}, "cwd"),
    ],
)
def test_wrong_types_raise_type_error_naming_the_field(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(TypeError, match=needle):
        DxToolDefinition("t", "t", **kwargs)  # type: ignore[arg-type]


def test_wrong_positional_types_and_bad_values() -> None:
    with pytest.raises(TypeError):
        DxToolDefinition(1, "t")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DxToolDefinition("t")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        DxToolDefinition("t", "t", "positional-args")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="sometimes"):
        DxToolDefinition("t", "t", restart="sometimes")  # type: ignore[arg-type]
    with pytest.raises(dxforge.InvalidArgumentError, match="priority"):
        DxToolDefinition("t", "t", priority=-1)
    d = DxToolDefinition("t", "t")
    with pytest.raises(TypeError):
        d.args = "x"  # type: ignore[assignment]
    with pytest.raises(TypeError):
        d.health = "x"  # type: ignore[assignment]
    assert d.args == [] and d.health is None


def test_invalid_definitions_are_refused_at_registration(forge: dxforge.DxForge) -> None:
    with pytest.raises(dxforge.InvalidArgumentError) as info:
        forge.register_tool(DxToolDefinition("", "/bin/true"))
    assert isinstance(info.value, ValueError)
    assert info.value.code == "INVALID_ARGUMENT"
    with pytest.raises(dxforge.DependencyError, match="missing"):
        forge.register_tool(DxToolDefinition("a", "/bin/true", dependencies=["missing"]))
    assert forge.tool_names() == []
    with pytest.raises(TypeError):
        forge.register_tool("a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        forge.register_tool({"name": "a", "binary_path": "/bin/true"})  # type: ignore[arg-type]
    assert forge.tool_names() == []


def test_values_pickle_and_copy() -> None:
    import copy
    import pickle

    members = [dxforge.ToolStatus.HEALTHY, RestartPolicy.ON_FAILURE, dxforge.TrafficLight.YELLOW]
    for member in members:
        assert pickle.loads(pickle.dumps(member)) is member
    values: list[object] = [
        full_definition(),
        HealthCheck.tcp("127.0.0.1:1"),
        HealthCheck.command(["a", "b"]),
        dxforge.BackgroundTask.prefetch_package("button@^1"),
        dxforge.BackgroundTask.analyze_codebase_patterns(),
    ]
    for value in values:
        back = pickle.loads(pickle.dumps(value))
        assert back == value and back is not value
        assert copy.deepcopy(value) == value
    d = full_definition()
    c = copy.copy(d)
    c.args = ["changed"]
    assert d.args == ["--port", "8080"]


def test_an_unknown_dependency_condition_is_refused_naming_it() -> None:
    with pytest.raises(dxforge.InvalidArgumentError, match="done"):
        DxToolDefinition("web", "web", dependencies=["db"], dependency_conditions={"db": "done"})  # type: ignore[dict-item]
    d = DxToolDefinition("web", "web", dependencies=["db"])
    with pytest.raises(ValueError, match="completed_successfully"):
        d.dependency_conditions = {"db": "finished"}  # type: ignore[dict-item]
    d.dependency_conditions = {"db": "completed_successfully"}
    assert d.dependency_conditions == {"db": "completed_successfully"}


def test_a_one_shot_dependency_completes_before_its_dependent_starts(forge: dxforge.DxForge) -> None:
    migrate = DxToolDefinition("migrate", "/bin/sh", args=["-c", "sleep 0.2; touch migrated"], restart="never")
    web = DxToolDefinition(
        "web",
        "/bin/sh",
        args=["-c", "test -e migrated && echo after > web-saw; exec sleep 1000"],
        dependencies=["migrate"],
        dependency_conditions={"migrate": "completed_successfully"},
    )
    forge.register_tool(migrate)
    forge.register_tool(web)
    forge.ensure_running("web")
    assert forge.status("migrate") == dxforge.ToolStatus.STOPPED
