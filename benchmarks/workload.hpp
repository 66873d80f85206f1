// The workload registry of eddy_bench: each benchmarks/*.cpp registers its workloads with a
// static `eddy_bench::registration`, so areas add workloads without touching the driver.
#pragma once

#include <eddy/eddy.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace eddy_bench {

/// What a workload reports back; the driver prints it in WORKLOADS.md's format.
struct outcome {
  std::uint64_t checksum = 0;
  bool ok = true;
  std::string problem;         ///< what the self-check compared, for the failure message
  double rss_per_task_b = -1;  ///< sleeping_memory only
};

struct workload {
  std::uint64_t default_n = 0;
  std::function<eddy::coro<outcome>(std::uint64_t)> body;
  bool cpu_per_op = false;  ///< per_op_ns from CPU time (timers, sleeping_memory)
};

inline std::map<std::string, workload>& registry() {
  static std::map<std::string, workload> table;
  return table;
}

struct registration {
  registration(const std::string& name, workload entry) { registry()[name] = std::move(entry); }
};

/// getrusage's ru_maxrss, in KiB.
long max_rss_kb();

}  // namespace eddy_bench
