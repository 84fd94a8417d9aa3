#!/usr/bin/env bash
# Runs every test of dxforge: formatting, lints, the Rust suites (with a real
# S3-compatible server on 127.0.0.1), the bindings' suites, the examples, and
# the release artifacts (dist/) installed and run where no Rust exists.
# Installs what it needs from the package registries on first run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }
# Runs a step with a time limit, so that a hung test fails CI in minutes
# instead of holding it until the runner gives up (each limit is several
# times the step's normal duration on 2 cores).
limit() {
    local secs="$1"
    shift
    local rc=0
    timeout --kill-after=30 "$secs" "$@" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "error: step did not finish within ${secs}s: $*" >&2
    fi
    return "$rc"
}

step "rustfmt"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "local S3-compatible server (s3s-fs, checks SigV4 signatures)"
if ! command -v s3s-fs >/dev/null && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
    # Its own temporary target dir: the install is a one-off, not part of our build.
    limit 1500 cargo install s3s-fs@0.14.1 --features binary --locked --quiet
fi
eval "$(bash scripts/s3-server.sh start)"
trap 'bash scripts/s3-server.sh stop' EXIT

step "cargo test"
limit 1800 cargo test --workspace --locked --no-fail-fast

step "fuzzing: every parser of untrusted input for a bounded time (fuzz/README.md)"
limit 1500 bash scripts/fuzz.sh

step "C binding: header freshness, C/C++ compile, C tests under sanitizers and valgrind, example"
limit 900 bash scripts/test-c.sh

step "Python binding: build, pytest, stubtest, example"
limit 900 bash scripts/test-python.sh

step "Node binding: build, node:test, example"
limit 900 bash scripts/test-node.sh

step "main job on examples/demo"
limit 300 bash examples/demo.sh

step "release artifacts: wheel, sdist, npm tarballs, C tarball (scripts/dist.sh -> dist/)"
started=$SECONDS
limit 2400 bash scripts/dist.sh
echo "dist.sh took $((SECONDS - started)) s"

step "artifacts installed and run without Rust on PATH (scripts/test-dist.sh)"
started=$SECONDS
limit 1200 bash scripts/test-dist.sh
echo "test-dist.sh took $((SECONDS - started)) s"

echo
echo "all tests passed"
