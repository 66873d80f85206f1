// eddy_bench WORKLOAD [N]: runs one workload of ../shared/bench/WORKLOADS.md and prints its
// one-line result. The workloads live in the other files of this folder (see workload.hpp).
// EDDY_BACKEND picks the backend. Exit 0 = ok, 1 = self-check failed, 2 = workload not
// supported (yet).
#include "workload.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace eddy_bench {

long max_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace eddy_bench

namespace {

using eddy_bench::outcome;
using eddy_bench::workload;

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
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
  co_return measured{result, std::chrono::duration<double>(stop - start).count(),
                     cpu_stop - cpu_start};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: eddy_bench WORKLOAD [N]\nworkloads:");
    for (const auto& [name, unused] : eddy_bench::registry()) {
      std::fprintf(stderr, " %s", name.c_str());
    }
    std::fprintf(stderr, "\n");
    return 2;
  }
  std::string name = argv[1];
  auto found = eddy_bench::registry().find(name);
  if (found == eddy_bench::registry().end()) {
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
  std::printf(
      "peer=eddy backend=%s workload=%s n=%llu seconds=%.4f per_op_ns=%.1f maxrss_kb=%ld cpu_s=%.4f checksum=%llu",
      backend.c_str(), name.c_str(), static_cast<unsigned long long>(n), run.seconds,
      per_op_seconds * 1e9 / static_cast<double>(n), eddy_bench::max_rss_kb(), run.cpu_s,
      static_cast<unsigned long long>(run.result.checksum));
  if (run.result.rss_per_task_b >= 0) {
    std::printf(" rss_per_task_b=%.0f", run.result.rss_per_task_b);
  }
  std::printf("\n");
  return 0;
}
