//! Per-call cost of cheap queries through the `DxForge` handle: the Rust
//! baseline the C, Python and Node bindings are compared against.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public function"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use dxforge::{DxForge, DxToolDefinition};

fn status(c: &mut Criterion) {
    let project = tempfile::tempdir().expect("tempdir");
    let forge = DxForge::open(project.path()).expect("open");
    forge
        .register_tool(DxToolDefinition::new("db", "/bin/true"))
        .expect("register");
    c.bench_function("status_registered_tool", |b| {
        b.iter(|| forge.status(std::hint::black_box("db")))
    });
    c.bench_function("state_registered_tool", |b| {
        b.iter(|| forge.state(std::hint::black_box("db")))
    });
}

criterion_group!(benches, status);
criterion_main!(benches);
