//! [`ProjectLock`]: the one lock every command that changes a project holds.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::{FsError, Result, Root};

/// The lock file's name in the state root (`.dxforge/lock`).
const LOCK_FILE: &str = "lock";

/// Longest holder record read back from the lock file.
const MAX_HOLDER: u64 = 256;

/// Shared or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Readers that must not see a half-applied change (several at once).
    Shared,
    /// Anything that changes the project or `.dxforge/` (one at a time).
    Exclusive,
}

/// The project lock: an `flock` on `.dxforge/lock`, released on drop.
///
/// `flock` locks belong to the open file, so two acquisitions in one process
/// exclude each other just as two processes do: take it once per operation,
/// at the outermost level, never nested (a nested exclusive acquisition
/// waits for itself until `wait` runs out).
#[derive(Debug)]
pub struct ProjectLock {
    _file: File,
}

impl ProjectLock {
    /// Takes the lock in the state root `state`, waiting up to `wait` (zero:
    /// not at all) for another holder. `command` ("add", "snapshot", …) is
    /// recorded so a refused caller can be told who holds it.
    pub fn acquire(
        state: &Root,
        command: &str,
        mode: LockMode,
        wait: Duration,
    ) -> Result<ProjectLock> {
        let shown = state.join(LOCK_FILE);
        let fd = crate::resolve::open_beneath(
            state.fd(),
            std::path::Path::new(LOCK_FILE),
            OFlags::RDWR | OFlags::CREATE,
            Mode::from_raw_mode(0o644),
            &shown,
        )?;
        let mut file = File::from(fd);
        let op = match mode {
            LockMode::Shared => FlockOperation::NonBlockingLockShared,
            LockMode::Exclusive => FlockOperation::NonBlockingLockExclusive,
        };
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            match rustix::fs::flock(&file, op) {
                Ok(()) => break,
                Err(Errno::WOULDBLOCK) | Err(Errno::INTR) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(FsError::Busy {
                            holder: holder(&mut file),
                            lock: shown,
                        });
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(e) => return Err(FsError::io("lock", shown, e.into())),
            }
        }
        if mode == LockMode::Exclusive {
            // Best effort: the record only serves the Busy message.
            let record = format!("{command} (pid {})\n", std::process::id());
            let _ = file.set_len(0);
            let _ = file.seek(SeekFrom::Start(0));
            let _ = file.write_all(record.as_bytes());
        }
        Ok(ProjectLock { _file: file })
    }

    /// The lock file of the state root `state`, for messages.
    pub fn path(state: &Root) -> PathBuf {
        state.join(LOCK_FILE)
    }
}

/// Who holds the lock, from the record its holder wrote (bounded, and
/// stripped of control characters: the file is not trusted).
fn holder(file: &mut File) -> String {
    let mut raw = Vec::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(MAX_HOLDER).read_to_end(&mut raw);
    let text: String = String::from_utf8_lossy(&raw)
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if text.is_empty() {
        "another dxforge command".to_string()
    } else {
        text
    }
}
