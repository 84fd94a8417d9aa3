# Sourced by scripts/dist.sh and scripts/test-dist.sh: the environment of the
# release builds, identical in both so that the second reuses what the first
# compiled in the shared target dir. Needs $repo; sets and exports
# CARGO_TARGET_DIR and CARGO_ENCODED_RUSTFLAGS.
#
# No build path in any artifact: source paths compiled into panic messages
# become relative (the repository), ~/.cargo/… (dependencies) or target/…
# Only release builds get these flags, so the tests' debug builds are not
# invalidated.
target="${CARGO_TARGET_DIR:-$repo/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
export CARGO_TARGET_DIR="$target"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustflags=(--remap-path-prefix="$repo=." --remap-path-prefix="$cargo_home=~/.cargo"
    --remap-path-prefix="$target=target")
CARGO_ENCODED_RUSTFLAGS="$(printf '%s\x1f' "${rustflags[@]}")"
export CARGO_ENCODED_RUSTFLAGS="${CARGO_ENCODED_RUSTFLAGS%$'\x1f'}"
unset rustflags
