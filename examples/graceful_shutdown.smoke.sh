# Smoke test of graceful_shutdown (run by ctest: bash graceful_shutdown.smoke.sh <binary>).
# 1. SIGTERM with one client connected: the server stops accepting, the client still gets its
#    echo, and the server exits 0 as soon as the client leaves.
# 2. SIGINT with a client that never leaves: after the 0.5 s grace the server closes it and
#    exits 0.
set -euo pipefail
binary="$1"
log="$(mktemp)"
trap 'rm -f "$log"; kill %1 2>/dev/null || true' EXIT

wait_for_line() {  # wait_for_line <regex>: up to 10 s for the log to show it
  for _ in $(seq 100); do
    grep -q "$1" "$log" && return 0
    sleep 0.1
  done
  echo "FAIL: no line matching '$1'" >&2
  cat "$log" >&2
  exit 1
}

start_server() {  # start_server <grace-seconds>: sets server_pid and port
  : >"$log"
  "$binary" 0 "$1" >"$log" 2>&1 &
  server_pid=$!
  wait_for_line '^listening on 127.0.0.1:'
  port="$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log")"
}

# --- 1. SIGTERM drains ------------------------------------------------------------------------
start_server 5
exec 3<>"/dev/tcp/127.0.0.1/$port"
echo "before" >&3
read -r -t 5 reply <&3
[ "$reply" = "echo: before" ] || { echo "FAIL: echo before shutdown: '$reply'" >&2; exit 1; }
kill -TERM "$server_pid"
wait_for_line '^got SIGTERM: no new connections; 1 still open'
if (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "FAIL: the server still accepts after SIGTERM" >&2
  exit 1
fi
echo "during" >&3
read -r -t 5 reply <&3
[ "$reply" = "echo: during" ] || { echo "FAIL: echo while draining: '$reply'" >&2; exit 1; }
exec 3>&-
wait "$server_pid"  # set -e: fails on a non-zero exit
cat "$log"
grep -qx 'all connections finished' "$log" || { echo "FAIL: did not drain" >&2; exit 1; }
grep -qx 'clean exit' "$log" || { echo "FAIL: no clean exit" >&2; exit 1; }

# --- 2. SIGINT, grace period runs out ----------------------------------------------------------
start_server 0.5
exec 3<>"/dev/tcp/127.0.0.1/$port"
wait_for_line '^client 1 connected'
kill -INT "$server_pid"
wait "$server_pid"
cat "$log"
grep -q '^got SIGINT' "$log" || { echo "FAIL: SIGINT not handled" >&2; exit 1; }
grep -qx 'grace period over: closing 1 connections' "$log" || { echo "FAIL: no forced close" >&2; exit 1; }
grep -qx 'clean exit' "$log" || { echo "FAIL: no clean exit" >&2; exit 1; }
exec 3>&-
