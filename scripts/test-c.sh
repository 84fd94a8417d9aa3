#!/usr/bin/env bash
# Builds and tests the C binding of dxforge (bindings/c):
#   1. builds libdxforge.so / libdxforge.a (debug) and regenerates include/dxforge.h,
#      failing when the committed header is stale;
#   2. writes dxforge.pc (prefix = the target directory) and compiles everything
#      through `pkg-config --cflags --libs dxforge`;
#   3. compiles the header as C11 and as C++17 with -Wall -Wextra -pedantic -Werror;
#   4. runs the C tests (API, lifecycle and callbacks, the shared scenarios)
#      against the shared library, again under AddressSanitizer/LeakSanitizer,
#      the API test under valgrind, and once linked statically;
#   5. builds and runs examples/c.
# Usage: scripts/test-c.sh            (from anywhere; exits non-zero on any failure)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
step() { printf '\n==> [c] %s\n' "$*"; }

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
libdir="$target_dir/debug"
out="$target_dir/dxforge-c"
mkdir -p "$out/pkgconfig" "$out/bin"

if ! command -v pkg-config >/dev/null 2>&1; then
    step "installing pkg-config"
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq pkgconf) >/dev/null
    else
        python3 -m pip install --quiet pkgconf && ln -sf "$(command -v pkgconf)" "$out/bin/pkg-config"
        export PATH="$out/bin:$PATH"
    fi
fi

step "build libdxforge (debug) and regenerate include/dxforge.h"
cargo build -p dxforge-c --locked
# Programs linked with -ldxforge load the library by its SONAME
# (libdxforge.so.0.1, set by bindings/c/build.rs): give it that name too.
soname="$(readelf -d "$libdir/libdxforge.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ -n "$soname" ] || { echo "$libdir/libdxforge.so has no SONAME" >&2; exit 1; }
ln -sfn libdxforge.so "$libdir/$soname"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "not a git checkout: cannot compare include/dxforge.h with the committed one" >&2
    exit 1
elif ! git diff --quiet HEAD -- include/dxforge.h; then
    git --no-pager diff --stat HEAD -- include/dxforge.h || true
    echo "include/dxforge.h is stale: it differs from what cbindgen generates from bindings/c." >&2
    echo "Commit the regenerated header." >&2
    exit 1
fi

version="$(sed -n 's/^#define DXFORGE_VERSION "\(.*\)"$/\1/p' include/dxforge.h)"
sed -e "s|@PREFIX@|$target_dir|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$repo/include|" \
    -e "s|@VERSION@|$version|" bindings/c/dxforge.pc.in >"$out/pkgconfig/dxforge.pc"
export PKG_CONFIG_PATH="$out/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[ "$(pkg-config --modversion dxforge)" = "$version" ]

CFLAGS=(-std=c11 -Wall -Wextra -pedantic -Werror -Wundef -D_XOPEN_SOURCE=700 -g)
CXXFLAGS=(-std=c++17 -Wall -Wextra -pedantic -Werror -Wundef -g)
read -r -a PC_CFLAGS <<<"$(pkg-config --cflags dxforge)"
read -r -a PC_LIBS <<<"$(pkg-config --libs dxforge)"
RPATH=("-Wl,-rpath,$(pkg-config --variable=libdir dxforge)")

step "compile the header as C11 and C++17"
printf '#include "dxforge.h"\nint main(void) { return dxforge_version() == 0; }\n' >"$out/header_only.c"
cc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" -c "$out/header_only.c" -o "$out/header_only.o"
c++ "${CXXFLAGS[@]}" "${PC_CFLAGS[@]}" tests/c/test_cxx.cpp -o "$out/test_cxx" "${PC_LIBS[@]}" "${RPATH[@]}"

step "compile the C tests against the shared library"
C_TESTS=(test_api test_lifecycle test_scenarios test_traffic test_worker test_registries)
for t in "${C_TESTS[@]}"; do
    cc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" "tests/c/$t.c" -o "$out/$t" "${PC_LIBS[@]}" "${RPATH[@]}" -lpthread
done
tools="$repo/tests/scenarios/tools"
registry="$repo/examples/registry"
# The worker test's push/pull round trip needs the local S3-compatible server
# that scripts/test.sh starts; start it here too when run alone and installed.
# A server that was already running (someone else's) is reused and left running.
if [ -z "${DXFORGE_TEST_S3_ENDPOINT:-}" ] && command -v s3s-fs >/dev/null 2>&1; then
    if s3_env="$(bash scripts/s3-server.sh env 2>/dev/null)"; then
        eval "$s3_env"
    else
        eval "$(bash scripts/s3-server.sh start)"
        s3_stop='bash scripts/s3-server.sh stop'
        trap 'bash scripts/s3-server.sh stop' EXIT
    fi
fi
# The registry-item test fetches the fixture registry over real HTTP.
http_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "$repo/examples/shadcn-registry" "$http_port" \
    >"$out/http-server.log" 2>&1 &
http_pid=$!
cleanup_http() { kill "$http_pid" 2>/dev/null || true; }
trap 'cleanup_http; ${s3_stop:-}' EXIT
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && break
    sleep 0.1
done
run_all() { # $1 = binary suffix
    "$out/test_api$1" "$tools"
    "$out/test_lifecycle$1" "$tools"
    "$out/test_scenarios$1" "$repo/tests/scenarios"
    "$out/test_traffic$1" "$registry"
    "$out/test_worker$1" "$registry"
    "$out/test_registries$1" "http://127.0.0.1:$http_port"
}

step "run the C tests"
"$out/test_cxx"
run_all ""

step "static link (libdxforge.a -lpthread -ldl -lm)"
cc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" tests/c/test_api.c -o "$out/test_api_static" \
    "$libdir/libdxforge.a" -lpthread -ldl -lm
if ldd "$out/test_api_static" | grep -q libdxforge; then
    echo "test_api_static is linked to libdxforge.so, not libdxforge.a" >&2
    exit 1
fi
"$out/test_api_static" "$tools"

step "AddressSanitizer + LeakSanitizer (every C test, real processes)"
ASAN=(-fsanitize=address -fno-omit-frame-pointer)
for t in "${C_TESTS[@]}" leak_canary; do
    cc "${CFLAGS[@]}" "${ASAN[@]}" "${PC_CFLAGS[@]}" "tests/c/$t.c" -o "$out/${t}_asan" "${PC_LIBS[@]}" "${RPATH[@]}" -lpthread
done
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
run_all _asan
# The canary leaks on purpose: the checker must catch it, or its silence above means nothing.
if "$out/leak_canary_asan" >"$out/leak_canary_asan.log" 2>&1; then
    echo "LeakSanitizer missed the deliberate leak of tests/c/leak_canary.c" >&2
    exit 1
fi
grep -q "LeakSanitizer: detected memory leaks" "$out/leak_canary_asan.log"

step "valgrind memcheck (API test without child processes or fork: valgrind 3.19 lacks pidfd_open)"
VALGRIND=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1
    --suppressions="$repo/tests/c/valgrind.supp")
DXFORGE_TEST_VALGRIND=1 "${VALGRIND[@]}" "$out/test_api" "$tools"
cc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" tests/c/leak_canary.c -o "$out/leak_canary" "${PC_LIBS[@]}" "${RPATH[@]}"
if "${VALGRIND[@]}" "$out/leak_canary" >"$out/leak_canary_vg.log" 2>&1; then
    echo "valgrind missed the deliberate leak of tests/c/leak_canary.c" >&2
    exit 1
fi
grep -q "definitely lost" "$out/leak_canary_vg.log"

step "example (examples/c)"
# The demo uses fixed ports; another suite running the demo at the same time
# would hold them, so wait (up to 2 minutes) until they are free.
for _ in $(seq 1 240); do
    busy=0
    for port in 15433 18080; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then busy=1; fi
    done
    [ "$busy" = 0 ] && break
    sleep 0.5
done
cc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" examples/c/status.c -o "$out/example_status" "${PC_LIBS[@]}" "${RPATH[@]}"
"$out/example_status" "$repo/examples/demo"

echo
echo "C binding: all tests passed"
