#![no_main]
//! `dxpkg.toml`: a package manifest from a registry (UTF-8 input only).

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dxforge_traffic::PackageManifest::parse(Path::new("dxpkg.toml"), text);
    }
});
