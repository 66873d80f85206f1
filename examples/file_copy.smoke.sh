# Smoke test of file_copy (run by ctest: bash file_copy.smoke.sh <path-to-file_copy>).
# Copies a 24 MiB file of random bytes with 4 reads in flight; the copy must be identical,
# and a missing source must fail with a message naming it.
set -euo pipefail
binary="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/eddy-file_copy-XXXXXX")"
trap 'rm -rf "$work"' EXIT
head -c $((24 * 1024 * 1024 + 12345)) /dev/urandom > "$work/source"
output="$("$binary" "$work/source" "$work/copy" 4)"
echo "$output"
grep -Eq '^copied 25178169 bytes in [0-9.]+ s: [0-9.]+ MB/s \(4 reads in flight, 1 MiB chunks, backend ' <<<"$output" ||
  { echo "FAIL: summary line missing or wrong" >&2; exit 1; }
cmp "$work/source" "$work/copy" || { echo "FAIL: the copy differs" >&2; exit 1; }
if "$binary" "$work/missing" "$work/copy2" 2>"$work/error"; then
  echo "FAIL: copying a missing file succeeded" >&2
  exit 1
fi
grep -q "open_file '$work/missing'" "$work/error" || { echo "FAIL: error does not name the path" >&2; cat "$work/error" >&2; exit 1; }
