//! The Shadow Worker's integration tests: one binary (it links once), one module per
//! concern. `regression` holds one test per failure class, named after what it guards;
//! `remote` needs the local S3-compatible server (`scripts/s3-server.sh`).

mod common;
mod packages;
mod prune;
mod queue;
mod regression;
mod remote;
mod snapshots;
