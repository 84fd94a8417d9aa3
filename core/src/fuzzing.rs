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

/// `init --from`: the first byte picks the format (even: Procfile, odd:
/// process-compose.yaml), the rest is the file; non-UTF-8 input is skipped (the
/// reader refuses it before the parser sees it), and so is input over the size
/// limit the reader enforces.
pub fn parse_import(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if rest.len() as u64 > crate::import::MAX_IMPORT_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (format, name) = if selector % 2 == 0 {
        (crate::import::ImportFormat::Procfile, "Procfile")
    } else {
        (
            crate::import::ImportFormat::ProcessCompose,
            "process-compose.yaml",
        )
    };
    if let Ok(imported) = crate::import::convert(text, Path::new(name), format) {
        let toml = crate::import::render("fuzz", name, &imported);
        // What is written must be TOML, whatever the names and commands held.
        if let Err(e) = toml.parse::<toml::Table>() {
            panic!("init --from rendered invalid TOML: {e}\n{toml}");
        }
    }
}
