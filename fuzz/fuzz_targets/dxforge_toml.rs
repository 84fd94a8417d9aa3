#![no_main]
//! `dxforge.toml`: the project configuration parser (UTF-8 input only).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge::fuzzing::parse_config(data));
