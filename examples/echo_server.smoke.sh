# Smoke test of echo_server and echo_client (run by ctest: bash echo_server.smoke.sh <echo_server>).
# Starts the server on a free port, talks to it with echo_client, then stops it with SIGTERM
# and expects a clean exit.
set -euo pipefail
server="$1"
client="$(dirname "$server")/echo_client"
source "$(dirname "${BASH_SOURCE[0]}")/smoke_server.bash"
start_example_server "$server"
port="$server_port"

output="$(timeout 10 "$client" --port "$port" "Hello World!" "second line")"
echo "$output"
grep -q '^received: Hello World!$' <<<"$output" || { echo "FAIL: no echo" >&2; exit 1; }
grep -q '^received: second line$' <<<"$output" || { echo "FAIL: no second echo" >&2; exit 1; }

# A client that sends and leaves without reading must not upset the server.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'hit and run' >&3
exec 3>&-

stop_example_server
