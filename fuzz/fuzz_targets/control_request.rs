#![no_main]
//! One line on the control socket (`.dxforge/control.sock`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge::fuzzing::parse_control_request(data));
