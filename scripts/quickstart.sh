#!/usr/bin/env bash
# eddy quick start, for Debian 12 (as root, or as a user with sudo).
#
#   scripts/quickstart.sh                   install what is missing, build the `release` preset,
#                                           run the flagship example (examples/hello.cpp)
#   scripts/quickstart.sh test              install what is missing, build and run the whole
#                                           test suite with GCC 12 (`dev` preset: ASan+UBSan),
#                                           again optimised (`optimised`: CMake's Release
#                                           flags, -O3; `release`: -O2), then with clang-16
#                                           (`clang`) and clang-19 (`clang19`), both
#                                           ASan+UBSan, then the lint checks (scripts/lint.sh:
#                                           clang-format-19, clang-tidy-19), then the thread
#                                           bridge and context variables under TSan
#   scripts/quickstart.sh test --gcc-only   the same, GCC only
#
# Environment: EDDY_JOBS (build and ctest parallelism; default 2 for `test`, nproc otherwise),
#              EDDY_SKIP_INSTALL=1 (never touch packages).
# Both backends are in the ctest list already (<test>.uring and <test>.epoll).
set -euo pipefail

readonly PACKAGES=(build-essential cmake ninja-build pkg-config liburing-dev libfmt-dev catch2
                   clang-16 libclang-rt-16-dev clang-19 libclang-rt-19-dev clang-tidy-19
                   clang-format-19)

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
}

mode=run
gcc_only=0
for arg in "$@"; do
  case "$arg" in
    test) mode=test ;;
    --gcc-only) gcc_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "quickstart: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ $gcc_only == 1 && $mode != test ]]; then
  echo "quickstart: --gcc-only only applies to 'test'" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)

say() { printf '\n== %s\n' "$*"; }

# --- packages --------------------------------------------------------------------------------
install_missing_packages() {
  if [[ ${EDDY_SKIP_INSTALL:-0} == 1 ]]; then
    return
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "quickstart: not a Debian system (no dpkg-query); install these yourself:" \
         "${PACKAGES[*]}" >&2
    return
  fi
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true) != "install ok installed" ]]
    then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} == 0 ]]; then
    echo "quickstart: all packages present (${PACKAGES[*]})"
    return
  fi
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "quickstart: missing packages: ${missing[*]}" >&2
      echo "quickstart: not root and no sudo; install them as root and re-run" >&2
      exit 1
    fi
  fi
  say "installing: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}

# --- one preset: configure, build, test --------------------------------------------------------
summary=()
failed=0

# run_suite <preset> <label>
run_suite() {
  local preset=$1 label=$2 jobs=$3 log status=0 line started elapsed
  started=$SECONDS
  log="build/${preset}-ctest.log"
  say "$label: configure + build (preset $preset, -j$jobs)"
  if ! cmake --preset "$preset"; then
    summary+=("quickstart: $label: FAILED (configure)")
    failed=1
    return
  fi
  if ! cmake --build --preset "$preset" -j "$jobs"; then
    summary+=("quickstart: $label: FAILED (build)")
    failed=1
    return
  fi
  say "$label: ctest (preset $preset, -j$jobs)"
  # tee keeps ctest's own output (and its final "N% tests passed" line) as it is.
  ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log" || status=$?
  line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
  elapsed=$((SECONDS - started))
  if [[ $status == 0 ]]; then
    summary+=("quickstart: $label: PASSED — ${line:-no ctest summary} (${elapsed}s)")
  else
    summary+=("quickstart: $label: FAILED — ${line:-ctest exited $status} (${elapsed}s, log $log)")
    failed=1
  fi
}

# run_subset <preset> <label> <jobs> <ctest label regex> <build target>...: configure <preset>,
# build only the targets named, and run the ctest entries with those labels. Used for
#  - the examples and benchmark programs in the release build, the way users run them (also the
#    only build where the frame allocator's slabs are on: sanitizer builds use plain operator
#    new so that use-after-free stays visible);
#  - the thread bridge's tests under ThreadSanitizer (only those: the rest of the library is
#    single-threaded, and a full TSan build would double CI's time).
run_subset() {
  local preset=$1 label=$2 jobs=$3 labels=$4 log="build/$1-subset-ctest.log" status=0 line
  local started=$SECONDS
  shift 4
  say "$label: configure + build $* (preset $preset, -j$jobs)"
  if ! cmake --preset "$preset" -DEDDY_TEST_CONSUMERS=OFF || \
     ! cmake --build --preset "$preset" -j "$jobs" --target "$@"; then
    summary+=("quickstart: $label: FAILED (build)")
    failed=1
    return
  fi
  say "$label: ctest -L '$labels'"
  ctest --preset "$preset" -L "$labels" -j "$jobs" 2>&1 | tee "$log" || status=$?
  line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
  if [[ $status == 0 ]]; then
    summary+=("quickstart: $label: PASSED — ${line:-no ctest summary} ($((SECONDS - started))s)")
  else
    summary+=("quickstart: $label: FAILED — ${line:-ctest exited $status} (log $log)")
    failed=1
  fi
}

# run_lint: scripts/lint.sh over the sources, with the clang19 build's compilation database.
run_lint() {
  local started=$SECONDS status=0
  say "lint: clang-format-19 and clang-tidy-19 (scripts/lint.sh build/clang19)"
  EDDY_JOBS=$jobs scripts/lint.sh build/clang19 || status=$?
  if [[ $status == 0 ]]; then
    summary+=("quickstart: lint: PASSED — clang-format and clang-tidy ($((SECONDS - started))s)")
  else
    summary+=("quickstart: lint: FAILED (build/lint-clang-format.log, build/lint-clang-tidy.log)")
    failed=1
  fi
}

install_missing_packages

if [[ $mode == run ]]; then
  jobs=${EDDY_JOBS:-$(nproc 2>/dev/null || echo 2)}
  say "configure + build (preset release, -j$jobs)"
  cmake --preset release
  cmake --build --preset release -j "$jobs"
  say "run build/release/examples/hello"
  build/release/examples/hello
  echo
  echo "quickstart: built $repo_root/build/release; next: scripts/quickstart.sh test"
  exit 0
fi

jobs=${EDDY_JOBS:-2}
mkdir -p build
run_suite dev "GCC $(g++ -dumpfullversion 2>/dev/null || echo '?') (dev: ASan+UBSan)" "$jobs"
# The optimised build (CMake's own Release flags) is the only one with the frame allocator's
# slabs and huge-page arrays on (sanitizer builds bypass them), and where timing and inlining
# are what users' release builds see: the whole suite runs there too.
run_suite optimised "GCC optimised (CMake Release flags: -O3 -DNDEBUG)" "$jobs"
# And the `release` preset users build and benchmark with (-O2, Debian's default level).
run_suite release "GCC release (preset release: -O2 -DNDEBUG)" "$jobs"
if [[ $gcc_only == 0 ]]; then
  run_suite clang \
    "clang $(clang++-16 -dumpversion 2>/dev/null || echo '?') (clang: ASan+UBSan)" "$jobs"
  run_suite clang19 \
    "clang $(clang++-19 -dumpversion 2>/dev/null || echo '?') (clang19: ASan+UBSan)" "$jobs"
  # .clang-format and .clang-tidy (the coroutine checks): after clang19, whose build made
  # the compilation database clang-tidy reads.
  run_lint
  run_subset tsan "GCC TSan (thread bridge, contexts)" "$jobs" '^(thread|context)$' thread_test context_test
fi

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
