#!/usr/bin/env bash
# eddy's lint checks, with Debian 12's clang-format-19 and clang-tidy-19.
#
#   scripts/lint.sh [build-dir]   clang-format-19 --dry-run -Werror (.clang-format) over the
#                                 tracked .hpp and .cpp files, then clang-tidy-19 (.clang-tidy)
#                                 over src/**/*.cpp and examples/*.cpp, with the flags of
#                                 <build-dir>/compile_commands.json (default build/clang19, the
#                                 `clang19` preset's: `cmake --preset clang19` makes it)
#
# Environment: EDDY_JOBS (clang-tidy processes at once; default 2).
# Prints one summary line per tool and exits 1 when either finds anything (2: bad usage or a
# missing tool or compilation database). Full output: build/lint-clang-format.log and
# build/lint-clang-tidy.log. Nothing is changed: to format, `clang-format-19 -i <files>`.
set -euo pipefail

readonly CLANG_FORMAT=clang-format-19
readonly CLANG_TIDY=clang-tidy-19
readonly RUN_CLANG_TIDY=run-clang-tidy-19

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

build_dir=
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    -*) echo "lint: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    *)
      if [[ -n $build_dir ]]; then
        echo "lint: one build directory at most" >&2
        usage >&2
        exit 2
      fi
      build_dir=$arg
      ;;
  esac
done

# A build directory given is taken relative to where the script was started.
if [[ -n $build_dir && $build_dir != /* ]]; then
  build_dir=$PWD/$build_dir
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
build_dir=${build_dir:-$repo_root/build/clang19}
jobs=${EDDY_JOBS:-2}

say() { printf '\n== %s\n' "$*"; }

missing_tools=()
for tool in "$CLANG_FORMAT" "$CLANG_TIDY" "$RUN_CLANG_TIDY"; do
  command -v "$tool" >/dev/null 2>&1 || missing_tools+=("$tool")
done
if [[ ${#missing_tools[@]} != 0 ]]; then
  echo "lint: missing ${missing_tools[*]} (Debian: apt-get install clang-format-19 clang-tidy-19;" \
       "scripts/quickstart.sh installs them)" >&2
  exit 2
fi
if [[ ! -f $build_dir/compile_commands.json ]]; then
  echo "lint: no $build_dir/compile_commands.json: configure it first" \
       "(cmake --preset clang19, or any build directory with CMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2
  exit 2
fi

mkdir -p build
summary=()
failed=0

# --- clang-format ------------------------------------------------------------------------------
# The tracked files that are still there (a file deleted in the work tree but not yet in the
# index is listed by git ls-files all the same).
run_clang_format() {
  local log=build/lint-clang-format.log started=$SECONDS status=0 file
  local files=() bad=()
  while IFS= read -r -d '' file; do
    [[ -f $file ]] && files+=("$file")
  done < <(git ls-files -z -- '*.hpp' '*.cpp')
  say "clang-format: ${#files[@]} files ($("$CLANG_FORMAT" --version | sed 's/.*version //'))"
  if [[ ${#files[@]} == 0 ]]; then
    summary+=("lint: clang-format: FAILED (no tracked .hpp or .cpp files)")
    failed=1
    return
  fi
  "$CLANG_FORMAT" --dry-run -Werror --style=file "${files[@]}" >"$log" 2>&1 || status=$?
  # One "<file>:<line>:<col>: error: code should be clang-formatted" per place to change.
  mapfile -t bad < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' \
                       "$log" | sort -u)
  report clang-format "$status" "$log" $((SECONDS - started)) "files need formatting" \
    "needs formatting: " "${bad[@]}"
}

# report <tool> <exit status> <log> <seconds> <what the items are> <item prefix> <item>...:
# lists the items and adds the tool's summary line (OK only when it exited 0 with no item).
report() {
  local tool=$1 status=$2 log=$3 seconds=$4 noun=$5 prefix=$6
  shift 6
  if [[ $status == 0 && $# == 0 ]]; then
    summary+=("lint: $tool: OK (${seconds}s)")
  elif [[ $# != 0 ]]; then
    printf "  $prefix%s\n" "$@"
    summary+=("lint: $tool: $# $noun (${seconds}s, log $log)")
    failed=1
  else
    tail -n 20 "$log" >&2
    summary+=("lint: $tool: FAILED (exit $status, log $log)")
    failed=1
  fi
}

# --- clang-tidy --------------------------------------------------------------------------------
# src/**/*.cpp and examples/*.cpp as they are on disk; each must be in the compilation database
# (a file added since the build directory was configured is not: re-run cmake there).
run_clang_tidy() {
  local log=build/lint-clang-tidy.log started=$SECONDS status=0 file
  local files=() patterns=() unlisted=() findings=()
  shopt -s globstar nullglob
  files=(src/**/*.cpp examples/*.cpp)
  shopt -u globstar nullglob
  say "clang-tidy: ${#files[@]} files, $build_dir/compile_commands.json, -j$jobs" \
      "($("$CLANG_TIDY" --version | sed -n 's/.*LLVM version //p'))"
  for file in "${files[@]}"; do
    if ! grep -qF "\"$repo_root/$file\"" "$build_dir/compile_commands.json"; then
      unlisted+=("$file")
    fi
    # run-clang-tidy takes regular expressions on the database's (absolute) paths.
    patterns+=("^$(printf '%s' "$repo_root/$file" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$")
  done
  if [[ ${#unlisted[@]} != 0 ]]; then
    printf '  not in the compilation database: %s\n' "${unlisted[@]}" >&2
    summary+=("lint: clang-tidy: FAILED (${#unlisted[@]} files not in the compilation database)")
    failed=1
    return
  fi
  "$RUN_CLANG_TIDY" -clang-tidy-binary "$(command -v "$CLANG_TIDY")" -p "$build_dir" -j "$jobs" \
    -quiet "${patterns[@]}" >"$log" 2>&1 || status=$?
  # A header's finding is reported once per translation unit that includes it: count places.
  mapfile -t findings < <(grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): .*\[[^]]+\]$' "$log" |
                            sed "s|^$repo_root/||" | sort -u)
  report clang-tidy "$status" "$log" $((SECONDS - started)) findings "" "${findings[@]}"
}

run_clang_format
run_clang_tidy

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
