#!/usr/bin/env bash
# Installs each artifact of dist/ (built by scripts/dist.sh) the way a user
# without Rust would, and runs the examples against the installed copies:
#   1. the wheel's tags, as auditwheel reports them (manylinux, cp310-abi3);
#   2. the sdist builds and installs with pip (here Rust is still on PATH);
#   3. with cargo and rustc removed from PATH:
#      - the wheel into a fresh venv: examples/python, the pytest plugin;
#      - the npm tarballs into a fresh folder, offline: the Node examples as
#        ESM and as CommonJS, require('dxforge') and import { DxForge };
#      - the C tarball unpacked to a fresh prefix: examples/c built through
#        pkg-config and through CMake's find_package(dxforge), and bin/dxforge.
# Usage: scripts/test-dist.sh   (after scripts/dist.sh; exits non-zero on any failure)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
step() { printf '\n==> [dist] %s\n' "$*"; }
fail() {
    echo "test-dist: $*" >&2
    exit 1
}

dist="$repo/dist"
version="$(sed -n 's/^#define DXFORGE_VERSION "\(.*\)"$/\1/p' include/dxforge.h)"
wheels=("$dist"/dxforge-"$version"-cp310-abi3-*.whl)
sdist="$dist/dxforge-$version.tar.gz"
npm_main="$dist/dxforge-$version.tgz"
npm_platform="$dist/dxforge-linux-x64-gnu-$version.tgz"
c_tarball="$dist/dxforge-$version-linux-x86_64.tar.gz"
for artifact in "${wheels[0]}" "$sdist" "$npm_main" "$npm_platform" "$c_tarball"; do
    [ -f "$artifact" ] || fail "missing $artifact: run scripts/dist.sh first"
done
[ "${#wheels[@]}" = 1 ] || fail "expected one wheel in $dist, found: ${wheels[*]}"
wheel="${wheels[0]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/dxforge-dist.XXXXXX")"
trap 'rm -rf "$work"' EXIT

install_build_tools() {
    # cmake and pkg-config come from the system's packages, like a C user's.
    local missing=()
    command -v cmake >/dev/null || missing+=(cmake)
    command -v pkg-config >/dev/null || missing+=(pkgconf)
    command -v cc >/dev/null || missing+=(gcc)
    [ "${#missing[@]}" = 0 ] && return 0
    step "installing ${missing[*]} (apt-get)"
    if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
        fail "${missing[*]} missing and apt-get is unavailable (or not root): install them"
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

check_wheel_tags() {
    step "auditwheel show $(basename "$wheel")"
    python3 -m venv "$work/audit"
    "$work/audit/bin/python" -m pip install --quiet --disable-pip-version-check auditwheel
    "$work/audit/bin/auditwheel" show "$wheel" | tee "$work/auditwheel.txt"
    # The wheel's platform tag must be one auditwheel accepts for its symbols.
    local tag
    tag="$(basename "$wheel" .whl)"
    tag="${tag##*-}"
    tr -s ' \n' ' ' <"$work/auditwheel.txt" | grep -q "consistent with the following platform tag: \"${tag%%.*}\"" \
        || fail "auditwheel does not confirm the wheel's platform tag $tag"
}

install_sdist() {
    step "pip install $(basename "$sdist") (builds from source: needs Rust)"
    python3 -m venv "$work/sdist"
    # Same release flags as dist.sh, so the dependencies maturin built for the
    # wheel are reused from the shared target dir.
    # shellcheck source=scripts/release-env.sh
    source "$repo/scripts/release-env.sh"
    (cd "$work" && "$work/sdist/bin/python" -m pip install --quiet --disable-pip-version-check "$sdist")
    (cd "$work" && "$work/sdist/bin/python" -c 'import dxforge, sys; print("sdist install:", dxforge.__version__, dxforge.__file__)')
}

without_rust() {
    step "PATH without cargo and rustc"
    local dir new=()
    IFS=: read -r -a dirs <<<"$PATH"
    for dir in "${dirs[@]}"; do
        [ -n "$dir" ] || continue
        if [ -e "$dir/cargo" ] || [ -e "$dir/rustc" ]; then
            echo "dropped from PATH: $dir"
            continue
        fi
        new+=("$dir")
    done
    PATH="$(IFS=:; echo "${new[*]}")"
    export PATH
    unset CARGO_TARGET_DIR CARGO_ENCODED_RUSTFLAGS RUSTFLAGS
    ! command -v cargo >/dev/null || fail "cargo is still on PATH: $(command -v cargo)"
    ! command -v rustc >/dev/null || fail "rustc is still on PATH: $(command -v rustc)"
}

python_from_wheel() {
    step "Python: the wheel in a fresh venv"
    python3 -m venv "$work/py"
    local py="$work/py/bin/python"
    "$py" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
    (cd "$work" && "$py" -c '
import dxforge, sys
assert dxforge.__file__.startswith(sys.prefix), dxforge.__file__
print("installed:", dxforge.__version__, dxforge.__file__)')
    local example
    for example in examples/python/*.py; do
        echo "--- $example"
        (cd "$work" && timeout 300 "$py" "$repo/$example")
    done
    step "Python: the pytest plugin (entry point pytest11) from the wheel"
    "$py" -m pip install --quiet --disable-pip-version-check 'pytest>=8'
    (cd "$work" && "$py" -c '
from importlib.metadata import entry_points
plugins = [e.value for e in entry_points(group="pytest11")]
assert "dxforge.pytest_plugin" in plugins, plugins')
    (cd "$repo/python" && "$py" -m pytest -q -p no:cacheprovider tests/test_pytest_plugin.py)
}

node_from_tarballs() {
    step "Node: the npm tarballs in a fresh folder (offline)"
    local app="$work/node-app"
    mkdir -p "$app"
    (cd "$app" && npm init -y >/dev/null \
        && npm install --offline --no-audit --no-fund --loglevel=error "$npm_platform" "$npm_main")
    [ -f "$app/node_modules/dxforge-linux-x64-gnu/dxforge.linux-x64-gnu.node" ] \
        || fail "the platform package holds no dxforge.linux-x64-gnu.node"
    if compgen -G "$app/node_modules/dxforge/*.node" >/dev/null; then
        fail "the dxforge package itself contains a .node file (it belongs in dxforge-linux-x64-gnu)"
    fi
    (cd "$app" && node -e "const { DxForge } = require('dxforge'); if (typeof DxForge.open !== 'function') process.exit(1)")
    (cd "$app" && node --input-type=module -e "import { DxForge } from 'dxforge'; if (typeof DxForge.open !== 'function') process.exit(1)")
    # The examples, with the repository path of the package replaced by its name.
    cp -r examples "$app/examples"
    sed -i "s|'../../node/index.mjs'|'dxforge'|" "$app/examples/node/"*.mjs
    sed -i "s|'../../node/index.js'|'dxforge'|" "$app/examples/node/"*.cjs
    if grep -n "node/index" "$app/examples/node/"*; then fail "an example still imports from the repository"; fi
    echo "--- examples/node/demo.mjs (ESM)"
    (cd "$app" && timeout 300 node examples/node/demo.mjs)
    echo "--- examples/node/status.cjs (CommonJS)"
    (cd "$app" && timeout 300 node examples/node/status.cjs)
}

c_from_tarball() {
    step "C: the tarball unpacked to a fresh prefix"
    local prefix="$work/prefix"
    mkdir -p "$prefix"
    tar -xzf "$c_tarball" -C "$prefix" --strip-components=1
    for f in include/dxforge.h lib/libdxforge.a lib/pkgconfig/dxforge.pc \
        lib/cmake/dxforge/dxforgeConfig.cmake lib/cmake/dxforge/dxforgeConfigVersion.cmake bin/dxforge \
        share/man/man1/dxforge.1; do
        [ -f "$prefix/$f" ] || fail "$(basename "$c_tarball") has no $f"
    done
    [ -L "$prefix/lib/libdxforge.so" ] || fail "lib/libdxforge.so is not a symbolic link"
    local soname
    soname="$(readelf -d "$prefix/lib/libdxforge.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
    [ -n "$soname" ] || fail "lib/libdxforge.so has no SONAME"
    [ -L "$prefix/lib/$soname" ] || fail "no lib/$soname symlink for the SONAME"
    [ -f "$prefix/lib/libdxforge.so.$version" ] || fail "no lib/libdxforge.so.$version"
    echo "SONAME $soname"
    for f in share/bash-completion/completions/dxforge share/zsh/site-functions/_dxforge \
        share/fish/vendor_completions.d/dxforge.fish share/man/man1/dxforge.1; do
        [ -s "$prefix/$f" ] || fail "$(basename "$c_tarball") has no $f"
    done
    # The generated files are usable: bash parses the completion script (and
    # it registers itself for dxforge), man renders the page when man is installed.
    bash -c "source '$prefix/share/bash-completion/completions/dxforge' && complete -p dxforge" >/dev/null \
        || fail "the bash completion script does not register a completion for dxforge"
    grep -q '^\.TH' "$prefix/share/man/man1/dxforge.1" || fail "share/man/man1/dxforge.1 is not a roff man page"
    "$prefix/bin/dxforge" -C examples/demo status

    step "C: examples/c through pkg-config"
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    [ "$(pkg-config --modversion dxforge)" = "$version" ] || fail "pkg-config reports another version"
    local libdir
    libdir="$(pkg-config --variable=libdir dxforge)"
    [ "$(cd "$libdir" && pwd -P)" = "$(cd "$prefix/lib" && pwd -P)" ] \
        || fail "dxforge.pc's libdir $libdir is not the unpacked prefix's lib/"
    read -r -a pc <<<"$(pkg-config --cflags --libs dxforge)"
    cc -std=c11 -Wall -Wextra -Werror examples/c/status.c -o "$work/status-pkg-config" "${pc[@]}" "-Wl,-rpath,$libdir"
    readelf -d "$work/status-pkg-config" | grep -q "NEEDED.*\[$soname\]" || fail "the example does not need $soname"
    timeout 120 "$work/status-pkg-config" examples/demo

    step "C: examples/c through CMake (find_package(dxforge))"
    cmake -S examples/c -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$work/cmake-build" >/dev/null
    timeout 120 "$work/cmake-build/status" examples/demo
    timeout 120 "$work/cmake-build/status_static" examples/demo
}

install_build_tools
check_wheel_tags
install_sdist
without_rust
python_from_wheel
node_from_tarballs
c_from_tarball
echo
echo "dist: every artifact installed and ran without Rust"
