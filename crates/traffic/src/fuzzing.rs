//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz). Not a stable API:
//! hidden from the docs and free to change with the parsers.
//!
//! Each function runs one validating parser on untrusted bytes and drops the
//! result; the fuzzer looks for panics, aborts, hangs and runaway memory.

use std::path::Path;

/// `.dxforge/txn/journal.json`, as recovery validates it before acting on it.
pub fn parse_journal(data: &[u8]) {
    let _ = crate::journal::parse_journal(data, Path::new(".dxforge/txn/journal.json"));
}

/// `.dxforge/base/packs/<id>.idx`, a base-store pack index.
pub fn parse_pack_index(data: &[u8]) {
    let _ = crate::base::parse_pack_index(data, Path::new(".dxforge/base/packs/fuzz.idx"));
}
