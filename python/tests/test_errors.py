"""The DxForgeError hierarchy: one class per core ErrorKind, OSError for I/O."""

from __future__ import annotations

import builtins
import errno
from pathlib import Path

import pytest

import dxforge
from dxforge import ErrorKind
from dxforge._dxforge import _error_kinds


def test_error_kinds_match_the_core_table() -> None:
    assert [(k.value, k.code) for k in ErrorKind] == _error_kinds()


def test_one_subclass_per_kind_with_stable_code() -> None:
    seen = set()
    for kind in ErrorKind:
        cls = dxforge.error_class(kind.value)
        assert issubclass(cls, dxforge.DxForgeError)
        assert cls.kind is kind and cls.code == kind.code
        seen.add(cls)
        assert getattr(dxforge, cls.__name__) is cls
    assert len(seen) == len(ErrorKind)


def test_builtin_compatible_bases() -> None:
    assert issubclass(dxforge.IoError, OSError)
    assert issubclass(dxforge.InvalidArgumentError, ValueError)
    assert issubclass(dxforge.NotFoundError, LookupError)
    assert issubclass(dxforge.TimeoutError, builtins.TimeoutError)
    assert issubclass(dxforge.NotImplementedError, builtins.NotImplementedError)
    for cls, base in [
        (dxforge.IoFileNotFoundError, FileNotFoundError),
        (dxforge.IoFileExistsError, FileExistsError),
        (dxforge.IoPermissionError, PermissionError),
        (dxforge.IoNotADirectoryError, NotADirectoryError),
        (dxforge.IoIsADirectoryError, IsADirectoryError),
        (dxforge.IoConnectionRefusedError, ConnectionRefusedError),
    ]:
        assert issubclass(cls, base) and issubclass(cls, dxforge.IoError)
        assert cls.code == "IO"
    assert dxforge.error_class(ErrorKind.IO, errno.ENOENT) is dxforge.IoFileNotFoundError
    assert dxforge.error_class(ErrorKind.IO, errno.EPERM) is dxforge.IoPermissionError
    assert dxforge.error_class(ErrorKind.IO, errno.EIO) is dxforge.IoError
    assert dxforge.error_class(999) is dxforge.OtherError


def test_missing_root_is_a_file_not_found_error_with_errno(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError) as info:
        dxforge.DxForge(missing)
    e = info.value
    assert isinstance(e, dxforge.IoError) and isinstance(e, dxforge.DxForgeError)
    assert e.errno == errno.ENOENT
    assert e.code == "IO" and e.kind is ErrorKind.IO
    assert str(missing) in str(e)


def test_a_file_as_root_is_not_a_directory(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="Not a directory") as info:
        dxforge.DxForge(f)
    assert isinstance(info.value, dxforge.IoError)
    assert info.value.errno == errno.ENOTDIR
    assert str(f) in str(info.value)


def test_malformed_config_is_a_config_error_naming_the_file(project: Path) -> None:
    (project / "dxforge.toml").write_text("[tools.web\nbinary_path = 3\n")
    with pytest.raises(dxforge.ConfigError, match="dxforge.toml") as info:
        dxforge.DxForge(project)
    assert info.value.code == "CONFIG"


def test_unknown_config_key_is_named(project: Path) -> None:
    (project / "dxforge.toml").write_text('[tools.web]\nbinary_path = "/bin/true"\nbogus_key = 1\n')
    with pytest.raises(dxforge.ConfigError, match="bogus_key"):
        dxforge.DxForge(project)


def test_errors_pickle_round_trip() -> None:
    import pickle

    e = dxforge.NotFoundError("unknown tool `x`")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is dxforge.NotFoundError and str(back) == str(e)
