# Smoke test of echo_server and echo_client (run by ctest: bash echo_server.smoke.sh <echo_server>).
# Starts the server on a free port, talks to it with echo_client, then stops it with SIGTERM
# and expects a clean exit.
set -euo pipefail
server="$1"
client="$(dirname "$server")/echo_client"
log="$(mktemp)"
trap 'kill -9 "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

"$server" --port 0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.05; done
port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
[ -n "$port" ] || { echo "FAIL: no 'listening on' line" >&2; cat "$log"; exit 1; }

output="$(timeout 10 "$client" --port "$port" "Hello World!" "second line")"
echo "$output"
grep -q '^received: Hello World!$' <<<"$output" || { echo "FAIL: no echo" >&2; exit 1; }
grep -q '^received: second line$' <<<"$output" || { echo "FAIL: no second echo" >&2; exit 1; }

# A client that sends and leaves without reading must not upset the server.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'hit and run' >&3
exec 3>&-

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: server did not stop on SIGTERM" >&2; cat "$log"; exit 1; fi
wait "$pid" || { echo "FAIL: server exited with $?" >&2; cat "$log"; exit 1; }
cat "$log"
grep -q '^stopped$' "$log" || { echo "FAIL: no clean stop" >&2; exit 1; }
