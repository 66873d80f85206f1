#include "eddy/task.hpp"
// Eager tasks (asyncio 3.12): create_task(..., {.eager_start = true}) and the loop-wide
// eager_task_factory option run a task's coroutine inside create_task until it first suspends.
// Named after CPython's test_eager_task_factory.py.

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/future.hpp"
#include "eddy/gather.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task_group.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<int> record_then_return(std::vector<std::string>* log, int value) {
  log->push_back("ran");
  co_return value;
}

eddy::coro<int> record_wait_record(std::vector<std::string>* log, eddy::future<int> gate) {
  log->push_back("first step");
  int value = co_await gate;
  log->push_back("second step");
  co_return value;
}

eddy::coro<int> fail_at_once() {
  throw std::runtime_error("eager failure");
  co_return 0;
}

}  // namespace

TEST_CASE("test_eager_completion: a coroutine that never suspends is done inside create_task",
          "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    auto task = eddy::create_task(record_then_return(&log, 7), {.eager_start = true});
    CHECK(log == std::vector<std::string>{"ran"});  // before create_task returned
    CHECK(task.done());
    CHECK(task.result() == 7);
    int value = co_await task;  // awaiting a done task does not suspend
    CHECK(value == 7);
  }());
}

TEST_CASE("test_block_after_eager_step: the first step runs at once, the rest when woken",
          "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    eddy::future<int> gate;
    auto task = eddy::create_task(record_wait_record(&log, gate), {.eager_start = true});
    CHECK(log == std::vector<std::string>{"first step"});
    CHECK_FALSE(task.done());
    gate.set_result(5);
    int value = co_await task;
    CHECK(value == 5);
    CHECK(log == std::vector<std::string>{"first step", "second step"});
  }());
}

TEST_CASE("a task that is not eager starts only when its creator suspends", "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    auto task = eddy::create_task(record_then_return(&log, 1));
    CHECK(log.empty());
    co_await eddy::sleep(0s);
    CHECK(log == std::vector<std::string>{"ran"});
    CHECK(task.done());
  }());
}

TEST_CASE("test_current_task: during its eager step the new task is the current task", "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::any_task creator = eddy::current_task();
    eddy::any_task seen;
    std::string seen_name;
    auto body = [&]() -> eddy::coro<void> {
      seen = eddy::current_task();
      seen_name = seen.get_name();
      co_return;
    };
    auto task = eddy::create_task(body, {.name = "eager one", .eager_start = true});
    CHECK(seen == eddy::any_task(task));
    CHECK(seen_name == "eager one");         // named before its first step
    CHECK(eddy::current_task() == creator);  // and the creator is current again
    co_return;
  }());
}

TEST_CASE("an eager task's exception is the task's, not create_task's", "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> task = eddy::create_task(fail_at_once(), {.eager_start = true});
    REQUIRE(task.done());
    auto error = co_await eddy_test::caught<std::runtime_error>(task);
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "eager failure");
  }());
}

TEST_CASE("test_cancellation_after_eager_step_blocks: cancelled while waiting, as any task",
          "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    eddy::future<int> gate;
    auto task = eddy::create_task(record_wait_record(&log, gate), {.eager_start = true});
    CHECK(task.cancel());
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(task);
    CHECK(error.has_value());
    CHECK(task.cancelled());
    CHECK(log == std::vector<std::string>{"first step"});
  }());
}

TEST_CASE("test_cancellation_after_eager_completion: cancel() of a done task returns false",
          "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    auto task = eddy::create_task(record_then_return(&log, 3), {.eager_start = true});
    CHECK_FALSE(task.cancel());
    CHECK(task.result() == 3);
    co_return;
  }());
}

TEST_CASE("test_eager_task_factory_set: the loop option makes every create_task eager", "[eager]") {
  auto main = []() -> eddy::coro<void> {
    CHECK(eddy::get_running_loop().get_eager_task_factory());
    std::vector<std::string> log;
    auto eager = eddy::create_task(record_then_return(&log, 1));
    CHECK(eager.done());
    // A call can still opt out.
    auto lazy = eddy::create_task(record_then_return(&log, 2), {.eager_start = false});
    CHECK_FALSE(lazy.done());
    co_await lazy;
    // Coroutines given to gather become eager tasks too.
    auto [a, b] = co_await eddy::gather(record_then_return(&log, 3), record_then_return(&log, 4));
    CHECK(a + b == 7);
    // set_eager_task_factory(false) is asyncio's set_task_factory(None).
    eddy::get_running_loop().set_eager_task_factory(false);
    auto later = eddy::create_task(record_then_return(&log, 5));
    CHECK_FALSE(later.done());
    co_await later;
    eddy::get_running_loop().set_eager_task_factory(true);
  };
  eddy::run(main(), {.eager_task_factory = true});
}

TEST_CASE("eager tasks nest: an eager task's eager child runs inside it", "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    auto outer = [&]() -> eddy::coro<int> {
      log.push_back("outer starts");
      auto inner = eddy::create_task(record_then_return(&log, 2), {.eager_start = true});
      log.push_back("outer goes on");
      co_return inner.result() * 10;
    };
    auto task = eddy::create_task(outer, {.eager_start = true});
    CHECK(log == std::vector<std::string>{"outer starts", "ran", "outer goes on"});
    CHECK(task.result() == 20);
    co_return;
  }());
}

TEST_CASE("a loop that is not running schedules an eager task as usual", "[eager]") {
  eddy::event_loop loop({.eager_task_factory = true});
  std::vector<std::string> log;
  auto task = loop.create_task(record_then_return(&log, 4), {.eager_start = true});
  CHECK(log.empty());
  CHECK_FALSE(task.done());
  CHECK(loop.run_until_complete(task) == 4);
  CHECK(log == std::vector<std::string>{"ran"});
}

TEST_CASE("test_await_future_during_eager_step: an eager step may await a done future", "[eager]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> ready;
    ready.set_result(9);
    auto body = [ready]() -> eddy::coro<int> { co_return co_await eddy::future<int>(ready); };
    auto task = eddy::create_task(body, {.eager_start = true});
    CHECK(task.done());
    CHECK(task.result() == 9);
    co_return;
  }());
}

TEST_CASE(
    "task_group::create_task with eager start: a child that fails inside the call fails "
    "the group",
    "[eager][task_group]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    std::optional<eddy::exception_group> error;
    try {
      co_await eddy::with_task_group([&](eddy::task_group& g) -> eddy::coro<void> {
        auto done =
            g.create_task(record_then_return(&log, 1), {.name = "first", .eager_start = true});
        CHECK(done.done());
        CHECK(done.get_name() == "first");
        g.create_task(fail_at_once(), {.eager_start = true});
        co_return;
      });
    } catch (const eddy::exception_group& group) {
      error = group;
    }
    REQUIRE(error.has_value());
    CHECK(error->exceptions().size() == 1);
    CHECK(log == std::vector<std::string>{"ran"});
  }());
}

TEST_CASE("task_options written inline inside a co_await are safe under GCC 12", "[eager]") {
  // GCC 12 makes a bitwise copy of an aggregate temporary inside co_await and destroys both:
  // the name is an optional_arg, so that spelling frees nothing twice (run under ASan).
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> log;
    int value = co_await eddy::create_task(
        record_then_return(&log, 7),
        {.name = "a name too long for the small-string buffer", .eager_start = true});
    CHECK(value == 7);
    int lazy = co_await eddy::create_task(record_then_return(&log, 8),
                                          {.name = "another name well past fifteen characters"});
    CHECK(lazy == 8);
  }());
}
