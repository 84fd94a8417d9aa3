//! Links the `dxforge` binary with packed relative relocations (DT_RELR)
//! where the toolchain supports them.
//!
//! Why: a position-independent Rust binary carries one 24-byte RELA entry
//! per pointer in its read-only data (about 600 kB here), and the loader
//! reads all of them at start-up, so they stay in the resident set of a
//! long-lived `dxforge up`. DT_RELR stores the same relocations in a few
//! kilobytes. Needs GNU ld 2.38+ and glibc 2.36+; the probe below keeps the
//! build working elsewhere, with the plain format.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let native = std::env::var("HOST") == std::env::var("TARGET");
    if linux_gnu && native && linker_packs_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Links an empty C program with the flag: succeeds only where both the
/// linker and the C library support it.
fn linker_packs_relocations() -> bool {
    let Ok(out_dir) = std::env::var("OUT_DIR") else {
        return false;
    };
    let dir = std::path::Path::new(&out_dir);
    let src = dir.join("relr_probe.c");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    Command::new(cc)
        .arg("-pie")
        .arg("-fPIE")
        .arg("-Wl,-z,pack-relative-relocs")
        .arg("-Wl,--fatal-warnings")
        .arg("-o")
        .arg(dir.join("relr_probe"))
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success())
}
