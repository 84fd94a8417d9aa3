#![no_main]
//! `.dxforge/base/packs/<id>.idx`: a base-store pack index.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dxforge_traffic::fuzzing::parse_pack_index(data));
