// Context variables' workloads (eddy's own, beside WORKLOADS.md's): what a spawn costs once a
// context variable has a value, to put beside spawn_serial, where none has.
//   spawn_serial_context  spawn_serial with one variable set in the spawning task: each spawn
//                         copies the context (one allocation sharing the values) and each
//                         child reads the variable.
#include <cstdint>

#include <eddy/context.hpp>

#include "workload.hpp"

namespace {

using eddy_bench::outcome;

eddy::context_var<std::uint64_t> offset("offset", 0);

eddy::coro<std::uint64_t> return_value_plus_offset(std::uint64_t value) {
  co_return value + offset.get();
}

eddy::coro<outcome> spawn_serial_context(std::uint64_t n) {
  offset.set(1);
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    sum += co_await eddy::create_task(return_value_plus_offset(i));
  }
  co_return outcome{sum, sum == n * (n + 1) / 2, "sum of spawned values plus the context's offset"};
}

const eddy_bench::registration spawn_serial_context_entry("spawn_serial_context",
                                                          {1'000'000, spawn_serial_context, false});

}  // namespace
