//! Integration tests of the core `DxForge` handle: one binary, one module per
//! concern. `regression` holds one test per failure class, named after what
//! it guards.

mod handle;
mod regression;
mod scenarios;
mod schema;
