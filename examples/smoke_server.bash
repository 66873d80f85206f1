# Shared by the smoke tests of the example servers (sourced, not run; not a *.smoke.sh itself).
#
#   start_example_server BINARY [ARGS...]   starts it with --port 0, waits (up to 5 s) for its
#                                           "listening on 127.0.0.1:PORT" line; sets
#                                           server_pid, server_port and server_log
#   stop_example_server                     SIGTERM, then expects a clean exit and "stopped"
# The server is killed on exit whatever happens.

start_example_server() {
  server_log="$(mktemp)"
  "$@" --port 0 >"$server_log" 2>&1 &
  server_pid=$!
  trap 'kill -9 "$server_pid" 2>/dev/null || true; rm -f "$server_log"' EXIT
  for _ in $(seq 100); do grep -q '^listening on ' "$server_log" && break; sleep 0.05; done
  server_port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$server_log")"
  if [ -z "$server_port" ]; then
    echo "FAIL: no 'listening on' line" >&2
    cat "$server_log" >&2
    exit 1
  fi
}

stop_example_server() {
  kill -TERM "$server_pid"
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  local status=0
  wait "$server_pid" || status=$?
  if [ "$status" -ne 0 ] || ! grep -q '^stopped$' "$server_log"; then
    echo "FAIL: no clean stop on SIGTERM (exit status $status)" >&2
    cat "$server_log" >&2
    exit 1
  fi
}
