# Smoke test of port_scanner (run by ctest: bash port_scanner.smoke.sh <port_scanner>).
# Starts echo_server on a free port and scans a 200-port range around it: that port must be
# reported open and the scan must finish within its bounds.
set -euo pipefail
scanner="$1"
server="$(dirname "$scanner")/echo_server"
log="$(mktemp)"
trap 'kill -9 "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

"$server" --port 0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$log" && break; sleep 0.05; done
port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")"
[ -n "$port" ] || { echo "FAIL: no 'listening on' line" >&2; cat "$log"; exit 1; }

from=$(( port > 100 ? port - 100 : 1 ))
to=$(( from + 199 > 65535 ? 65535 : from + 199 ))
output="$(timeout 20 "$scanner" --from "$from" --to "$to" --concurrency 50 --timeout-ms 1000)"
echo "$output"
grep -q "^open: $port\$" <<<"$output" || { echo "FAIL: port $port not reported open" >&2; exit 1; }
grep -Eq "^scanned $(( to - from + 1 )) ports in [0-9.]+ s: [0-9]+ open, [0-9]+ closed, 0 timed out\$" <<<"$output" ||
  { echo "FAIL: summary line missing or wrong" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid"
