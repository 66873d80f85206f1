# Build settings for eddy's own targets.
#
#   eddy_project_options      INTERFACE target carrying the sanitizer flags (EDDY_SANITIZE).
#                             eddy links it PUBLIC inside the build tree, so tests, examples,
#                             benchmarks and add_subdirectory consumers compile and link with
#                             the same sanitizers. It is never installed.
#   EDDY_SANITIZE_FLAGS       the flags themselves (empty when no sanitizer is asked for);
#                             EDDY_SANITIZE_COMPILE_FLAGS adds compile-only ones.
#   eddy_target_defaults(t)   C++20 without extensions, warnings (-Wall -Wextra -Wpedantic)
#                             and, with EDDY_WARNINGS_AS_ERRORS, -Werror. PRIVATE: consumers
#                             never see these.
include_guard(GLOBAL)

# --- sanitizers ------------------------------------------------------------------------------
set(EDDY_SANITIZE_FLAGS "")
if(EDDY_SANITIZE)
  string(REPLACE "," ";" _eddy_sanitizers "${EDDY_SANITIZE}")
  list(TRANSFORM _eddy_sanitizers STRIP)
  list(REMOVE_ITEM _eddy_sanitizers "")
  foreach(_san IN LISTS _eddy_sanitizers)
    if(NOT _san MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "EDDY_SANITIZE: unknown sanitizer '${_san}' "
                          "(use address,undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _eddy_sanitizers AND "address" IN_LIST _eddy_sanitizers)
    message(FATAL_ERROR "EDDY_SANITIZE: thread and address cannot be combined")
  endif()
  list(JOIN _eddy_sanitizers "," _eddy_sanitizers_joined)
  list(APPEND EDDY_SANITIZE_FLAGS "-fsanitize=${_eddy_sanitizers_joined}"
       "-fno-omit-frame-pointer")
  if("undefined" IN_LIST _eddy_sanitizers)
    list(APPEND EDDY_SANITIZE_FLAGS "-fno-sanitize-recover=undefined")
  endif()
endif()

# GCC 12 + ASan: ASan's stack instrumentation (redzones around locals, unpoisoned on return)
# stops GCC from turning coroutine symmetric transfer into a tail call, at any -O level, so a
# long chain of co_awaits (tests/coro_test.cpp: 100,000 deep) overflows the stack. Without
# stack instrumentation, -O1 -foptimize-sibling-calls (the dev preset) or -O2 keeps it a tail
# call. Coroutine frames live on the heap, which ASan still checks fully; the clang preset
# keeps stack instrumentation on, so stack errors are still caught there.
option(EDDY_GCC_ASAN_NO_STACK "With GCC and EDDY_SANITIZE=address: --param=asan-stack=0" ON)
set(EDDY_SANITIZE_COMPILE_FLAGS ${EDDY_SANITIZE_FLAGS})
if(EDDY_GCC_ASAN_NO_STACK AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
   AND "address" IN_LIST _eddy_sanitizers)
  list(APPEND EDDY_SANITIZE_COMPILE_FLAGS "--param=asan-stack=0")
endif()

if(NOT TARGET eddy_project_options)
  add_library(eddy_project_options INTERFACE)
  if(EDDY_SANITIZE_FLAGS)
    target_compile_options(eddy_project_options INTERFACE ${EDDY_SANITIZE_COMPILE_FLAGS})
    target_link_options(eddy_project_options INTERFACE ${EDDY_SANITIZE_FLAGS})
  endif()
endif()

# --- warnings --------------------------------------------------------------------------------
function(eddy_target_defaults target)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_features(${target} PRIVATE cxx_std_20)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(EDDY_WARNINGS_AS_ERRORS)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

# Environment modifications for every test process (ctest ENVIRONMENT_MODIFICATION): stack
# traces for UBSan reports, TSan stops at the first race. Prepended, so options the caller
# already has in UBSAN_OPTIONS / TSAN_OPTIONS come later and win.
set(EDDY_TEST_ENVIRONMENT_MODIFICATION
    "UBSAN_OPTIONS=string_prepend:print_stacktrace=1:"
    "TSAN_OPTIONS=string_prepend:halt_on_error=1:second_deadlock_stack=1:")
