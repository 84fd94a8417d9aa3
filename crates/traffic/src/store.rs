//! File primitives: BLAKE3 hashing, binary detection, atomic writes (temp
//! file in the same directory, fsync, rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, TrafficError};

/// BLAKE3 hex digest of `data`.
pub fn hash_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Whether `hex` looks like a BLAKE3 hex digest (and so is safe as a file name).
pub fn is_hash(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Git's rule: a NUL byte in the first 8 KiB makes a file binary.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}

/// Read a file, `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrafficError::io("read", path, e)),
    }
}

/// Name of a staging temp file next to `target`: `.<name>.dxforge-<tag>.tmp`.
pub fn temp_path_for(target: &Path, tag: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.dxforge-{tag}.tmp"))
}

/// Whether a file name is one of dxforge's staging temp files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp") && name.contains(".dxforge-")
}

/// Write `data` to `path` durably without renaming (used for staging).
pub fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| TrafficError::io("create", path, e))?;
    f.write_all(data)
        .map_err(|e| TrafficError::io("write", path, e))?;
    f.sync_all()
        .map_err(|e| TrafficError::io("fsync", path, e))?;
    Ok(())
}

/// Atomically replace `path` with `data` (temp file + fsync + rename + directory fsync).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_path_for(path, &format!("w{}", std::process::id()));
    write_synced(&tmp, data)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(TrafficError::io("rename", path, e));
    }
    sync_parent(path);
    Ok(())
}

/// fsync the directory holding `path` so a rename survives power loss (best effort).
pub fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent()
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
}
