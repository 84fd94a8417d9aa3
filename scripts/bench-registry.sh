#!/usr/bin/env bash
# Benchmark of registry items (issue 12), every figure a median of
# DXFORGE_BENCH_RUNS runs (default 5), all from one local HTTP server
# (python3 -m http.server) serving a generated 30-item component set:
#   1. `dxforge add` of the set (one item whose registryDependencies are the
#      30 components, as `@bench/<name>`; each component depends on `utils`
#      and most on the one before it), into a fresh project with
#      components.json (which names the same `@bench` registry for shadcn)
#      and tsconfig paths;
#   2. `npx shadcn add` of the same set URL from the same server into the same
#      project (skipped, saying why, when the shadcn CLI cannot be fetched);
#   3. `dxforge update` after the user edited all 30 components and upstream
#      changed another line of each: 30 three-way merges (Yellow).
# Usage: scripts/bench-registry.sh   (DXFORGE_BIN=path/to/dxforge to pick a
# build; default: $CARGO_TARGET_DIR/release/dxforge, else debug)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${DXFORGE_BENCH_RUNS:-5}"
target="${CARGO_TARGET_DIR:-$repo/target}"
dx="${DXFORGE_BIN:-}"
if [ -z "$dx" ]; then
    if [ -x "$target/release/dxforge" ]; then dx="$target/release/dxforge"; else dx="$target/debug/dxforge"; fi
fi
[ -x "$dx" ] || { echo "no dxforge binary at $dx: cargo build -p dxforge-cli first" >&2; exit 1; }
shadcn_version="${DXFORGE_BENCH_SHADCN:-4.23.1}"
work="$(mktemp -d)"
http_pid=""
cleanup() { [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# The set: v1 and v2 (v2 changes line 3 of every component), and a project template.
python3 - "$work" "$base" <<'EOF'
import json, os, sys
work, base = sys.argv[1], sys.argv[2]
def component(i, version):
    lines = [f'import {{ cn }} from "@/registry/bench/lib/utils"']
    if i % 5:
        lines.append(f'import {{ C{i-1:02d} }} from "@/registry/bench/ui/c{i-1:02d}"')
    lines.append(f"// component {i:02d} {'v2 upstream change' if version == 2 else 'v1'}")
    for n in range(60):
        lines.append(f'export const c{i:02d}_{n} = cn("p-{n % 8}", "m-{i % 8}")')
    lines.append(f"export function C{i:02d}() {{ return c{i:02d}_0 }}")
    return "\n".join(lines) + "\n"
for version in (1, 2):
    d = os.path.join(work, "www", f"v{version}", "r")
    os.makedirs(d)
    def put(name, item):
        with open(os.path.join(d, f"{name}.json"), "w") as f:
            json.dump(item, f, indent=2)
    put("utils", {"name": "utils", "type": "registry:lib", "files": [{
        "path": "registry/bench/lib/utils.ts", "type": "registry:lib",
        "content": "export function cn(...a: string[]) {\n  return a.join(\" \")\n}\n"}]})
    for i in range(30):
        deps = ["@bench/utils"]
        if i % 5:
            deps.append(f"@bench/c{i-1:02d}")
        put(f"c{i:02d}", {"name": f"c{i:02d}", "type": "registry:ui", "registryDependencies": deps,
            "files": [{"path": f"registry/bench/ui/c{i:02d}.tsx", "type": "registry:ui",
                       "content": component(i, version)}]})
    put("set", {"name": "set", "type": "registry:ui",
                "registryDependencies": [f"@bench/c{i:02d}" for i in range(30)],
                "files": []})
p = os.path.join(work, "project")
os.makedirs(os.path.join(p, "src"))
with open(os.path.join(p, "components.json"), "w") as f:
    json.dump({"style": "new-york", "rsc": False, "tsx": True,
               "tailwind": {"config": "", "css": "src/index.css", "baseColor": "", "cssVariables": True},
               "aliases": {"components": "@/components", "utils": "@/lib/utils", "ui": "@/components/ui",
                           "lib": "@/lib", "hooks": "@/hooks"},
               "registries": {"@bench": f"{base}/v1/r/{{name}}.json"}}, f, indent=2)
with open(os.path.join(p, "tsconfig.json"), "w") as f:
    json.dump({"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./src/*"]}}}, f, indent=2)
with open(os.path.join(p, "package.json"), "w") as f:
    json.dump({"name": "bench", "version": "0.0.0", "private": True,
               "dependencies": {"react": "19.0.0"}}, f, indent=2)
open(os.path.join(p, "src", "index.css"), "w").write('@import "tailwindcss";\n')
with open(os.path.join(p, "dxforge.toml"), "w") as f:
    f.write(f'[registries]\n"@bench" = "{base}/v1/r/{{name}}.json"\n')
EOF
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >"$work/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

now() { python3 -c 'import time; print(time.monotonic())'; }
median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "$@"; }
fresh() { rm -rf "$work/run"; cp -r "$work/project" "$work/run"; }

echo "dxforge: $dx; $runs runs each; server $base"

adds=()
for _ in $(seq 1 "$runs"); do
    fresh
    t0="$(now)"
    "$dx" -C "$work/run" add @bench/set >"$work/add.log"
    t1="$(now)"
    adds+=("$(python3 -c "print($t1 - $t0)")")
done
count="$(find "$work/run/src/components/ui" -name 'c*.tsx' | wc -l)"
[ "$count" = 30 ] || { echo "dxforge add placed $count components, expected 30" >&2; exit 1; }
echo "dxforge add (30 items + utils, $count files): median $(median "${adds[@]}") s"

updates=()
for _ in $(seq 1 "$runs"); do
    fresh
    "$dx" -C "$work/run" add @bench/set >/dev/null
    for f in "$work"/run/src/components/ui/c*.tsx; do
        sed -i 's/^export const \(c[0-9]*\)_40 = .*/export const \1_40 = "user edit"/' "$f"
    done
    sed -i 's#/v1/r/#/v2/r/#' "$work/run/dxforge.toml"
    t0="$(now)"
    "$dx" -C "$work/run" update >"$work/update.log"
    t1="$(now)"
    updates+=("$(python3 -c "print($t1 - $t0)")")
done
yellow="$(grep -c '^YELLOW' "$work/update.log" || true)"
[ "$yellow" = 30 ] || { echo "update merged $yellow files, expected 30 Yellow" >&2; cat "$work/update.log" >&2; exit 1; }
echo "dxforge update (30 edited files, 30 Yellow merges): median $(median "${updates[@]}") s"

shadcn=(npx --yes "shadcn@$shadcn_version" add --yes --overwrite --silent)
if ! (cd "$work/project" && timeout 300 npx --yes "shadcn@$shadcn_version" --version) >"$work/shadcn-version.log" 2>&1; then
    echo "npx shadcn add: skipped: the shadcn CLI $shadcn_version could not be fetched from the npm registry:"
    tail -3 "$work/shadcn-version.log"
    exit 0
fi
times=()
for _ in $(seq 1 "$runs"); do
    fresh
    t0="$(now)"
    if ! (cd "$work/run" && "${shadcn[@]}" @bench/set) >"$work/shadcn.log" 2>&1; then
        echo "npx shadcn add failed; its output:" >&2
        tail -20 "$work/shadcn.log" >&2
        exit 1
    fi
    t1="$(now)"
    times+=("$(python3 -c "print($t1 - $t0)")")
done
count="$(find "$work/run/src/components/ui" -name 'c*.tsx' 2>/dev/null | wc -l)"
echo "npx shadcn@$shadcn_version add (same set, same server, $count files; npx cache warm): median $(median "${times[@]}") s"
