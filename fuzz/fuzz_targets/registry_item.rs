#![no_main]
//! A shadcn registry item (JSON) fetched from a remote registry or read from a file.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dxforge_traffic::remote::item::parse_item("http://127.0.0.1/r/x.json", data);
});
