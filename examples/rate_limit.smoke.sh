# Smoke test of rate_limit (run by ctest: bash rate_limit.smoke.sh <path-to-rate_limit>).
# 20 jobs of 0.05 s through semaphore(5): 4 waves, so at least 0.2 s, and never more than 5 at once.
set -euo pipefail
binary="$1"
output="$("$binary" 0.05)"
echo "$output"
[ "$(grep -c '^job [0-9]* done$' <<<"$output")" -eq 20 ] || { echo "FAIL: expected 20 jobs done" >&2; exit 1; }
grep -q '^20 jobs of 0.050 s, at most 5 at once: [0-9.]* s (4 waves)$' <<<"$output" ||
  { echo "FAIL: summary line missing or wrong" >&2; exit 1; }
if grep -q 'starts ([6-9] running)' <<<"$output"; then
  echo "FAIL: more than 5 jobs ran at once" >&2
  exit 1
fi
