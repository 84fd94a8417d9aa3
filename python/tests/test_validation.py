"""Issue 10, class 9: every definition is validated, the same as in Rust, Node and C.

A negative or out-of-range number raises ``InvalidArgumentError`` (a
``ValueError``) naming the tool and the field, never ``OverflowError`` or a
silent wrap; a bad health target is refused at registration, not after the
tool was spawned; nothing is registered.
"""

from __future__ import annotations

import pytest

import dxforge
from dxforge import DxToolDefinition, HealthCheck


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_restarts", -1),
        ("stop_timeout_ms", -5),
        ("priority", -1),
        ("priority", 2**32),
        ("health_interval_ms", 0),
        ("health_interval_ms", 3_600_001),
        ("startup_timeout_ms", 2**64),
        ("max_restarts", 10_001),
        ("stop_timeout_ms", 2**100),
    ],
)
def test_negative_and_out_of_range_numbers_raise_invalid_argument_naming_the_field(
    forge: dxforge.DxForge, field: str, value: int
) -> None:
    with pytest.raises(dxforge.InvalidArgumentError) as info:
        DxToolDefinition("t", "/bin/true", **{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert info.value.code == "INVALID_ARGUMENT"
    message = str(info.value)
    assert field in message and "tool `t`" in message, message
    assert "must be a whole number from" in message, message
    # Assigning the field later is checked the same way and leaves it unchanged.
    d = DxToolDefinition("t", "/bin/true")
    before = getattr(d, field)
    with pytest.raises(dxforge.InvalidArgumentError, match=field):
        setattr(d, field, value)
    assert getattr(d, field) == before
    assert forge.tool_names() == []


def test_numbers_at_their_bounds_are_kept_exactly(forge: dxforge.DxForge) -> None:
    d = DxToolDefinition("ok", "/bin/true", priority=2**32 - 1, max_restarts=10_000, stop_timeout_ms=0)
    forge.register_tool(d)
    back = forge.tool("ok")
    assert (back.priority, back.max_restarts, back.stop_timeout_ms) == (2**32 - 1, 10_000, 0)


@pytest.mark.parametrize(
    "target", ["localhost", "127.0.0.1:0", "127.0.0.1:65536", "::1:80", "[::1]80", "db host:5432", ""]
)
def test_tcp_target_that_is_not_host_port_is_refused_at_registration(
    forge: dxforge.DxForge, target: str
) -> None:
    with pytest.raises(dxforge.InvalidArgumentError) as info:
        forge.register_tool(DxToolDefinition("t", "/bin/true", health=HealthCheck.tcp(target)))
    message = str(info.value)
    assert "health.tcp" in message and "tool `t`" in message, message
    assert forge.tool_names() == []


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8080/health", "https://127.0.0.1/", "http://", "http://x:0/", "http://x/a b"]
)
def test_http_target_that_is_not_a_usable_url_is_refused_at_registration(
    forge: dxforge.DxForge, url: str
) -> None:
    with pytest.raises(dxforge.InvalidArgumentError) as info:
        forge.register_tool(DxToolDefinition("t", "/bin/true", health=HealthCheck.http(url)))
    message = str(info.value)
    assert "health.http" in message and "tool `t`" in message, message
    assert forge.tool_names() == []


def test_valid_targets_register(forge: dxforge.DxForge) -> None:
    forge.register_tool(DxToolDefinition("a", "/bin/true", health=HealthCheck.tcp("[::1]:5432")))
    forge.register_tool(DxToolDefinition("b", "/bin/true", health=HealthCheck.http("http://localhost:8080/health")))
    assert sorted(forge.tool_names()) == ["a", "b"]
