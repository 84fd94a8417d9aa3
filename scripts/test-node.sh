#!/usr/bin/env bash
# Builds and tests the Node binding of dxforge (node/):
#   1. installs the build tool (@napi-rs/cli) from the committed lock file;
#   2. builds the addon in debug into the shared target dir (with
#      DXFORGE_NAPI_BUILD=1 through `napi build`, regenerating index.js and
#      index.d.ts and failing when the committed ones are stale);
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

target="${CARGO_TARGET_DIR:-$repo/target}"
if [ "${DXFORGE_NAPI_BUILD:-0}" = 1 ]; then
    step "napi build (debug), regenerating index.js and index.d.ts"
    # napi always passes --target, so it builds everything again under
    # target/<triple>/debug: worth it when the API changed, not in every CI run.
    npx napi build --platform --no-const-enum --target-dir "$target"
    if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
        && ! git -C "$repo" diff --quiet -- node/index.d.ts node/index.js; then
        git -C "$repo" --no-pager diff --stat -- node/index.d.ts node/index.js
        echo "node/index.d.ts or node/index.js is stale: commit the regenerated files" >&2
        exit 1
    fi
else
    step "cargo build -p dxforge-node (debug, the shared target dir)"
    # The same library napi build produces, without a second build of every
    # dependency for an explicit --target. Set DXFORGE_NAPI_BUILD=1 to
    # regenerate and check the committed index.js / index.d.ts too.
    cargo build --quiet -p dxforge-node
    cp "$target/debug/libdxforge_node.so" dxforge.linux-x64-gnu.node
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
