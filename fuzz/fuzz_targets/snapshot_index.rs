#![no_main]
//! `.dxforge/snapshots/index`: the snapshot stat cache.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge_worker::fuzzing::parse_snapshot_index(data));
