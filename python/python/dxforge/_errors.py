"""The exception hierarchy of dxforge.

Every error raised by dxforge is a :class:`DxForgeError`, of exactly one
subclass per error kind of the core (``ErrorKind``). Each carries ``code``
(a stable upper-case string, the same as Node's ``error.code`` and the C
``dxforge_error_code`` names) and ``kind`` (an :class:`ErrorKind`).

Errors of kind ``IO`` are also :class:`OSError` with ``errno`` set; for the
common errno values the class also subclasses the matching builtin
(``FileNotFoundError`` for ENOENT, ``PermissionError`` for EACCES/EPERM, ...),
so ``except FileNotFoundError`` works. ``InvalidArgumentError`` is also a
``ValueError``, ``NotFoundError`` a ``LookupError``, ``TimeoutError`` the
builtin ``TimeoutError`` and ``NotImplementedError`` the builtin one.
"""

from __future__ import annotations

import builtins
import enum
import errno as _errno
from typing import ClassVar


class ErrorKind(enum.IntEnum):
    """Stable category of an error (the negated value is the C error code)."""

    OTHER = 1
    USAGE = 2
    INVALID_ARGUMENT = 3
    NOT_FOUND = 4
    CONFIG = 5
    DEPENDENCY = 6
    TOOL_FAILED = 7
    IO = 8
    BUSY = 9
    UNSAFE_PATH = 10
    REMOTE = 11
    INTEGRITY = 12
    TIMEOUT = 13
    CLOSED = 14
    FORKED = 15
    NOT_IMPLEMENTED = 16
    INTERNAL = 17

    @property
    def code(self) -> str:
        """The stable code string, e.g. ``"NOT_FOUND"``."""
        return self.name


class DxForgeError(Exception):
    """Root of every dxforge error."""

    kind: ClassVar[ErrorKind] = ErrorKind.OTHER
    code: ClassVar[str] = "OTHER"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = cls.kind.code


class OtherError(DxForgeError):
    """An error without a more precise kind."""

    kind = ErrorKind.OTHER


class UsageError(DxForgeError):
    """A command string was malformed (``run_pipeline``)."""

    kind = ErrorKind.USAGE


class InvalidArgumentError(DxForgeError, ValueError):
    """An argument is invalid (empty name, NUL byte, bad definition...)."""

    kind = ErrorKind.INVALID_ARGUMENT


class NotFoundError(DxForgeError, LookupError):
    """The named tool, package, snapshot or task does not exist."""

    kind = ErrorKind.NOT_FOUND


class ConfigError(DxForgeError):
    """``dxforge.toml``, ``dxpkg.toml`` or another config file is malformed."""

    kind = ErrorKind.CONFIG


class DependencyError(DxForgeError):
    """Unknown dependency or dependency cycle."""

    kind = ErrorKind.DEPENDENCY


class ToolFailedError(DxForgeError):
    """A tool could not be started or never became ready."""

    kind = ErrorKind.TOOL_FAILED


class IoError(DxForgeError, OSError):
    """An I/O error; ``errno`` is set when the OS gave one."""

    kind = ErrorKind.IO


class IoFileNotFoundError(IoError, FileNotFoundError):
    """I/O error ENOENT."""


class IoFileExistsError(IoError, FileExistsError):
    """I/O error EEXIST."""


class IoPermissionError(IoError, PermissionError):
    """I/O error EACCES or EPERM."""


class IoNotADirectoryError(IoError, NotADirectoryError):
    """I/O error ENOTDIR."""


class IoIsADirectoryError(IoError, IsADirectoryError):
    """I/O error EISDIR."""


class IoConnectionRefusedError(IoError, ConnectionRefusedError):
    """I/O error ECONNREFUSED."""


class BusyError(DxForgeError):
    """Another process holds a lock this operation needs."""

    kind = ErrorKind.BUSY


class UnsafePathError(DxForgeError):
    """A path would escape the project root."""

    kind = ErrorKind.UNSAFE_PATH


class RemoteError(DxForgeError):
    """Remote object storage failed (unreachable, credentials, server error)."""

    kind = ErrorKind.REMOTE


class IntegrityError(DxForgeError):
    """Stored data failed its hash check."""

    kind = ErrorKind.INTEGRITY


class TimeoutError(DxForgeError, builtins.TimeoutError):  # noqa: A001 - like asyncio.TimeoutError
    """A wait ran out of time."""

    kind = ErrorKind.TIMEOUT


class ClosedError(DxForgeError):
    """The ``DxForge`` handle was closed."""

    kind = ErrorKind.CLOSED


class ForkedError(DxForgeError):
    """The handle (or the asyncio bridge) belongs to the parent of this forked process."""

    kind = ErrorKind.FORKED


class NotImplementedError(DxForgeError, builtins.NotImplementedError):  # noqa: A001
    """The feature is part of the contract but not built yet."""

    kind = ErrorKind.NOT_IMPLEMENTED


class InternalError(DxForgeError):
    """A bug in dxforge (a caught panic); please report it."""

    kind = ErrorKind.INTERNAL


_BY_KIND: dict[int, type[DxForgeError]] = {
    cls.kind.value: cls
    for cls in (
        OtherError,
        UsageError,
        InvalidArgumentError,
        NotFoundError,
        ConfigError,
        DependencyError,
        ToolFailedError,
        IoError,
        BusyError,
        UnsafePathError,
        RemoteError,
        IntegrityError,
        TimeoutError,
        ClosedError,
        ForkedError,
        NotImplementedError,
        InternalError,
    )
}

_IO_BY_ERRNO: dict[int, type[IoError]] = {
    _errno.ENOENT: IoFileNotFoundError,
    _errno.EEXIST: IoFileExistsError,
    _errno.EACCES: IoPermissionError,
    _errno.EPERM: IoPermissionError,
    _errno.ENOTDIR: IoNotADirectoryError,
    _errno.EISDIR: IoIsADirectoryError,
    _errno.ECONNREFUSED: IoConnectionRefusedError,
}


def error_class(kind: int, errno: int | None = None) -> type[DxForgeError]:
    """The exception class raised for an error of ``kind`` (and ``errno`` for I/O)."""
    cls = _BY_KIND.get(kind, OtherError)
    if cls is IoError and errno is not None:
        return _IO_BY_ERRNO.get(errno, IoError)
    return cls


def _from_native(kind: int, message: str, errno: int | None) -> DxForgeError:
    """Called by the native module to build the exception of a core error."""
    cls = error_class(kind, errno)
    if issubclass(cls, OSError):
        if errno is not None:
            # OSError(errno, strerror) sets .errno and .strerror; str() shows both.
            return cls(errno, message)
        return cls(message)
    return cls(message)
