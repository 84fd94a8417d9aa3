//! Entries a snapshot leaves out, and why: they are listed in the report, never silently
//! dropped, and never make the snapshot fail.

use serde::Serialize;

/// Why a path is not in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A file or directory that could not be read (permissions, I/O error, or it turned
    /// into a link while the snapshot read it).
    Unreadable,
    /// A named pipe: it has no content to keep (reading it would block).
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A block or character device.
    Device,
    /// A name that is not UTF-8 (the path is shown lossily).
    NonUtf8Name,
    /// A path longer than [`crate::MAX_PATH_BYTES`].
    PathTooLong,
}

impl SkipReason {
    /// The name used in reports and JSON (`"fifo"`, `"non_utf8_name"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Unreadable => "unreadable",
            SkipReason::Fifo => "fifo",
            SkipReason::Socket => "socket",
            SkipReason::Device => "device",
            SkipReason::NonUtf8Name => "non_utf8_name",
            SkipReason::PathTooLong => "path_too_long",
        }
    }

    /// Stable code used in the stat cache.
    pub(crate) fn code(self) -> u8 {
        match self {
            SkipReason::Unreadable => 0,
            SkipReason::Fifo => 1,
            SkipReason::Socket => 2,
            SkipReason::Device => 3,
            SkipReason::NonUtf8Name => 4,
            SkipReason::PathTooLong => 5,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<SkipReason> {
        Some(match code {
            0 => SkipReason::Unreadable,
            1 => SkipReason::Fifo,
            2 => SkipReason::Socket,
            3 => SkipReason::Device,
            4 => SkipReason::NonUtf8Name,
            5 => SkipReason::PathTooLong,
            _ => return None,
        })
    }

    /// The reason for a non-regular, non-directory, non-link file type.
    pub(crate) fn of_file_type(t: &std::fs::FileType) -> SkipReason {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            SkipReason::Fifo
        } else if t.is_socket() {
            SkipReason::Socket
        } else {
            SkipReason::Device
        }
    }
}

/// One path a snapshot left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct SkippedEntry {
    /// Project-relative path with `/` separators (lossy for names that are not UTF-8).
    pub path: String,
    /// Why it was left out.
    // A plain string for the bindings: the enum is non-exhaustive, so new reasons must not
    // break a binding's type.
    #[schemars(with = "String")]
    pub reason: SkipReason,
    /// The error behind an `unreadable` entry, if any.
    pub detail: Option<String>,
}

impl SkippedEntry {
    pub(crate) fn new(path: String, reason: SkipReason) -> SkippedEntry {
        SkippedEntry {
            path,
            reason,
            detail: None,
        }
    }

    pub(crate) fn unreadable(path: String, detail: impl std::fmt::Display) -> SkippedEntry {
        SkippedEntry {
            path,
            reason: SkipReason::Unreadable,
            detail: Some(detail.to_string()),
        }
    }
}
