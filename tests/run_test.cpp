#include "eddy/run.hpp"
// eddy::run and eddy::runner (asyncio.run, asyncio.Runner): results, exceptions, shutdown of
// leftover tasks, nesting, and many tasks at once.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::error_log;

using eddy_test::custom_error;

using eddy_test::return_after;

/// Sleeps until cancelled, then cleans up with an await and lets the cancellation finish it.
eddy::coro<void> leftover_with_cleanup(std::vector<std::string>* steps) {
  bool cancelled = false;
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error&) {
    cancelled = true;
  }
  if (cancelled) {
    steps->push_back("cancelled");
    co_await eddy::sleep(10ms);
    steps->push_back("cleaned up");
    throw eddy::cancelled_error();
  }
}

/// Sleeps until cancelled, then fails with something other than the cancellation.
eddy::coro<void> leftover_that_fails() {
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error&) {
    throw custom_error("failed while shutting down");
  }
}

eddy::coro<int> sleep_and_return(int value) {
  co_await eddy::sleep(10ms);
  co_return value;
}

}  // namespace

TEST_CASE("run returns main's value", "[run]") {
  CHECK(eddy::run(return_after(1ms, 42)) == 42);
  auto text = []() -> eddy::coro<std::string> { co_return "hello"; };
  CHECK(eddy::run(text()) == "hello");
}

TEST_CASE("run works for a coro<void>", "[run]") {
  bool ran = false;
  auto main = [](bool* flag) -> eddy::coro<void> {
    co_await eddy::sleep(0s);
    *flag = true;
  };
  eddy::run(main(&ran));
  CHECK(ran);
}

TEST_CASE("an exception thrown in main propagates out of run() with its type", "[run]") {
  auto main = []() -> eddy::coro<int> {
    co_await eddy::sleep(0s);
    throw custom_error("from main");
  };
  try {
    eddy::run(main());
    FAIL("run() returned normally");
  } catch (const custom_error& error) {
    CHECK(std::string(error.what()) == "from main");
  }
}

TEST_CASE("run() cancels tasks still pending when main returns and waits for their cleanup",
          "[run]") {
  std::vector<std::string> steps;
  auto main = [](std::vector<std::string>* record) -> eddy::coro<int> {
    static_cast<void>(eddy::create_task(leftover_with_cleanup(record)));
    co_await eddy::sleep(0s);
    record->push_back("main returns");
    co_return 1;
  };
  CHECK(eddy::run(main(&steps)) == 1);
  CHECK(steps == std::vector<std::string>{"main returns", "cancelled", "cleaned up"});
}

TEST_CASE("run() cancels a leftover task that never started, so its body never runs", "[run]") {
  bool ran = false;
  auto body = [](bool* flag) -> eddy::coro<void> {
    *flag = true;
    co_return;
  };
  auto main = [body](bool* flag) -> eddy::coro<void> {
    static_cast<void>(eddy::create_task(body(flag)));
    co_return;  // returns before the task had a chance to start
  };
  eddy::run(main(&ran));
  CHECK_FALSE(ran);
}

TEST_CASE("a leftover task that fails during shutdown is reported", "[run]") {
  error_log errors;
  auto main = [](error_log* log) -> eddy::coro<void> {
    log->attach(eddy::get_running_loop());
    static_cast<void>(eddy::create_task(leftover_that_fails(), "leftover"));
    co_await eddy::sleep(0s);
  };
  eddy::run(main(&errors));
  INFO(errors.messages());
  REQUIRE(errors.count("unhandled exception during eddy::run() shutdown") == 1);
  CHECK(errors.entries.size() == 1);  // and not again as "never retrieved"
  CHECK(errors.entries[0].task_name == "leftover");
  CHECK(eddy_test::holds<custom_error>(errors.entries[0].exception));
}

TEST_CASE("leftover tasks that end cancelled during shutdown are not reported", "[run]") {
  error_log errors;
  auto main = [](error_log* log) -> eddy::coro<void> {
    log->attach(eddy::get_running_loop());
    for (int i = 0; i < 10; ++i) {
      static_cast<void>(eddy::create_task(return_after(1h, i)));
    }
    co_await eddy::sleep(0s);
  };
  eddy::run(main(&errors));
  INFO(errors.messages());
  CHECK(errors.entries.empty());
}

TEST_CASE("run() inside a running loop throws std::runtime_error", "[run]") {
  auto inner = []() -> eddy::coro<int> { co_return 1; };
  auto main = [inner]() -> eddy::coro<bool> {
    try {
      eddy::run(inner());
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(eddy::run(main()));
}

TEST_CASE("get_running_loop() outside a running loop throws std::runtime_error", "[run]") {
  CHECK_THROWS_AS(eddy::get_running_loop(), std::runtime_error);
  auto main = []() -> eddy::coro<bool> { co_return eddy::get_running_loop().is_running(); };
  CHECK(eddy::run(main()));
  CHECK_THROWS_AS(eddy::get_running_loop(), std::runtime_error);
}

TEST_CASE("run() takes loop options", "[run]") {
  auto main = []() -> eddy::coro<std::string> {
    co_return std::string(eddy::get_running_loop().backend_name());
  };
  CHECK(eddy::run(main(), eddy::loop_options{.backend = eddy::backend_kind::epoll}) == "epoll");
}

TEST_CASE("each run() starts with a fresh loop that has no other tasks", "[run]") {
  auto main = []() -> eddy::coro<std::size_t> {
    static_cast<void>(eddy::create_task(return_after(1h, 0)));  // cancelled when main returns
    co_return eddy::all_tasks().size();
  };
  CHECK(eddy::run(main()) == 2);
  CHECK(eddy::run(main()) == 2);
}

TEST_CASE("eddy::runner runs two coroutines on the same loop", "[run][runner]") {
  auto loop_address = []() -> eddy::coro<const void*> { co_return &eddy::get_running_loop(); };
  eddy::runner runner;
  const void* first = runner.run(loop_address());
  const void* second = runner.run(loop_address());
  CHECK(first == second);
  CHECK(first == &runner.get_loop());
}

TEST_CASE("a task started in one runner.run() can be awaited in the next", "[run][runner]") {
  auto start = []() -> eddy::coro<eddy::task<int>> {
    co_return eddy::create_task(return_after(5ms, 99));
  };
  auto finish = [](eddy::task<int> started) -> eddy::coro<int> { co_return co_await started; };
  eddy::runner runner;
  eddy::task<int> background = runner.run(start());
  CHECK_FALSE(background.done());
  CHECK(runner.run(finish(background)) == 99);
}

TEST_CASE("runner.close() cancels leftover tasks and waits for them; it is idempotent",
          "[run][runner]") {
  std::vector<std::string> steps;
  auto main = [](std::vector<std::string>* record) -> eddy::coro<void> {
    static_cast<void>(eddy::create_task(leftover_with_cleanup(record)));
    co_await eddy::sleep(0s);
  };
  eddy::runner runner;
  runner.run(main(&steps));
  CHECK(steps.empty());  // still sleeping between runs
  runner.close();
  CHECK(steps == std::vector<std::string>{"cancelled", "cleaned up"});
  runner.close();
  auto other = []() -> eddy::coro<int> { co_return 0; };
  CHECK_THROWS_AS(runner.run(other()), std::runtime_error);
  CHECK_THROWS_AS(runner.get_loop(), std::runtime_error);
}

TEST_CASE("runner.run() rethrows main's exception and the runner stays usable", "[run][runner]") {
  auto fails = []() -> eddy::coro<int> {
    co_await eddy::sleep(0s);
    throw custom_error("first run");
  };
  eddy::runner runner;
  CHECK_THROWS_AS(runner.run(fails()), custom_error);
  CHECK(runner.run(return_after(0ms, 5)) == 5);
}

TEST_CASE("100,000 concurrent sleeping tasks all complete with the right sum", "[run][scale]") {
  constexpr int count = 100'000;
  auto main = []() -> eddy::coro<long long> {
    std::vector<eddy::task<int>> tasks;
    tasks.reserve(count);
    for (int i = 0; i < count; ++i) {
      tasks.push_back(eddy::create_task(sleep_and_return(i)));
    }
    long long sum = 0;
    for (eddy::task<int>& t : tasks) {
      sum += co_await t;
    }
    co_return sum;
  };
  auto started = std::chrono::steady_clock::now();
  CHECK(eddy::run(main()) == static_cast<long long>(count) * (count - 1) / 2);
  CHECK(std::chrono::steady_clock::now() - started < 60s);
}
