//! The restore journal: what makes a restore killed mid-way finish on the next command.
//!
//! A restore decides everything it will do from two manifests: the target's and the
//! safety snapshot's (the tree just before). Once that plan is checked, the journal
//! `.dxforge/snapshots/restore.journal` is written durably, naming both; this is the
//! commit point. The tree is then changed, made durable with one `syncfs`, and the
//! journal removed. Every step of the plan is idempotent, so the next command that takes
//! the project lock and finds a journal recomputes the same plan from the same two
//! manifests and carries it out again: the tree ends exactly at the target. Killed before
//! the journal exists, nothing in the project was touched.
//!
//! The journal is state a cloned repository could carry, so it is not trusted: it is
//! read bounded, its ids are validated, both manifests are loaded and validated like any
//! other, and it names the snapshot store it was written in (device and inode): a
//! journal copied from elsewhere is refused with the steps to take, and left in place.

use dxforge_fs::{Durability, Root, WriteOptions};
use serde::{Deserialize, Serialize};

use super::manifest::validate_id;
use crate::error::{Result, WorkerError};

/// The journal's name in the snapshot store.
pub(crate) const JOURNAL_FILE: &str = "restore.journal";

/// Largest journal read (it holds two ids and two numbers).
const MAX_JOURNAL_BYTES: u64 = 4096;

/// The only format written so far.
const VERSION: u32 = 1;

/// A restore that reached its commit point and has not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreJournal {
    version: u32,
    /// The snapshot being restored.
    pub(crate) target: String,
    /// The snapshot of the tree just before: the plan's "current" side.
    pub(crate) safety: String,
    /// Device and inode of the snapshot store directory it was written in.
    store_dev: u64,
    store_ino: u64,
}

impl RestoreJournal {
    /// A journal for restoring `target` over the tree recorded by `safety`, in `store`.
    pub(crate) fn new(store: &Root, target: &str, safety: &str) -> Result<RestoreJournal> {
        let (store_dev, store_ino) = identity(store)?;
        Ok(RestoreJournal {
            version: VERSION,
            target: target.to_owned(),
            safety: safety.to_owned(),
            store_dev,
            store_ino,
        })
    }

    /// Parses and validates journal bytes; `origin` names the file in errors.
    pub(crate) fn parse(bytes: &[u8], origin: &str) -> Result<RestoreJournal> {
        let bad = |reason: String| WorkerError::InvalidRestoreJournal {
            path: origin.to_owned(),
            reason,
        };
        if bytes.len() as u64 > MAX_JOURNAL_BYTES {
            return Err(bad(format!("larger than {MAX_JOURNAL_BYTES} bytes")));
        }
        let journal: RestoreJournal =
            serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if journal.version != VERSION {
            return Err(bad(format!(
                "format version {} (this dxforge reads {VERSION})",
                journal.version
            )));
        }
        for id in [&journal.target, &journal.safety] {
            validate_id(id).map_err(|e| bad(e.to_string()))?;
        }
        Ok(journal)
    }

    /// The journal in `store`, if there is one, checked against the store it lies in.
    pub(crate) fn load(store: &Root) -> Result<Option<RestoreJournal>> {
        let origin = store.join(JOURNAL_FILE).display().to_string();
        let bytes = match store.read(JOURNAL_FILE, MAX_JOURNAL_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(dxforge_fs::FsError::TooLarge { .. }) => {
                return Err(WorkerError::InvalidRestoreJournal {
                    path: origin,
                    reason: format!("larger than {MAX_JOURNAL_BYTES} bytes"),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let journal = RestoreJournal::parse(&bytes, &origin)?;
        if identity(store)? != (journal.store_dev, journal.store_ino) {
            return Err(WorkerError::InvalidRestoreJournal {
                path: origin,
                reason: "it was written for another snapshot store (copied or cloned here)"
                    .to_owned(),
            });
        }
        Ok(Some(journal))
    }

    /// Writes the journal durably: from here on, the restore finishes even if killed.
    pub(crate) fn write(&self, store: &Root) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| WorkerError::InvalidRestoreJournal {
            path: store.join(JOURNAL_FILE).display().to_string(),
            reason: e.to_string(),
        })?;
        let options = WriteOptions {
            mode: Some(0o644),
            durability: Durability::Durable,
        };
        store.write_atomic(JOURNAL_FILE, &json, options)?;
        Ok(())
    }

    /// Removes the journal once the restored tree is durable. A removal lost to a crash
    /// only makes the next command redo a finished restore, which changes nothing.
    pub(crate) fn remove(store: &Root) -> Result<()> {
        store.remove_file(JOURNAL_FILE)?;
        Ok(())
    }
}

/// Device and inode of the store directory.
fn identity(store: &Root) -> Result<(u64, u64)> {
    match store.metadata("")? {
        Some(meta) => Ok((meta.dev, meta.ino)),
        None => Err(WorkerError::io(
            "stat",
            store.path(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_unknown_versions_fields_bad_ids_and_oversize() {
        let ok = br#"{"version":1,"target":"20260101T000000Z-0123abcd","safety":"20260101T000001Z-0123abcd","store_dev":1,"store_ino":2}"#;
        let journal = RestoreJournal::parse(ok, "j").unwrap();
        assert_eq!(journal.target, "20260101T000000Z-0123abcd");
        for bad in [
            &br#"{"version":2,"target":"20260101T000000Z-0123abcd","safety":"20260101T000001Z-0123abcd","store_dev":1,"store_ino":2}"#[..],
            br#"{"version":1,"target":"../../etc","safety":"20260101T000001Z-0123abcd","store_dev":1,"store_ino":2}"#,
            br#"{"version":1,"target":"20260101T000000Z-0123abcd","safety":"20260101T000001Z-0123abcd","store_dev":1,"store_ino":2,"deletes":["a"]}"#,
            b"not json",
        ] {
            let err = RestoreJournal::parse(bad, "j").unwrap_err();
            assert!(matches!(err, WorkerError::InvalidRestoreJournal { .. }), "{err}");
        }
        let big = vec![b' '; MAX_JOURNAL_BYTES as usize + 1];
        assert!(RestoreJournal::parse(&big, "j").is_err());
    }
}
