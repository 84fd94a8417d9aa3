"""dxforge: an embeddable engine for local developer tooling.

One handle, :class:`DxForge`, per project directory::

    import dxforge

    with dxforge.DxForge("examples/demo") as forge:
        forge.ensure_running("web")          # starts db first, waits until healthy
        print(forge.status("web"))           # ToolStatus.HEALTHY
        result = forge.execute_tool("lint")  # exit code and output are results
    # leaving the block stops every tool the handle started

Blocking calls release the GIL; ``*_async`` variants return awaitables for
asyncio. Errors are :class:`DxForgeError` subclasses (see ``dxforge._errors``).
Worker and Traffic Branching reports are plain dicts typed in
:mod:`dxforge.reports`.
"""

from __future__ import annotations

from dxforge._dxforge import (
    BackgroundTask,
    DxForge,
    DxToolDefinition,
    ExecResult,
    HealthCheck,
    LogLine,
    PipelineOutcome,
    RestartPolicy,
    ToolEvent,
    ToolState,
    ToolStatus,
    TrafficLight,
    __version__,
)
from dxforge import reports
from dxforge._errors import (
    BusyError,
    ClosedError,
    ConfigError,
    DependencyError,
    DxForgeError,
    ErrorKind,
    ForkedError,
    InternalError,
    IntegrityError,
    InvalidArgumentError,
    IoConnectionRefusedError,
    IoError,
    IoFileExistsError,
    IoFileNotFoundError,
    IoIsADirectoryError,
    IoNotADirectoryError,
    IoPermissionError,
    NotFoundError,
    NotImplementedError,
    OtherError,
    RemoteError,
    TimeoutError,
    ToolFailedError,
    UnsafePathError,
    UsageError,
    error_class,
)

__all__ = [
    "BackgroundTask",
    "BusyError",
    "ClosedError",
    "ConfigError",
    "DependencyError",
    "DxForge",
    "DxForgeError",
    "DxToolDefinition",
    "ErrorKind",
    "ExecResult",
    "ForkedError",
    "HealthCheck",
    "IntegrityError",
    "InternalError",
    "InvalidArgumentError",
    "IoConnectionRefusedError",
    "IoError",
    "IoFileExistsError",
    "IoFileNotFoundError",
    "IoIsADirectoryError",
    "IoNotADirectoryError",
    "IoPermissionError",
    "LogLine",
    "NotFoundError",
    "NotImplementedError",
    "OtherError",
    "PipelineOutcome",
    "RemoteError",
    "RestartPolicy",
    "TimeoutError",
    "ToolEvent",
    "ToolFailedError",
    "ToolState",
    "ToolStatus",
    "TrafficLight",
    "UnsafePathError",
    "UsageError",
    "__version__",
    "error_class",
    "reports",
]
