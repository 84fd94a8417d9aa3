//! Generates `include/dxforge.h` with cbindgen.
//!
//! The header is committed; it is rewritten only when its content changes,
//! so builds stay incremental, and `scripts/test-c.sh` fails when the
//! committed file differs from what this script generates (stale header).

use std::path::PathBuf;

fn main() {
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../../include/dxforge.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed={}", header.display());

    // The shared library names its ABI, so programs linked against it load
    // the same ABI at run time (libdxforge.so.0.1 for every 0.1.x: before 1.0 a
    // minor version may break the ABI). scripts/dist.sh installs the file as
    // libdxforge.so.<version> with the libdxforge.so.<soname> and
    // libdxforge.so symlinks.
    let soname = soname_version();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdxforge.so.{soname}");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("bindings/c/cbindgen.toml");
    let version = |part: &str| {
        std::env::var(format!("CARGO_PKG_VERSION_{part}")).expect("cargo sets the version")
    };
    config.after_includes = Some(format!(
        "\n/** Version of this header (and of the library built with it). */\n\
         #define DXFORGE_VERSION_MAJOR {}\n#define DXFORGE_VERSION_MINOR {}\n#define DXFORGE_VERSION_PATCH {}\n\
         #define DXFORGE_VERSION \"{}\"",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/dxforge.h");
    let mut text = Vec::new();
    bindings.write(&mut text);
    if std::fs::read(&header).ok().as_deref() != Some(&text[..]) {
        std::fs::create_dir_all(header.parent().expect("include/")).expect("create include/");
        std::fs::write(&header, &text).expect("write include/dxforge.h");
    }
}

/// The version part of the SONAME: the major version, or `0.MINOR` before 1.0.
fn soname_version() -> String {
    let part = |name: &str| {
        std::env::var(format!("CARGO_PKG_VERSION_{name}")).expect("cargo sets the version")
    };
    let major = part("MAJOR");
    if major == "0" {
        format!("0.{}", part("MINOR"))
    } else {
        major
    }
}
