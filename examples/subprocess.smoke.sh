# Smoke test of subprocess (run by ctest: bash subprocess.smoke.sh <path-to-subprocess>).
set -euo pipefail
binary="$1"
output="$("$binary")"
echo "$output"
expected_lines=$(ls -l / | wc -l)
grep -qx "ls -l / printed $expected_lines lines, exit code 0" <<<"$output" ||
  { echo "FAIL: ls line count wrong or missing" >&2; exit 1; }
grep -qx "pipeline: 2 lines matched 'it's', exit code 0" <<<"$output" ||
  { echo "FAIL: pipeline line missing" >&2; exit 1; }
grep -qx "tr said: HELLO FROM EDDY" <<<"$output" || { echo "FAIL: tr output missing" >&2; exit 1; }
grep -qx "tr exit code 0" <<<"$output" || { echo "FAIL: tr exit code missing" >&2; exit 1; }
