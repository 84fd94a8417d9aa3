#![no_main]
//! `.dxforge/txn/journal.json`: the transaction journal, validated before recovery acts on it.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge_traffic::fuzzing::parse_journal(data));
