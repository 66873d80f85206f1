// eddy_bench WORKLOAD [N]: runs one workload of ../shared/bench/WORKLOADS.md and prints its
// one-line result. EDDY_BACKEND picks the backend. Exit 0 = ok, 1 = self-check failed,
// 2 = workload not supported (yet).
#include <eddy/eddy.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct outcome {
  std::uint64_t checksum = 0;
  bool ok = true;
  std::string problem;
  double rss_per_task_b = -1;  ///< sleeping_memory only
};

long max_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// --- the workloads -------------------------------------------------------------------------

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
    sleepers.push_back(eddy::create_task(sleep_then_return(std::chrono::milliseconds(delay_ms), delay_ms)));
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
  long rss_before = max_rss_kb();
  std::vector<eddy::task<int>> sleepers;
  sleepers.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    sleepers.push_back(eddy::create_task(sleep_one_second()));
  }
  std::uint64_t count = 0;
  for (auto& sleeper : sleepers) {
    count += static_cast<std::uint64_t>(co_await sleeper);
  }
  long rss_after = max_rss_kb();
  outcome result{count, count == n, "count of sleepers"};
  result.rss_per_task_b = static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(n);
  co_return result;
}

struct workload {
  std::uint64_t default_n;
  std::function<eddy::coro<outcome>(std::uint64_t)> body;
  bool cpu_per_op;  ///< per_op_ns from CPU time (timers, sleeping_memory)
};

const std::map<std::string, workload>& workloads() {
  static const std::map<std::string, workload> table = {
      {"spawn_serial", {1'000'000, spawn_serial, false}},
      {"yield", {1'000'000, yield_many, false}},
      {"timers", {100'000, timers, true}},
      {"sleeping_memory", {1'000'000, sleeping_memory, true}},
  };
  return table;
}

struct measured {
  outcome result;
  double seconds = 0;
  double cpu_s = 0;
};

eddy::coro<measured> timed(const workload& chosen, std::uint64_t n) {
  double cpu_start = cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  outcome result = co_await chosen.body(n);
  auto stop = std::chrono::steady_clock::now();
  double cpu_stop = cpu_seconds();
  co_return measured{result, std::chrono::duration<double>(stop - start).count(), cpu_stop - cpu_start};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: eddy_bench WORKLOAD [N]\nworkloads:");
    for (const auto& [name, unused] : workloads()) {
      std::fprintf(stderr, " %s", name.c_str());
    }
    std::fprintf(stderr, "\n");
    return 2;
  }
  std::string name = argv[1];
  auto found = workloads().find(name);
  if (found == workloads().end()) {
    std::fprintf(stderr, "eddy_bench: workload '%s' is not supported\n", name.c_str());
    return 2;
  }
  const workload& chosen = found->second;
  std::uint64_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : chosen.default_n;
  if (n == 0) {
    std::fprintf(stderr, "eddy_bench: N must be a positive number\n");
    return 2;
  }

  eddy::event_loop loop;
  std::string backend(loop.backend_name());
  measured run = loop.run_until_complete(timed(chosen, n));
  loop.close();

  if (!run.result.ok) {
    std::fprintf(stderr, "eddy_bench %s: self-check failed: %s (got %llu)\n", name.c_str(),
                 run.result.problem.c_str(), static_cast<unsigned long long>(run.result.checksum));
    return 1;
  }
  double per_op_seconds = chosen.cpu_per_op ? run.cpu_s : run.seconds;
  std::printf("peer=eddy backend=%s workload=%s n=%llu seconds=%.4f per_op_ns=%.1f maxrss_kb=%ld cpu_s=%.4f checksum=%llu",
              backend.c_str(), name.c_str(), static_cast<unsigned long long>(n), run.seconds,
              per_op_seconds * 1e9 / static_cast<double>(n), max_rss_kb(), run.cpu_s,
              static_cast<unsigned long long>(run.result.checksum));
  if (run.result.rss_per_task_b >= 0) {
    std::printf(" rss_per_task_b=%.0f", run.result.rss_per_task_b);
  }
  std::printf("\n");
  return 0;
}
