//! JSON for the `_json` accessors.

use dxforge_core::{Error, Result};

/// Serialises a core value; failure (impossible for our plain data types) is
/// an internal error rather than a panic.
pub(crate) fn to_string<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal {
        message: format!("cannot serialise to JSON: {e}"),
    })
}
