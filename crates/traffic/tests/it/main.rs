//! Traffic Branching's integration tests: one binary (it links once), one module per
//! concern. `regression` holds one test per failure class, named after what it guards;
//! `merge_vs_git` compares `merge3` with `git merge-file` on generated cases.

mod common;
mod crash;
mod gc;
mod http;
mod merge_vs_git;
mod properties;
mod registry;
mod regression;
mod remote;
mod safety;
mod scenarios;
