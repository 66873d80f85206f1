# Smoke test of chat_server (run by ctest: bash chat_server.smoke.sh <chat_server>).
# Two clients join; a line from the first reaches the second; the first leaves and the second
# hears about it; SIGTERM then stops the server cleanly.
set -euo pipefail
server="$1"
log="$(mktemp)"
trap 'kill -9 "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

"$server" --port 0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.05; done
port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
[ -n "$port" ] || { echo "FAIL: no 'listening on' line" >&2; cat "$log"; exit 1; }

expect_line() {  # expect_line FD TEXT
  local line
  IFS= read -r -t 5 line <&"$1" || { echo "FAIL: no line on fd $1 (wanted '$2')" >&2; exit 1; }
  [ "$line" = "$2" ] || { echo "FAIL: fd $1 got '$line', wanted '$2'" >&2; exit 1; }
  echo "fd $1: $line"
}

exec 3<>"/dev/tcp/127.0.0.1/$port"
expect_line 3 "welcome, you are guest-1"
exec 4<>"/dev/tcp/127.0.0.1/$port"
expect_line 4 "welcome, you are guest-2"
expect_line 3 "* guest-2 joined"

echo "hello" >&3
expect_line 4 "guest-1: hello"
echo "hi there" >&4
expect_line 3 "guest-2: hi there"

exec 3>&-
expect_line 4 "* guest-1 left"

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
wait "$pid" || { echo "FAIL: server exited with $?" >&2; cat "$log"; exit 1; }
grep -q '^stopped$' "$log" || { echo "FAIL: no clean stop" >&2; cat "$log"; exit 1; }
