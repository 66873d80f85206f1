// The thread bridge's workloads: to_thread, to_thread_c64 (WORKLOADS.md 8, 9).
#include <cstdint>
#include <vector>

#include <eddy/thread.hpp>

#include "workload.hpp"

namespace {

using eddy_bench::outcome;

std::uint64_t add_one(std::uint64_t x) { return x + 1; }

/// 8. Sequential round trips: co_await to_thread(f, i) on the default executor, N times.
eddy::coro<outcome> to_thread_serial(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    sum += co_await eddy::to_thread(add_one, i);
  }
  co_return outcome{sum, sum == n * (n + 1) / 2, "sum of f(i) = i + 1"};
}

eddy::coro<std::uint64_t> calls_from(std::uint64_t first, std::uint64_t step, std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = first; i < n; i += step) {
    sum += co_await eddy::to_thread(add_one, i);
  }
  co_return sum;
}

/// 9. 64 tasks; task k makes the calls for i = k, k + 64, ... one after another.
eddy::coro<outcome> to_thread_c64(std::uint64_t n) {
  constexpr std::uint64_t tasks = 64;
  std::vector<eddy::task<std::uint64_t>> callers;
  callers.reserve(tasks);
  for (std::uint64_t k = 0; k < tasks; ++k) {
    callers.push_back(eddy::create_task(calls_from(k, tasks, n)));
  }
  std::uint64_t sum = 0;
  for (auto& caller : callers) {
    sum += co_await caller;
  }
  co_return outcome{sum, sum == n * (n + 1) / 2, "sum of f(i) = i + 1 over all tasks"};
}

const eddy_bench::registration to_thread_entry("to_thread", {100'000, to_thread_serial, false});
const eddy_bench::registration to_thread_c64_entry("to_thread_c64",
                                                   {100'000, to_thread_c64, false});

}  // namespace
