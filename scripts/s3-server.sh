#!/usr/bin/env bash
# Start/stop a local S3-compatible server (s3s-fs, which checks SigV4 signatures) for the
# dxforge-worker sync tests.
#
#   eval "$(scripts/s3-server.sh start)"   # starts it (if needed) and exports the test env
#   scripts/s3-server.sh env               # prints the exports again
#   scripts/s3-server.sh stop
#
# State lives in ${DXFORGE_S3_DIR:-/tmp/dxforge-s3}: data/ (one folder per bucket), pid, env, log.
# Install the server with: cargo install s3s-fs@0.14.1 --features binary --locked
set -euo pipefail

dir="${DXFORGE_S3_DIR:-/tmp/dxforge-s3}"
bucket="${DXFORGE_S3_BUCKET:-dxforge-test}"
pidfile="$dir/pid"
envfile="$dir/env"

running() {
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        port_open "$p" || { echo "$p"; return; }
    done
    echo "no free port found" >&2
    exit 1
}

random_token() {
    head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'
}

start() {
    if running; then
        cat "$envfile"
        return
    fi
    local bin
    bin="$(command -v s3s-fs || true)"
    [[ -z "$bin" && -x "$HOME/.cargo/bin/s3s-fs" ]] && bin="$HOME/.cargo/bin/s3s-fs"
    if [[ -z "$bin" ]]; then
        echo "s3s-fs not found; install it with: cargo install s3s-fs@0.14.1 --features binary --locked" >&2
        exit 1
    fi
    mkdir -p "$dir/data/$bucket"
    local port key secret
    port="$(free_port)"
    key="DXTEST$(random_token 6)"
    secret="$(random_token 20)"
    nohup "$bin" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" \
        "$dir/data" >"$dir/log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        port_open "$port" && break
        running || { echo "s3s-fs exited; see $dir/log" >&2; exit 1; }
        sleep 0.1
    done
    port_open "$port" || { echo "s3s-fs did not open port $port; see $dir/log" >&2; exit 1; }
    umask 077
    cat >"$envfile" <<ENV
export DXFORGE_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export DXFORGE_TEST_S3_ACCESS_KEY=$key
export DXFORGE_TEST_S3_SECRET_KEY=$secret
export DXFORGE_TEST_S3_BUCKET=$bucket
ENV
    cat "$envfile"
}

stop() {
    if running; then
        kill "$(cat "$pidfile")"
    fi
    rm -f "$pidfile" "$envfile"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) if running; then cat "$envfile"; else echo "not running; use: $0 start" >&2; exit 1; fi ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
