#![no_main]
//! `.dxforge/snapshots/restore.journal`: an interrupted restore's commit record.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge_worker::fuzzing::parse_restore_journal(data));
