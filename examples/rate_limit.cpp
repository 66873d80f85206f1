// rate_limit: 20 one-second jobs through a semaphore(5) finish in about 4 seconds, as in the
// asyncio tutorials: at most 5 run at once, so they go in 4 waves.
//
//   rate_limit [SECONDS_PER_JOB]     default 1; e.g. 0.05 for a quick run
//
// Expected output (with the default):
//   job 1 starts (1 running)
//   ...
//   job 20 done
//   20 jobs of 1.000 s, at most 5 at once: 4.0 s (4 waves)
// Exits 1 if more than 5 ran at once or the run was shorter than 4 waves.
#include <eddy/eddy.hpp>
#include <eddy/sync.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

struct limits {
  int running = 0;
  int most_running = 0;
};

eddy::coro<void> job(int number, eddy::semaphore* slots, limits* seen,
                     std::chrono::nanoseconds duration) {
  auto held = co_await slots->scoped();  // async with semaphore: released when `held` ends
  ++seen->running;
  seen->most_running = std::max(seen->most_running, seen->running);
  std::printf("job %d starts (%d running)\n", number, seen->running);
  co_await eddy::sleep(duration);
  --seen->running;
  std::printf("job %d done\n", number);
}

eddy::coro<int> main_task(double seconds_per_job) {
  constexpr int jobs = 20;
  constexpr int at_once = 5;
  const auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(seconds_per_job));
  eddy::semaphore slots(at_once);
  limits seen;

  const auto started = std::chrono::steady_clock::now();
  std::vector<eddy::task<void>> tasks;
  for (int i = 1; i <= jobs; ++i) {
    tasks.push_back(eddy::create_task(job(i, &slots, &seen, duration)));
  }
  for (auto& each : tasks) {
    co_await each;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const int waves = jobs / at_once;
  std::printf("%d jobs of %.3f s, at most %d at once: %.1f s (%d waves)\n", jobs, seconds_per_job,
              seen.most_running, elapsed, waves);
  const bool ok = seen.most_running == at_once && elapsed >= waves * seconds_per_job;
  co_return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  double seconds_per_job = argc > 1 ? std::strtod(argv[1], nullptr) : 1.0;
  if (!(seconds_per_job > 0)) {
    std::fprintf(stderr, "usage: rate_limit [SECONDS_PER_JOB > 0]\n");
    return 2;
  }
  return eddy::run(main_task(seconds_per_job));
}
