# Smoke test of port_scanner (run by ctest: bash port_scanner.smoke.sh <port_scanner>).
# Starts echo_server on a free port and scans a 200-port range around it: that port must be
# reported open and the scan must finish within its bounds.
set -euo pipefail
scanner="$1"
server="$(dirname "$scanner")/echo_server"
source "$(dirname "${BASH_SOURCE[0]}")/smoke_server.bash"
start_example_server "$server"
port="$server_port"

from=$(( port > 100 ? port - 100 : 1 ))
to=$(( from + 199 > 65535 ? 65535 : from + 199 ))
output="$(timeout 20 "$scanner" --from "$from" --to "$to" --concurrency 50 --timeout-ms 1000)"
echo "$output"
grep -q "^open: $port\$" <<<"$output" || { echo "FAIL: port $port not reported open" >&2; exit 1; }
grep -Eq "^scanned $(( to - from + 1 )) ports in [0-9.]+ s: [0-9]+ open, [0-9]+ closed, 0 timed out\$" <<<"$output" ||
  { echo "FAIL: summary line missing or wrong" >&2; exit 1; }
stop_example_server
