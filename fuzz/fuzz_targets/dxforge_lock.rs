#![no_main]
//! `dxforge.lock`: the lock file (UTF-8 input only; `Lockfile::read` refuses the rest).

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dxforge_traffic::Lockfile::parse(Path::new("dxforge.lock"), text);
    }
});
