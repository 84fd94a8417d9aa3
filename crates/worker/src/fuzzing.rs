//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz). Not a stable API:
//! hidden from the docs and free to change with the parsers.
//!
//! Each function runs one validating parser on untrusted bytes and drops the
//! result; the fuzzer looks for panics, aborts, hangs and runaway memory.

/// A snapshot manifest (`.dxforge/snapshots/manifests/<id>.json`, or one
/// fetched from the remote bucket).
pub fn parse_snapshot_manifest(data: &[u8]) {
    let _ = crate::Manifest::parse(data, "fuzz.json");
}

/// The snapshot stat cache (`.dxforge/snapshots/index`).
pub fn parse_snapshot_index(data: &[u8]) {
    let _ = crate::snapshot::StatIndex::parse(data);
}

/// The restore journal (`.dxforge/snapshots/restore.journal`).
pub fn parse_restore_journal(data: &[u8]) {
    let _ = crate::snapshot::RestoreJournal::parse(data, "fuzz.journal");
}
