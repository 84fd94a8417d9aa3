//! Confinement through the O_NOFOLLOW component walk (kernels without openat2).

mod cases;

confinement_tests!(dxforge_fs::force_component_walk(true));
