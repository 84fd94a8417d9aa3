//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz). Not a stable API:
//! hidden from the docs and free to change with the parsers.
//!
//! Each function runs one validating parser on untrusted bytes and drops the
//! result; the fuzzer looks for panics, aborts, hangs and runaway memory.

use std::path::Path;

/// `dxforge.toml`; non-UTF-8 input is skipped (the loader refuses it before
/// the parser sees it).
pub fn parse_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::ProjectConfig::parse(text, Path::new("dxforge.toml"));
    }
}

/// One control-socket request line, as the server validates it before running it.
pub fn parse_control_request(data: &[u8]) {
    let _ = crate::control::parse_request_line(data);
}
