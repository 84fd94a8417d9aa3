#![no_main]
//! `.dxforge/snapshots/manifests/<id>.json`: a snapshot manifest.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge_worker::fuzzing::parse_snapshot_manifest(data));
