# Smoke test of chat_server (run by ctest: bash chat_server.smoke.sh <chat_server>).
# Two clients join; a line from the first reaches the second; the first leaves and the second
# hears about it; SIGTERM then stops the server cleanly.
set -euo pipefail
server="$1"
source "$(dirname "${BASH_SOURCE[0]}")/smoke_server.bash"
start_example_server "$server"
port="$server_port"

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

stop_example_server
