//! Small file-system helpers: atomic writes, the store lock, timestamps.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Result, WorkerError};

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so a crash leaves either the old or the new content, never a mix. `mode` is applied
/// before the rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".dxforge-tmp-")
        .tempfile_in(dir)
        .map_err(|e| WorkerError::io("create temporary file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| WorkerError::io("write", tmp.path().to_path_buf(), e))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
        .map_err(|e| WorkerError::io("set permissions of", tmp.path().to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| WorkerError::io("rename temporary file to", path, e.error))?;
    Ok(())
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| WorkerError::io("create directory", dir, e))
}

/// An advisory `flock` on `.dxforge/snapshots/lock`, shared or exclusive. Serialises
/// snapshot, restore, pull and gc across threads and processes (flock locks belong to the
/// open file, so two opens in one process exclude each other too). Released on drop.
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub(crate) fn acquire(path: &Path, exclusive: bool) -> Result<StoreLock> {
        if let Some(parent) = path.parent() {
            create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| WorkerError::io("open lock file", path, e))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a file descriptor we own for the lifetime of `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(StoreLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(WorkerError::io("lock", path, err));
            }
        }
    }
}

/// Nanoseconds since the Unix epoch of a file's modification time, from its metadata.
pub(crate) fn mtime_ns(meta: &fs::Metadata) -> i128 {
    meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
}

/// Nanoseconds since the Unix epoch of a file's status-change time.
pub(crate) fn ctime_ns(meta: &fs::Metadata) -> i128 {
    meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `YYYYMMDDTHHMMSSZ` (compact ISO 8601, UTC) for a Unix time in seconds.
pub(crate) fn compact_utc(unix_secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix_secs);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC) for a Unix time in milliseconds.
pub(crate) fn rfc3339_utc(unix_ms: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix_ms / 1000);
    let ms = unix_ms % 1000;
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
}

/// Calendar date and time of a Unix timestamp (Howard Hinnant's days-from-civil inverse).
fn civil(unix_secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Joins a validated project-relative path (`a/b/c`) onto the root.
pub(crate) fn join_rel(root: &Path, rel: &str) -> PathBuf {
    // `/` is the separator on Unix, and `rel` was validated (relative, no `..`).
    root.join(rel.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_timestamps() {
        assert_eq!(compact_utc(0), "19700101T000000Z");
        assert_eq!(compact_utc(951_782_400), "20000229T000000Z");
        assert_eq!(rfc3339_utc(1_795_662_900_123), "2026-11-26T03:15:00.123Z");
    }
}
