// The foundation's workloads: spawn_serial, yield, timers, sleeping_memory (WORKLOADS.md 1, 3, 6,
// 7).
#include <chrono>
#include <cstdint>
#include <vector>

#include "workload.hpp"

using namespace std::chrono_literals;

namespace {

using eddy_bench::outcome;

eddy::coro<std::uint64_t> return_value(std::uint64_t value) { co_return value; }

eddy::coro<outcome> spawn_serial(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    sum += co_await eddy::create_task(return_value(i));
  }
  outcome result{sum, sum == n * (n - 1) / 2, "sum of spawned values"};
  co_return result;
}

eddy::coro<outcome> yield_many(std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await eddy::sleep(0s);
  }
  co_return outcome{n, true, {}};
}

eddy::coro<std::uint64_t> sleep_then_return(std::chrono::milliseconds delay, std::uint64_t value) {
  co_await eddy::sleep(delay);
  co_return value;
}

eddy::coro<outcome> timers(std::uint64_t n) {
  std::vector<eddy::task<std::uint64_t>> sleepers;
  sleepers.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t delay_ms = (i * 7919) % 1000;
    sleepers.push_back(
        eddy::create_task(sleep_then_return(std::chrono::milliseconds(delay_ms), delay_ms)));
  }
  std::uint64_t sum = 0;
  for (auto& sleeper : sleepers) {
    sum += co_await sleeper;
  }
  std::uint64_t expected = (n / 1000) * 499500;
  for (std::uint64_t i = n - n % 1000; i < n; ++i) {
    expected += (i * 7919) % 1000;
  }
  co_return outcome{sum, sum == expected, "sum of delays"};
}

eddy::coro<int> sleep_one_second() {
  co_await eddy::sleep(1s);
  co_return 1;
}

eddy::coro<outcome> sleeping_memory(std::uint64_t n) {
  long rss_before = eddy_bench::max_rss_kb();
  std::vector<eddy::task<int>> sleepers;
  sleepers.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    sleepers.push_back(eddy::create_task(sleep_one_second()));
  }
  std::uint64_t count = 0;
  for (auto& sleeper : sleepers) {
    count += static_cast<std::uint64_t>(co_await sleeper);
  }
  long rss_after = eddy_bench::max_rss_kb();
  outcome result{count, count == n, "count of sleepers"};
  result.rss_per_task_b =
      static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(n);
  co_return result;
}

const eddy_bench::registration spawn_serial_entry("spawn_serial", {1'000'000, spawn_serial, false});
const eddy_bench::registration yield_entry("yield", {1'000'000, yield_many, false});
const eddy_bench::registration timers_entry("timers", {100'000, timers, true});
const eddy_bench::registration sleeping_memory_entry("sleeping_memory",
                                                     {1'000'000, sleeping_memory, true});

}  // namespace
