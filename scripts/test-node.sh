#!/usr/bin/env bash
# Builds and tests the Node binding of dxforge (node/):
#   1. installs the build tool (@napi-rs/cli) from the committed lock file;
#   2. builds the addon in debug with `napi build` into the shared target dir,
#      regenerating index.js and index.d.ts, and fails when the committed ones
#      are stale;
#   3. runs the node:test suite (node/test) and the examples (examples/node).
# Usage: scripts/test-node.sh   (from anywhere; exits non-zero on any failure)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo/node"
step() { printf '\n==> [node] %s\n' "$*"; }

step "npm ci (build tool from package-lock.json)"
if [ ! -x node_modules/.bin/napi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

step "napi build (debug)"
# napi always passes --target, so its artifacts live under target/<triple>/debug.
npx napi build --platform --no-const-enum --target-dir "${CARGO_TARGET_DIR:-$repo/target}"

if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
    && ! git -C "$repo" diff --quiet -- node/index.d.ts node/index.js; then
    git -C "$repo" --no-pager diff --stat -- node/index.d.ts node/index.js
    echo "node/index.d.ts or node/index.js is stale: commit the regenerated files" >&2
    exit 1
fi

step "node --test"
# The push/pull test needs a local S3-compatible server; scripts/test.sh starts
# one and exports its DXFORGE_TEST_S3_* variables. Reuse a running one otherwise.
if [ -z "${DXFORGE_TEST_S3_ENDPOINT:-}" ] && s3env="$(bash "$repo/scripts/s3-server.sh" env 2>/dev/null)"; then
    eval "$s3env"
fi
node --test test/*.test.mjs

step "examples/node"
for example in "$repo"/examples/node/*.mjs "$repo"/examples/node/*.cjs; do
    [ -e "$example" ] || continue
    echo "--- $example"
    (cd "$repo" && node "$example")
done

echo
echo "node: all tests passed"
