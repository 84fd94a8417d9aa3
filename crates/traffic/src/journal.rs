//! The transaction journal `.dxforge/txn/journal.json`: its format and its
//! validating parser.
//!
//! ```json
//! {"format":1,"state":"committed",
//!  "dirs":["","src"],"created_dirs":["src/deep"],
//!  "renames":[{"temp":"src/.tmp.dxforge-0123456789abcdef.tmp","target":"src/a.ts"}],
//!  "deletions":[{"path":"src/gone.ts","hash":"<BLAKE3 hex>"}],
//!  "lock":{"temp":".tmp.dxforge-fedcba9876543210.tmp","target":"dxforge.lock"}}
//! ```
//!
//! Every path is PROJECT-RELATIVE: the journal never names the project root,
//! an absolute path or anything outside the project. A journal on disk may
//! have been planted (a cloned repository can carry `.dxforge/`), so
//! [`parse_journal`] checks it all before recovery acts on any of it: a size
//! cap, a count cap per list, every path with the rules of package targets
//! (`dxforge.lock`/`dxforge.toml` allowed), every temp file a dxforge temp
//! name in the directory of its target, every hash a BLAKE3 digest. Recovery
//! then also looks at the disk before it changes anything (see `txn`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError};
use crate::limits::{MAX_JOURNAL_BYTES, MAX_JOURNAL_ENTRIES};
use crate::lockfile::LOCK_FILE;
use crate::safety::validate_state_path;
use crate::store::is_hash;

/// The journal's path in the state root.
pub(crate) const JOURNAL: &str = "txn/journal.json";

/// Current journal format number.
pub(crate) const JOURNAL_FORMAT: u32 = 1;

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum State {
    /// Before the commit point: recovery rolls back.
    Staging,
    /// After the commit point: recovery rolls forward.
    Committed,
}

/// A staged temp file and the file it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rename {
    pub temp: String,
    pub target: String,
}

/// A file deleted by the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deletion {
    pub path: String,
    /// Only deleted when its content still has this hash.
    pub hash: String,
}

/// A parsed, validated journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Journal {
    pub format: u32,
    pub state: State,
    /// Directories temp files are staged in (`""`: the project root); a roll
    /// back removes every dxforge temp file directly in them.
    pub dirs: Vec<String>,
    /// Directories the transaction creates, parents first.
    pub created_dirs: Vec<String>,
    /// Files written (empty while staging: temp names are random and only
    /// known once created).
    pub renames: Vec<Rename>,
    /// Files deleted.
    pub deletions: Vec<Deletion>,
    /// The lock file's rename, done after everything else.
    pub lock: Option<Rename>,
}

impl Journal {
    /// An empty staging journal.
    pub fn staging() -> Self {
        Journal {
            format: JOURNAL_FORMAT,
            state: State::Staging,
            dirs: Vec::new(),
            created_dirs: Vec::new(),
            renames: Vec::new(),
            deletions: Vec::new(),
            lock: None,
        }
    }

    /// Every rename, the lock's last.
    pub fn all_renames(&self) -> impl Iterator<Item = &Rename> {
        self.renames.iter().chain(self.lock.iter())
    }

    /// Serialized (compact JSON).
    pub fn to_bytes(&self, journal_path: &Path) -> Result<Vec<u8>> {
        let data = serde_json::to_vec(self).map_err(|e| TrafficError::Journal {
            journal: journal_path.to_path_buf(),
            message: e.to_string(),
        })?;
        if data.len() as u64 > MAX_JOURNAL_BYTES {
            return Err(TrafficError::Limit {
                path: journal_path.to_path_buf(),
                message: format!(
                    "this transaction's journal would be {} bytes, more than the limit of \
                     {MAX_JOURNAL_BYTES}; install fewer packages at once",
                    data.len()
                ),
            });
        }
        Ok(data)
    }
}

/// Parse and validate a journal's bytes (`journal_path` names it in errors).
/// Never panics; anything that is not exactly what dxforge writes is a
/// [`TrafficError::Journal`] (or [`TrafficError::Limit`] for its size).
pub(crate) fn parse_journal(raw: &[u8], journal_path: &Path) -> Result<Journal> {
    let refuse = |message: String| TrafficError::Journal {
        journal: journal_path.to_path_buf(),
        message,
    };
    if raw.len() as u64 > MAX_JOURNAL_BYTES {
        return Err(refuse(format!(
            "{} bytes, larger than the limit of {MAX_JOURNAL_BYTES}",
            raw.len()
        )));
    }
    let journal: Journal =
        serde_json::from_slice(raw).map_err(|e| refuse(format!("not a dxforge journal: {e}")))?;
    if journal.format != JOURNAL_FORMAT {
        return Err(refuse(format!(
            "unsupported journal format {} (this dxforge writes {JOURNAL_FORMAT})",
            journal.format
        )));
    }
    let counts = [
        ("dirs", journal.dirs.len()),
        ("created_dirs", journal.created_dirs.len()),
        ("renames", journal.renames.len()),
        ("deletions", journal.deletions.len()),
    ];
    for (list, n) in counts {
        if n > MAX_JOURNAL_ENTRIES {
            return Err(refuse(format!(
                "`{list}` has {n} entries, more than the limit of {MAX_JOURNAL_ENTRIES}"
            )));
        }
    }
    let path_ok = |what: String, rel: &str| -> Result<()> {
        validate_state_path(rel)
            .map_err(|why| refuse(format!("{what} `{}`: {why}", rel.escape_debug())))
    };
    for (i, d) in journal.dirs.iter().enumerate() {
        if !d.is_empty() {
            path_ok(format!("dirs[{i}]"), d)?;
        }
    }
    for (i, d) in journal.created_dirs.iter().enumerate() {
        path_ok(format!("created_dirs[{i}]"), d)?;
    }
    for (i, r) in journal.renames.iter().enumerate() {
        check_rename(&format!("renames[{i}]"), r, &path_ok, &refuse)?;
    }
    if let Some(lock) = &journal.lock {
        check_rename("lock", lock, &path_ok, &refuse)?;
        if lock.target != LOCK_FILE {
            return Err(refuse(format!(
                "lock.target `{}` is not `{LOCK_FILE}`",
                lock.target.escape_debug()
            )));
        }
    }
    for (i, d) in journal.deletions.iter().enumerate() {
        path_ok(format!("deletions[{i}].path"), &d.path)?;
        if !is_hash(&d.hash) {
            return Err(refuse(format!(
                "deletions[{i}].hash is not a BLAKE3 hex digest"
            )));
        }
    }
    Ok(journal)
}

fn check_rename(
    what: &str,
    r: &Rename,
    path_ok: &dyn Fn(String, &str) -> Result<()>,
    refuse: &dyn Fn(String) -> TrafficError,
) -> Result<()> {
    path_ok(format!("{what}.target"), &r.target)?;
    let (temp_dir, temp_name) = split(&r.temp);
    let (target_dir, _) = split(&r.target);
    // The directory is the target's (checked below); the name must be one
    // dxforge creates: `.<name>.dxforge-<16 hex>.tmp`, nothing else.
    let plain_name = temp_name.len() <= 255 && !temp_name.chars().any(char::is_control);
    if !plain_name || !dxforge_fs::is_temp_name(temp_name) {
        return Err(refuse(format!(
            "{what}.temp `{}` is not a dxforge temporary file name",
            r.temp.escape_debug()
        )));
    }
    if temp_dir != target_dir {
        return Err(refuse(format!(
            "{what}.temp `{}` is not in the directory of its target `{}`",
            r.temp.escape_debug(),
            r.target.escape_debug()
        )));
    }
    Ok(())
}

/// Parent (`""` at the top) and file name of a checked relative path.
pub(crate) fn split(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", rel),
    }
}
