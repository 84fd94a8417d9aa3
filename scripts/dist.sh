#!/usr/bin/env bash
# Builds every release artifact of dxforge into dist/ (git-ignored):
#   dist/dxforge-<v>-cp310-abi3-manylinux_*_x86_64.whl   Python wheel (maturin)
#   dist/dxforge-<v>.tar.gz                              Python sdist (needs Rust to install)
#   dist/dxforge-<v>.tgz, dist/dxforge-linux-x64-gnu-<v>.tgz   npm packages (napi-rs layout)
#   dist/dxforge-<v>-linux-x86_64.tar.gz                 C library, header, pkg-config,
#                                                        CMake package, the CLI
# One `cargo build --release` builds the CLI, the C library and the Node addon
# in the shared target dir (CARGO_TARGET_DIR, as the tests use); maturin builds
# the Python module in the same target dir (see docs/decisions.md, issue 13).
# Usage: scripts/dist.sh   (from anywhere; needs Rust, Python 3, Node/npm)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
step() { printf '\n==> [dist] %s\n' "$*"; }

target="${CARGO_TARGET_DIR:-$repo/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
export CARGO_TARGET_DIR="$target"
release="$target/release"
dist="$repo/dist"
stage="$target/dist-stage"
version="$(sed -n 's/^#define DXFORGE_VERSION "\(.*\)"$/\1/p' include/dxforge.h)"
[ -n "$version" ] || { echo "no DXFORGE_VERSION in include/dxforge.h" >&2; exit 1; }
major="${version%%.*}"
minor="${version#*.}"
minor="${minor%%.*}"
# The SONAME's version, as bindings/c/build.rs sets it: MAJOR, or 0.MINOR before 1.0.
if [ "$major" = 0 ]; then soname_version="0.$minor"; else soname_version="$major"; fi

# No build path in any artifact: source paths compiled into panic messages
# become relative (the repository), ~/.cargo/… (dependencies) or target/…
# Only the release profile is built with these flags, so the tests' debug
# builds are not invalidated.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustflags=(--remap-path-prefix="$repo=." --remap-path-prefix="$cargo_home=~/.cargo"
    --remap-path-prefix="$target=target")
CARGO_ENCODED_RUSTFLAGS="$(printf '%s\x1f' "${rustflags[@]}")"
export CARGO_ENCODED_RUSTFLAGS="${CARGO_ENCODED_RUSTFLAGS%$'\x1f'}"

python_venv() {
    # The Python binding's development venv (scripts/test-python.sh uses it too).
    if [ ! -x python/.venv/bin/python ]; then
        "${PYTHON:-python3}" -m venv python/.venv
    fi
    python/.venv/bin/python -m pip install --quiet --disable-pip-version-check 'maturin>=1.9,<2'
}

build_rust() {
    step "cargo build --release (CLI, C library, Node addon)"
    cargo build --release --locked -p dxforge-cli -p dxforge-c -p dxforge-node
}

build_python() {
    step "Python wheel (maturin, abi3) and sdist"
    python_venv
    # maturin picks the oldest manylinux tag the module's symbols allow and
    # checks it (its built-in auditwheel); scripts/test-dist.sh checks the
    # result again with auditwheel itself.
    python/.venv/bin/maturin build --release --locked --strip -m python/Cargo.toml \
        --target-dir "$target" --out "$dist" --auditwheel check
    python/.venv/bin/maturin sdist -m python/Cargo.toml --out "$dist"
}

build_node() {
    step "npm packages: dxforge and dxforge-linux-x64-gnu (napi-rs per-platform layout)"
    local node_stage="$stage/node"
    rm -rf "$node_stage"
    mkdir -p "$node_stage/dxforge" "$node_stage/dxforge-linux-x64-gnu"
    # The platform package holds only the addon; index.js loads it with
    # require('dxforge-linux-x64-gnu') when no local .node file exists.
    local platform="$node_stage/dxforge-linux-x64-gnu"
    strip --strip-unneeded -o "$platform/dxforge.linux-x64-gnu.node" "$release/libdxforge_node.so"
    cp node/README.md "$node_stage/dxforge/"
    cp node/index.js node/index.mjs node/index.d.ts "$node_stage/dxforge/"
    DXFORGE_VERSION="$version" DXFORGE_STAGE="$node_stage" node - <<'EOF'
const fs = require('node:fs')
const path = require('node:path')
const { DXFORGE_VERSION: version, DXFORGE_STAGE: stage } = process.env
const main = JSON.parse(fs.readFileSync('node/package.json', 'utf8'))
if (main.version !== version) {
  throw new Error(`node/package.json: version ${main.version} differs from the library's ${version}`)
}
const platform = {
  name: 'dxforge-linux-x64-gnu',
  version,
  description: `${main.name} prebuilt addon for Linux x64 (glibc)`,
  license: main.license,
  os: ['linux'],
  cpu: ['x64'],
  libc: ['glibc'],
  main: 'dxforge.linux-x64-gnu.node',
  files: ['dxforge.linux-x64-gnu.node'],
  engines: main.engines,
}
delete main.devDependencies
delete main.scripts
main.files = ['index.js', 'index.mjs', 'index.d.ts', 'README.md']
main.optionalDependencies = { [platform.name]: version }
const write = (dir, pkg) => fs.writeFileSync(path.join(stage, dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
write('dxforge', main)
write('dxforge-linux-x64-gnu', platform)
EOF
    local pkg
    for pkg in dxforge-linux-x64-gnu dxforge; do
        (cd "$node_stage/$pkg" && npm pack --silent --pack-destination "$dist" >/dev/null)
    done
}

# Shell completions and the man page, generated by the CLI itself. A separate
# step: `dxforge completions` and `dxforge man` come with the CLI commands of
# issue 13 item 3; a CLI without them is reported and the tarball has no share/.
cli_completions_and_man() { # $1 = the dxforge binary, $2 = the install prefix
    local bin="$1" prefix="$2"
    if ! "$bin" --help | grep -qE '^\s+completions\b' || ! "$bin" --help | grep -qE '^\s+man\b'; then
        echo "note: this dxforge has no 'completions'/'man' command: the C tarball has no completions or man page"
        return 0
    fi
    mkdir -p "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
        "$prefix/share/fish/vendor_completions.d" "$prefix/share/man/man1"
    "$bin" completions bash >"$prefix/share/bash-completion/completions/dxforge"
    "$bin" completions zsh >"$prefix/share/zsh/site-functions/_dxforge"
    "$bin" completions fish >"$prefix/share/fish/vendor_completions.d/dxforge.fish"
    "$bin" man >"$prefix/share/man/man1/dxforge.1"
}

build_c() {
    local name="dxforge-$version-linux-x86_64"
    step "C tarball $name.tar.gz"
    local prefix="$stage/$name"
    rm -rf "$prefix"
    mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/dxforge" "$prefix/bin"
    cp include/dxforge.h "$prefix/include/"
    strip --strip-unneeded -o "$prefix/lib/libdxforge.so.$version" "$release/libdxforge.so"
    ln -s "libdxforge.so.$version" "$prefix/lib/libdxforge.so.$soname_version"
    ln -s "libdxforge.so.$soname_version" "$prefix/lib/libdxforge.so"
    # Debug sections only: the archive's symbol table is what a linker reads.
    strip --strip-debug -o "$prefix/lib/libdxforge.a" "$release/libdxforge.a"
    strip -o "$prefix/bin/dxforge" "$release/dxforge"
    local subst=(-e "s|@VERSION@|$version|g" -e "s|@SONAME_VERSION@|$soname_version|g"
        -e "s|@VERSION_MAJOR@|$major|g" -e "s|@VERSION_MINOR@|$minor|g")
    # pkg-config expands ${pcfiledir} to the .pc file's directory: relocatable.
    sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e 's|@LIBDIR@|${prefix}/lib|' \
        -e 's|@INCLUDEDIR@|${prefix}/include|' -e '/^#/d' "${subst[@]}" bindings/c/dxforge.pc.in \
        >"$prefix/lib/pkgconfig/dxforge.pc"
    sed "${subst[@]}" bindings/c/cmake/dxforgeConfig.cmake.in >"$prefix/lib/cmake/dxforge/dxforgeConfig.cmake"
    sed "${subst[@]}" bindings/c/cmake/dxforgeConfigVersion.cmake.in \
        >"$prefix/lib/cmake/dxforge/dxforgeConfigVersion.cmake"
    cli_completions_and_man "$prefix/bin/dxforge" "$prefix"
    if grep -rlF -e "$repo" -e "$target" -e "$cargo_home" "$prefix"; then
        echo "the files above contain a build path: the tarball would not be relocatable" >&2
        exit 1
    fi
    tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$dist/$name.tar.gz" "$name"
}

rm -rf "$dist"
mkdir -p "$dist"
build_rust
build_python
build_node
build_c
step "artifacts"
(cd "$dist" && ls -l)
