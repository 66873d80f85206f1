# Smoke test of request_context (run by ctest: bash request_context.smoke.sh <path-to-binary>).
# The whole output, in order: each line carries the id of the request it belongs to.
set -euo pipefail
binary="$1"
output="$("$binary")"
echo "$output"
expected='[a] handling
[b] handling
[a] checksum computed on a worker thread
[b] checksum computed on a worker thread
[a] audited
[b] audited
[-] done'
[ "$output" = "$expected" ] || { echo "FAIL: output differs from the expected lines" >&2; exit 1; }
