# Smoke test of http_hello (run by ctest: bash http_hello.smoke.sh <http_hello>).
# Two pipelined requests and a 404 on one keep-alive connection, then an oversized request
# that must get the connection closed, then SIGTERM and a clean exit.
set -euo pipefail
server="$1"
source "$(dirname "${BASH_SOURCE[0]}")/smoke_server.bash"
start_example_server "$server"
port="$server_port"

ok=$'HTTP/1.1 200 OK\r\nServer: eddy\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!'
missing=$'HTTP/1.1 404 Not Found\r\nServer: eddy\r\nContent-Length: 0\r\n\r\n'
expected="$ok$ok$missing"

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' >&3
reply=""
while [ "${#reply}" -lt "${#expected}" ]; do
  IFS= read -r -d '' -t 5 -n $(( ${#expected} - ${#reply} )) chunk <&3 || { reply+="$chunk"; break; }
  reply+="$chunk"
done
[ "$reply" = "$expected" ] || { echo "FAIL: unexpected reply:"; printf '%q\n' "$reply"; exit 1; } >&2
echo "pipelined: two 200s and a 404, in order"

# 16 KiB of a request that never ends: the server hangs up.
head -c 20000 /dev/zero | tr '\0' 'a' >&3 || true
status=0
IFS= read -r -t 5 -n 1 _ <&3 || status=$?
# 0: data arrived; > 128: timed out with the connection still open; 1: end of file or reset.
[ "$status" -eq 1 ] || { echo "FAIL: connection not closed after an oversized request ($status)" >&2; exit 1; }
exec 3>&-
echo "oversized request: connection closed"

stop_example_server
