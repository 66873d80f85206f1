#include "eddy/wait.hpp"
// eddy::wait (asyncio.wait): all_completed, first_completed, first_exception, a timeout that
// neither raises nor cancels, and the scenarios of CPython's test_tasks.py (test_wait*).

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

template <class T>
eddy::coro<T> value_of(eddy::future<T> source) {
  co_return co_await source;
}

eddy::coro<int> fail_when(eddy::future<void> gate, std::string message) {
  co_await gate;
  throw std::runtime_error(message);
}

eddy::coro<int> sleep_then(std::chrono::milliseconds delay, int value) {
  co_await eddy::sleep(delay);
  co_return value;
}

using eddy_test::run_briefly;

template <class Child>
bool contains(const std::vector<Child>& children, const Child& wanted) {
  return std::find(children.begin(), children.end(), wanted) != children.end();
}

}  // namespace

TEST_CASE("test_wait: all_completed returns when every task is done; nothing is pending",
          "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fa;
    eddy::future<int> fb;
    auto a = eddy::create_task(value_of(fa));
    auto b = eddy::create_task(value_of(fb));
    auto waiter = eddy::create_task(eddy::wait(std::vector{b, a}));
    co_await run_briefly();
    fa.set_result(1);
    co_await run_briefly();
    CHECK_FALSE(waiter.done());
    fb.set_result(2);
    auto outcome = co_await waiter;
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    CHECK(pending.empty());
    REQUIRE(done.size() == 2);
    // Each list keeps the order the tasks were given in.
    CHECK(done[0] == b);
    CHECK(done[1] == a);
    CHECK(a.result() == 1);
    CHECK(b.result() == 2);
  }());
}

TEST_CASE(
    "test_wait_first_completed: returns once one is done; the others stay pending and keep running",
    "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fa;
    eddy::future<int> fb;
    auto a = eddy::create_task(value_of(fa));
    auto b = eddy::create_task(value_of(fb));
    auto waiter = eddy::create_task(
        eddy::wait(std::vector{a, b}, {.when = eddy::return_when::first_completed}));
    co_await run_briefly();
    CHECK_FALSE(waiter.done());
    fb.set_result(2);
    auto outcome = co_await waiter;
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    REQUIRE(done.size() == 1);
    REQUIRE(pending.size() == 1);
    CHECK(done[0] == b);
    CHECK(pending[0] == a);
    CHECK_FALSE(a.done());
    fa.set_result(1);
    int value = co_await a;
    CHECK(value == 1);
  }());
}

TEST_CASE("test_wait_really_done: every task in done is done and every task in pending is not",
          "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    auto one_yield = []() -> eddy::coro<int> {
      co_await eddy::sleep(0s);
      co_return 1;
    };
    auto two_yields = []() -> eddy::coro<int> {
      co_await eddy::sleep(0s);
      co_await eddy::sleep(0s);
      co_return 2;
    };
    auto a = eddy::create_task(one_yield());
    auto b = eddy::create_task(two_yields());
    std::vector tasks{b, a};
    auto outcome = co_await eddy::wait(tasks, {.when = eddy::return_when::first_completed});
    // As asyncio: the wait resumes two iterations after `a` finished (its done callback runs,
    // then wakes the waiter), by which time `b` has finished too.
    CHECK(outcome.done == tasks);
    CHECK(outcome.pending.empty());
    CHECK(a.result() == 1);
    CHECK(b.result() == 2);
  }());
}

TEST_CASE("test_wait_first_exception: returns at the first failure, the rest pending", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<void> crash;
    eddy::future<int> slow;
    auto a = eddy::create_task(value_of(slow));
    auto b = eddy::create_task(fail_when(crash, "boom"));
    auto waiter = eddy::create_task(
        eddy::wait(std::vector{a, b}, {.when = eddy::return_when::first_exception}));
    co_await run_briefly();
    CHECK_FALSE(waiter.done());
    crash.set_result();
    auto outcome = co_await waiter;
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    REQUIRE(done.size() == 1);
    CHECK(done[0] == b);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0] == a);
    CHECK(eddy_test::holds<std::runtime_error>(b.exception()));
    CHECK_FALSE(a.done());
    slow.set_result(5);
    co_await a;
  }());
}

TEST_CASE(
    "test_wait_first_exception_in_wait: a task that failed before the wait makes it return at once",
    "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<void> crash;
    crash.set_result();
    eddy::future<int> slow;
    auto a = eddy::create_task(value_of(slow));
    auto b = eddy::create_task(fail_when(crash, "early"));
    co_await run_briefly();
    REQUIRE(b.done());
    std::vector tasks{a, b};
    auto outcome = co_await eddy::wait(tasks, {.when = eddy::return_when::first_exception});
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    REQUIRE(done.size() == 1);
    CHECK(done[0] == b);
    CHECK(pending.size() == 1);
    slow.set_result(1);
    co_await a;
    CHECK(b.exception() != nullptr);
  }());
}

TEST_CASE("test_wait_first_exception: with no failure it waits for all, like all_completed",
          "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fa;
    eddy::future<int> fb;
    auto a = eddy::create_task(value_of(fa));
    auto b = eddy::create_task(value_of(fb));
    auto waiter = eddy::create_task(
        eddy::wait(std::vector{a, b}, {.when = eddy::return_when::first_exception}));
    fa.set_result(1);
    co_await run_briefly();
    CHECK_FALSE(waiter.done());
    fb.set_result(2);
    auto outcome = co_await waiter;
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    CHECK(done.size() == 2);
    CHECK(pending.empty());
  }());
}

TEST_CASE("wait: with first_exception, a cancelled task is not an exception", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fa;
    eddy::future<int> fb;
    auto a = eddy::create_task(value_of(fa));
    auto b = eddy::create_task(value_of(fb));
    auto waiter = eddy::create_task(
        eddy::wait(std::vector{a, b}, {.when = eddy::return_when::first_exception}));
    co_await run_briefly();
    a.cancel();
    co_await run_briefly();
    CHECK(a.cancelled());
    CHECK_FALSE(waiter.done());
    fb.set_result(2);
    auto outcome = co_await waiter;
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    CHECK(done.size() == 2);
    CHECK(pending.empty());
  }());
}

TEST_CASE(
    "test_wait_with_timeout: the timeout returns {done, pending} without raising or cancelling",
    "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> quick;
    quick.set_result(1);
    auto a = eddy::create_task(value_of(quick));
    auto b = eddy::create_task(sleep_then(10'000ms, 2));
    std::vector tasks{a, b};
    auto outcome = co_await eddy::wait(tasks, {.timeout = 20ms});
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    REQUIRE(done.size() == 1);
    CHECK(done[0] == a);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0] == b);
    co_await eddy::sleep(0s);
    CHECK_FALSE(b.done());
    CHECK(b.cancelling() == 0);  // wait never cancels
    b.cancel();
  }());
}

TEST_CASE(
    "test_wait_with_timeout: first_completed with a timeout and nothing done returns all pending",
    "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    auto a = eddy::create_task(sleep_then(10'000ms, 1));
    auto b = eddy::create_task(sleep_then(10'000ms, 2));
    std::vector tasks{a, b};
    auto outcome =
        co_await eddy::wait(tasks, {.timeout = 20ms, .when = eddy::return_when::first_completed});
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    CHECK(done.empty());
    CHECK(pending.size() == 2);
    CHECK_FALSE(a.done());
    CHECK_FALSE(b.done());
    a.cancel();
    b.cancel();
  }());
}

TEST_CASE("test_wait_errors: an empty set throws std::invalid_argument", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<int>> none;
    CHECK_THROWS_AS(eddy::wait(none), std::invalid_argument);
    std::vector<eddy::future<void>> no_futures;
    CHECK_THROWS_AS(eddy::wait(no_futures, {.when = eddy::return_when::first_completed}),
                    std::invalid_argument);
    co_return;
  }());
}

TEST_CASE(
    "wait: cancelling the waiting task ends the wait with cancelled_error; the tasks keep running",
    "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fa;
    auto a = eddy::create_task(value_of(fa));
    auto waiter = eddy::create_task(eddy::wait(std::vector{a}));
    co_await run_briefly();
    waiter.cancel("stop waiting");
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "stop waiting");
    CHECK(waiter.cancelled());
    co_await run_briefly();
    CHECK_FALSE(a.done());
    CHECK(a.cancelling() == 0);
    CHECK_FALSE(fa.done());
    fa.set_result(3);
    int value = co_await a;
    CHECK(value == 3);
  }());
}

TEST_CASE("wait: with a timeout of 0, tasks already done are done and nothing waits", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fa;
    fa.set_result(1);
    auto a = eddy::create_task(value_of(fa));
    co_await run_briefly();
    REQUIRE(a.done());
    std::vector tasks{a};
    auto outcome = co_await eddy::wait(tasks, {.timeout = 0s});
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    CHECK(done.size() == 1);
    CHECK(pending.empty());
  }());
}

TEST_CASE("wait: futures are accepted as well as tasks", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<std::string>> futures(3);
    auto waiter =
        eddy::create_task(eddy::wait(futures, {.when = eddy::return_when::first_completed}));
    co_await run_briefly();
    futures[1].set_result("one");
    auto outcome = co_await waiter;
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    REQUIRE(done.size() == 1);
    CHECK(done[0] == futures[1]);
    CHECK(done[0].result() == "one");
    CHECK(pending.size() == 2);
  }());
}

TEST_CASE("wait: a timeout of zero polls: it reports what is done without suspending for long",
          "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> never;
    auto a = eddy::create_task(value_of(never));
    std::vector tasks{a};
    auto outcome = co_await eddy::wait(tasks, {.timeout = 0s});
    auto& done = outcome.done;
    auto& pending = outcome.pending;
    CHECK(done.empty());
    CHECK(pending.size() == 1);
    a.cancel();
  }());
}

TEST_CASE("wait: an empty task handle is refused with invalid_state_error", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<int>> with_a_hole;
    with_a_hole.push_back(eddy::create_task(sleep_then(0ms, 1)));
    with_a_hole.emplace_back();
    CHECK_THROWS_AS(eddy::wait(with_a_hole), eddy::invalid_state_error);
    co_await with_a_hole.front();
  }());
}

TEST_CASE("test_wait_duplicate_coroutines: a task given twice is reported once", "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    auto a = eddy::create_task(sleep_then(1ms, 1));
    auto b = eddy::create_task(sleep_then(1ms, 2));
    // (named vectors: GCC 12 rejects a braced vector temporary in a coroutine here)
    std::vector given{a, a, b, a};
    std::vector distinct{a, b};
    auto outcome = co_await eddy::wait(given);
    CHECK(outcome.done == distinct);
    CHECK(outcome.pending.empty());
  }());
}

TEST_CASE("wait: first_completed, two tasks finishing in the same iteration are both done",
          "[wait]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    auto a = eddy::create_task(value_of(gate));
    auto b = eddy::create_task(value_of(gate));
    auto c = eddy::create_task(sleep_then(1h, 3));
    std::vector tasks{a, b, c};
    auto waiting =
        eddy::create_task(eddy::wait(tasks, {.when = eddy::return_when::first_completed}));
    co_await run_briefly();
    gate.set_result(7);
    auto outcome = co_await waiting;
    std::vector both{a, b};
    std::vector rest{c};
    CHECK(outcome.done == both);
    CHECK(outcome.pending == rest);
    c.cancel();
  }());
}

TEST_CASE("wait: cancelled after it was satisfied but before it resumed, it throws cancelled_error",
          "[wait][cancel]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    auto a = eddy::create_task(value_of(gate));
    std::vector tasks{a};
    auto waiting = eddy::create_task(eddy::wait(tasks));
    co_await run_briefly();
    gate.set_result(1);
    co_await eddy::sleep(0s);  // `a` finishes: the wait is satisfied, its wake-up queued
    CHECK(a.done());
    CHECK_FALSE(waiting.done());
    CHECK(waiting.cancel());
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiting);
    CHECK(error.has_value());
  }());
}

TEST_CASE("wait: a future of another loop throws std::invalid_argument", "[wait]") {
  eddy::event_loop other;
  eddy::future<int> foreign = other.create_future<int>();
  eddy::run([&foreign]() -> eddy::coro<void> {
    eddy::future<int> mine;
    CHECK_THROWS_AS(eddy::wait(std::vector{mine, foreign}), std::invalid_argument);
    co_return;
  }());
}
