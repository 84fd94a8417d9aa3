//! Confinement through the kernel's openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).

mod cases;

confinement_tests!(dxforge_fs::force_component_walk(false));
