# Helpers for the tests of `adamas serve` (sourced after _lib.sh).
# start_server NAME ARGS...: starts the server on a free loopback port
# (--port 0), waits for it to listen, and sets NAME_URL and NAME_PID.
# Every server started is stopped (SIGTERM) when the script exits.
SERVER_PIDS=()
stop_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap stop_servers EXIT
start_server() {
    local name=$1; shift
    "$ADAMAS" serve --port 0 "$@" 2>"$TMP/$name.log" &
    local pid=$! port=""
    SERVER_PIDS+=("$pid")
    for _ in $(seq 600); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/$name.log" 2>/dev/null)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$TMP/$name.log" >&2; fail "server $name exited at start"; }
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$TMP/$name.log" >&2; fail "server $name did not start listening"; }
    printf -v "${name}_URL" 'http://127.0.0.1:%s' "$port"
    printf -v "${name}_PID" '%s' "$pid"
}
