//! The traffic light of one file (docs/contract.md §6):
//!
//! | light  | when |
//! |--------|------|
//! | Green  | the file does not exist, or already equals the new content (binary: or is unmodified since install) |
//! | Yellow | it differs, a base is recorded, and the three-way merge is clean (also when the user never touched it) |
//! | Red    | it differs and there is no base, the merge conflicts, or it is a modified binary file |

use crate::TrafficLight;
use crate::merge::{ConflictRegion, merge3};
use crate::report::FileAction;
use crate::store::is_binary;

/// The verdict plus the bytes to write.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The light.
    pub light: TrafficLight,
    /// Why.
    pub reason: String,
    /// What to do.
    pub action: FileAction,
    /// Content to write at the target (Create/Write).
    pub content: Option<Vec<u8>>,
    /// Conflicting regions (Red after a conflicting merge).
    pub conflicts: Vec<ConflictRegion>,
}

impl Verdict {
    fn new(
        light: TrafficLight,
        reason: impl Into<String>,
        action: FileAction,
        content: Option<Vec<u8>>,
    ) -> Self {
        Verdict {
            light,
            reason: reason.into(),
            action,
            content,
            conflicts: Vec::new(),
        }
    }
}

/// Classify replacing `current` (None: missing) with `new`, `base` being the recorded pristine content.
pub fn classify(current: Option<&[u8]>, base: Option<&[u8]>, new: &[u8]) -> Verdict {
    use TrafficLight::*;
    let Some(current) = current else {
        let reason = if base.is_some() {
            "missing (deleted since install); written again"
        } else {
            "new file"
        };
        return Verdict::new(Green, reason, FileAction::Create, Some(new.to_vec()));
    };
    if current == new {
        return Verdict::new(Green, "already up to date", FileAction::None, None);
    }
    let Some(base) = base else {
        return Verdict::new(
            Red,
            "exists but dxforge has no record of installing it",
            FileAction::WriteNew,
            None,
        );
    };
    if is_binary(current) || is_binary(new) || is_binary(base) {
        return if current == base {
            Verdict::new(
                Green,
                "binary, unmodified since install",
                FileAction::Write,
                Some(new.to_vec()),
            )
        } else {
            Verdict::new(
                Red,
                "binary file modified since install (binary files are never merged)",
                FileAction::WriteNew,
                None,
            )
        };
    }
    if current == base {
        // A clean three-way merge of an untouched file is exactly the new content.
        return Verdict::new(
            Yellow,
            "unmodified since install; upgraded",
            FileAction::Write,
            Some(new.to_vec()),
        );
    }
    let outcome = match merge3(base, current, new) {
        Ok(outcome) => outcome,
        Err(refused) => return Verdict::new(Red, refused.to_string(), FileAction::WriteNew, None),
    };
    if outcome.conflicted {
        let n = outcome.conflicts.len();
        let mut v = Verdict::new(
            Red,
            format!(
                "{n} conflicting region{} between your edits and upstream",
                if n == 1 { "" } else { "s" }
            ),
            FileAction::WriteNew,
            None,
        );
        v.conflicts = outcome.conflicts;
        return v;
    }
    if outcome.merged == current {
        return Verdict::new(
            Yellow,
            "your edits kept; nothing new upstream",
            FileAction::None,
            None,
        );
    }
    Verdict::new(
        Yellow,
        "your edits merged cleanly with upstream",
        FileAction::Write,
        Some(outcome.merged),
    )
}
