#!/usr/bin/env bash
# Builds the Python binding (debug) into python/.venv and runs its whole suite:
# pytest, mypy's stubtest on the native module, mypy --strict on the package,
# tests and examples, then the examples themselves. Idempotent; installs
# maturin, pytest and mypy from the package registry on first run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo/python"
step() { printf '\n==> python: %s\n' "$*"; }

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    step "creating python/.venv"
    "$python" -m venv .venv
fi
# shellcheck source=/dev/null
source .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check 'maturin>=1.9,<2' 'pytest>=8' 'mypy>=1.10'

step "maturin develop (debug build)"
maturin develop --quiet

step "local S3-compatible server (for the push/pull test)"
# Reuses a running one (scripts/test.sh starts it); without s3s-fs installed
# that single test is skipped and pytest says so.
if s3_env="$(bash "$repo/scripts/s3-server.sh" start 2>/dev/null)"; then
    eval "$s3_env"
else
    echo "s3s-fs not installed: test_push_then_pull_into_another_project will be skipped"
fi

step "pytest"
python -m pytest -q tests

step "stubtest"
python -m mypy.stubtest dxforge._dxforge

step "mypy --strict (package, tests, examples)"
python -m mypy

step "examples"
for example in "$repo"/examples/python/*.py; do
    echo "--- $example"
    timeout 300 python "$example"
done

echo
echo "python binding: all passed"
