#![no_main]
//! `init --from`: the Procfile and process-compose.yaml converters (first byte picks
//! the format), and the TOML they render.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge::fuzzing::parse_import(data));
