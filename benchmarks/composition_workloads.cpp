// The composition workloads: spawn_gather (WORKLOADS.md 2).
#include <cstdint>
#include <utility>
#include <vector>

#include "workload.hpp"

namespace {

using eddy_bench::outcome;

eddy::coro<std::uint64_t> spawned_value(std::uint64_t value) { co_return value; }

/// Spawns N tasks (task i returns i) without awaiting in between, then gathers them all and
/// checks that the results come back in spawn order and sum to N(N-1)/2.
eddy::coro<outcome> spawn_gather(std::uint64_t n) {
  std::vector<eddy::task<std::uint64_t>> tasks;
  tasks.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    tasks.push_back(eddy::create_task(spawned_value(i)));
  }
  std::vector<std::uint64_t> values = co_await eddy::gather(std::move(tasks));
  bool in_spawn_order = values.size() == n;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < values.size(); ++i) {
    in_spawn_order = in_spawn_order && values[i] == i;
    sum += values[i];
  }
  co_return outcome{sum, in_spawn_order && sum == n * (n - 1) / 2,
                    "sum of gathered values, in spawn order"};
}

const eddy_bench::registration spawn_gather_entry("spawn_gather", {200'000, spawn_gather, false});

}  // namespace
