// hello: the tour of eddy's basics, in the spirit of asyncio's first tutorial.
//
// Two tasks count concurrently, a third is cancelled while it sleeps, and main waits for
// the results. Expected output:
//   hello from Task-1 on the uring loop      (or epoll)
//   tick 1 / tock 1 / tick 2 / tock 2 / ...
//   slow task cancelled: shutting down
//   results: 3 + 2 = 5
#include <eddy/eddy.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

// An `async def` is a function returning eddy::coro<T>.
eddy::coro<int> count(std::string word, int times, std::chrono::milliseconds period) {
  for (int i = 1; i <= times; ++i) {
    co_await eddy::sleep(period);  // other tasks run meanwhile
    std::printf("%s %d\n", word.c_str(), i);
  }
  co_return times;
}

eddy::coro<void> slow() {
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error& cancellation) {
    std::printf("slow task cancelled: %s\n", cancellation.message().c_str());
    throw;  // let the cancellation finish the task
  }
}

eddy::coro<int> main_task() {
  auto& loop = eddy::get_running_loop();
  std::printf("hello from %s on the %s loop\n", eddy::current_task().get_name().c_str(),
              std::string(loop.backend_name()).c_str());

  // create_task schedules; the tasks start when main next suspends.
  eddy::task<int> ticks = eddy::create_task(count("tick", 3, 10ms));
  eddy::task<int> tocks = eddy::create_task(count("tock", 2, 15ms));
  eddy::task<void> sleeper = eddy::create_task(slow());

  int total = co_await ticks + co_await tocks;
  sleeper.cancel("shutting down");
  try {
    co_await sleeper;
  } catch (const eddy::cancelled_error&) {
  }
  std::printf("results: %d + %d = %d\n", ticks.result(), tocks.result(), total);
  co_return total;
}

int main() { return eddy::run(main_task()) == 5 ? 0 : 1; }
