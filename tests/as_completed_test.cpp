#include "eddy/as_completed.hpp"
// eddy::as_completed (asyncio.as_completed): results in completion order, exceptions, the
// timeout, and the scenarios of CPython's test_tasks.py (test_as_completed*).

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
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

eddy::coro<std::string> sleep_then(std::chrono::milliseconds delay, std::string value) {
  co_await eddy::sleep(delay);
  co_return value;
}

using eddy_test::run_briefly;

}  // namespace

TEST_CASE("test_as_completed: results come in the order the awaitables complete",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<std::string>> futures(3);
    auto results = eddy::as_completed(futures);
    CHECK(results.size() == 3);
    CHECK(results.remaining() == 3);
    auto finish = [](std::vector<eddy::future<std::string>>* all) -> eddy::coro<void> {
      (*all)[1].set_result("b");
      co_await eddy::sleep(0s);
      (*all)[2].set_result("c");
      co_await eddy::sleep(0s);
      (*all)[0].set_result("a");
    };
    auto finisher = eddy::create_task(finish(&futures));
    std::vector<std::string> order;
    for (std::size_t i = 0; i < results.size(); ++i) {
      order.push_back(co_await results.next());
    }
    CHECK(order == std::vector<std::string>{"b", "c", "a"});
    CHECK(results.remaining() == 0);
    co_await finisher;
  }());
}

TEST_CASE(
    "test_as_completed: coroutines are scheduled as tasks at once and come back as they finish",
    "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::coro<std::string>> coros;
    coros.push_back(sleep_then(60ms, "slow"));
    coros.push_back(sleep_then(1ms, "fast"));
    auto results = eddy::as_completed(std::move(coros));
    std::string first = co_await results.next();
    std::string second = co_await results.next();
    CHECK(first == "fast");
    CHECK(second == "slow");
  }());
}

TEST_CASE("as_completed: an exception comes out of the next() for that awaitable",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(2);
    auto results = eddy::as_completed(futures);
    futures[1].set_exception(std::runtime_error("second failed"));
    auto error = co_await eddy_test::caught<std::runtime_error>(results.next());
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "second failed");
    futures[0].set_result(1);
    int value = co_await results.next();
    CHECK(value == 1);
  }());
}

TEST_CASE("as_completed: a cancelled awaitable gives cancelled_error from its next()",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(2);
    auto results = eddy::as_completed(futures);
    futures[0].cancel("gone");
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(results.next());
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "gone");
    // The caller was not cancelled: it can go on.
    futures[1].set_result(2);
    int value = co_await results.next();
    CHECK(value == 2);
  }());
}

TEST_CASE("test_as_completed_with_timeout: timeout_error once the timeout passes with work left",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<std::string> quick;
    quick.set_result("a");
    auto a = eddy::create_task(value_of(quick));
    auto b = eddy::create_task(sleep_then(10'000ms, "b"));
    std::vector tasks{a, b};
    auto results = eddy::as_completed(tasks, 20ms);
    std::string first = co_await results.next();
    CHECK(first == "a");
    auto error = co_await eddy_test::caught<eddy::timeout_error>(results.next());
    CHECK(error.has_value());
    // The awaitables are not cancelled.
    co_await eddy::sleep(0s);
    CHECK_FALSE(b.done());
    CHECK(b.cancelling() == 0);
    b.cancel();
  }());
}

TEST_CASE("test_as_completed_with_timeout: every next() after the timeout with nothing done raises",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::coro<std::string>> coros;
    coros.push_back(sleep_then(10'000ms, "x"));
    coros.push_back(sleep_then(10'000ms, "y"));
    auto results = eddy::as_completed(std::move(coros), 20ms);
    auto first = co_await eddy_test::caught<eddy::timeout_error>(results.next());
    auto second = co_await eddy_test::caught<eddy::timeout_error>(results.next());
    CHECK(first.has_value());
    CHECK(second.has_value());
  }());
}

TEST_CASE("test_as_completed_with_unused_timeout: a timeout that does not pass changes nothing",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::coro<std::string>> coros;
    coros.push_back(sleep_then(1ms, "a"));
    auto results = eddy::as_completed(std::move(coros), 10'000ms);
    std::string value = co_await results.next();
    CHECK(value == "a");
  }());
}

TEST_CASE("as_completed: next() past the end throws std::out_of_range", "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(1);
    futures[0].set_result(1);
    auto results = eddy::as_completed(futures);
    int value = co_await results.next();
    CHECK(value == 1);
    CHECK(results.remaining() == 0);
    auto error = co_await eddy_test::caught<std::out_of_range>(results.next());
    CHECK(error.has_value());
    std::vector<eddy::future<int>> none;
    auto empty = eddy::as_completed(none);
    CHECK(empty.size() == 0);
    auto also = co_await eddy_test::caught<std::out_of_range>(empty.next());
    CHECK(also.has_value());
  }());
}

TEST_CASE(
    "test_as_completed_reverse_wait: awaitables done before next() come in completion order at "
    "once",
    "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(3);
    auto results = eddy::as_completed(futures);
    futures[2].set_result(2);
    futures[0].set_result(0);
    futures[1].set_result(1);
    std::vector<int> order;
    for (int i = 0; i < 3; ++i) {
      order.push_back(co_await results.next());
    }
    CHECK(order == std::vector<int>{2, 0, 1});
  }());
}

TEST_CASE("as_completed: awaitables done before the call come first, in the order given",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(3);
    futures[2].set_result(2);
    futures[1].set_result(1);
    auto results = eddy::as_completed(futures);
    futures[0].set_result(0);
    std::vector<int> order;
    for (int i = 0; i < 3; ++i) {
      order.push_back(co_await results.next());
    }
    CHECK(order == std::vector<int>{1, 2, 0});
  }());
}

TEST_CASE("as_completed: cancelling a task waiting in next() loses nothing", "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(1);
    auto results = eddy::as_completed(futures);
    auto take = [](eddy::as_completed_results<eddy::future<int>>* from) -> eddy::coro<int> {
      co_return co_await from->next();
    };
    auto waiter = eddy::create_task(take(&results));
    co_await run_briefly();
    waiter.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(cancellation.has_value());
    CHECK_FALSE(futures[0].cancelled());  // the awaitable itself is not touched
    futures[0].set_result(5);
    CHECK(results.remaining() == 1);
    int value = co_await results.next();
    CHECK(value == 5);
  }());
}

TEST_CASE("as_completed: a second task waiting in next() at the same time gets std::logic_error",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(2);
    auto results = eddy::as_completed(futures);
    auto take = [](eddy::as_completed_results<eddy::future<int>>* from) -> eddy::coro<int> {
      co_return co_await from->next();
    };
    auto first = eddy::create_task(take(&results));
    co_await run_briefly();
    auto error = co_await eddy_test::caught<std::logic_error>(take(&results));
    CHECK(error.has_value());
    futures[0].set_result(1);
    int value = co_await first;
    CHECK(value == 1);
  }());
}

TEST_CASE("as_completed: an empty task handle is refused with invalid_state_error",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<std::string>> with_a_hole;
    with_a_hole.push_back(eddy::create_task(sleep_then(0ms, "x")));
    with_a_hole.emplace_back();
    CHECK_THROWS_AS(eddy::as_completed(with_a_hole), eddy::invalid_state_error);
    co_await with_a_hole.front();
  }());
}

TEST_CASE(
    "test_as_completed_with_timeout: what finishes after the timeout is not delivered; each one "
    "left over is one timeout_error",
    "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<std::string> gate;
    auto early = eddy::create_task(sleep_then(0ms, "early"));
    auto late = eddy::create_task(value_of(gate));
    std::vector tasks{early, late};
    auto results = eddy::as_completed(tasks, 20ms);
    co_await eddy::sleep(60ms);  // the timeout passes; `early` finished before it
    gate.set_result("late");
    co_await late;  // `late` has finished too, but after the timeout
    std::string first = co_await results.next();
    CHECK(first == "early");
    auto second = co_await eddy_test::caught<eddy::timeout_error>(results.next());
    CHECK(second.has_value());
    CHECK(results.remaining() == 0);
    CHECK_THROWS_AS(results.next().await_ready(), std::out_of_range);
  }());
}

// --- next_done(): asyncio 3.13's `async for`, which yields the original tasks ---------------

TEST_CASE(
    "test_as_completed_same_tasks_in_as_out: next_done() yields the tasks given as they are, "
    "and the tasks made for coroutines",
    "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    auto task_b = eddy::create_task(sleep_then(0ms, "b"));
    auto task_d = eddy::create_task(sleep_then(0ms, "d"));
    std::vector<eddy::task<std::string>> given{task_b, task_d};
    auto results = eddy::as_completed(given);
    std::vector<eddy::task<std::string>> out;
    while (results.remaining() > 0) {
      out.push_back(co_await results.next_done());
    }
    REQUIRE(out.size() == 2);
    CHECK(((out[0] == task_b && out[1] == task_d) || (out[0] == task_d && out[1] == task_b)));

    std::vector<eddy::coro<std::string>> coros;
    coros.push_back(sleep_then(0ms, "a"));
    coros.push_back(sleep_then(0ms, "c"));
    auto from_coros = eddy::as_completed(std::move(coros));
    std::vector<std::string> values;
    while (from_coros.remaining() > 0) {
      eddy::task<std::string> done = co_await from_coros.next_done();
      CHECK(done.done());
      values.push_back(done.result());
    }
    std::sort(values.begin(), values.end());
    CHECK(values == std::vector<std::string>{"a", "c"});
  }());
}

TEST_CASE(
    "test_as_completed_with_timeout (async for): next_done() yields the first task, then "
    "timeout_error at the deadline",
    "[as_completed][virtual_clock]") {
  const eddy::loop_options virtual_time{.virtual_time = eddy::virtual_clock{}};
  eddy::run(
      []() -> eddy::coro<void> {
        auto& loop = eddy::get_running_loop();
        const auto start = loop.time();
        auto a = eddy::create_task(sleep_then(100ms, "a"));
        auto b = eddy::create_task(sleep_then(150ms, "b"));
        std::vector tasks{a, b};
        auto results = eddy::as_completed(tasks, 120ms);
        eddy::task<std::string> first = co_await results.next_done();
        CHECK(first == a);
        CHECK(first.result() == "a");
        auto error = co_await eddy_test::caught<eddy::timeout_error>(results.next_done());
        CHECK(error.has_value());
        CHECK(loop.time() - start == 120ms);
        co_await b;  // not cancelled
      }(),
      virtual_time);
}

TEST_CASE("as_completed: next_done() hands a failed task over without rethrowing",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<std::string> gate;
    gate.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
    auto failing = eddy::create_task(value_of(gate));
    std::vector tasks{failing};
    auto results = eddy::as_completed(tasks);
    eddy::task<std::string> done = co_await results.next_done();
    CHECK(done == failing);
    CHECK(eddy_test::holds<std::runtime_error>(done.exception()));
  }());
}

TEST_CASE("as_completed: cancelling a task waiting in next_done() loses nothing",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> futures(1);
    auto results = eddy::as_completed(futures);
    auto take = [](eddy::as_completed_results<eddy::future<int>>* from) -> eddy::coro<void> {
      eddy::future<int> done = co_await from->next_done();
      static_cast<void>(done);
    };
    auto waiter = eddy::create_task(take(&results));
    co_await run_briefly();
    waiter.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(cancellation.has_value());
    CHECK_FALSE(futures[0].cancelled());  // the awaitable itself is not touched
    futures[0].set_result(5);
    CHECK(results.remaining() == 1);
    eddy::future<int> done = co_await results.next_done();
    CHECK(done == futures[0]);
  }());
}

TEST_CASE("as_completed: next() and next_done() take from the same completion order",
          "[as_completed]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<std::string>> futures(2);
    auto results = eddy::as_completed(futures);
    futures[1].set_result("second given, first done");
    futures[0].set_result("first given, second done");
    eddy::future<std::string> first = co_await results.next_done();
    CHECK(first == futures[1]);
    std::string second = co_await results.next();
    CHECK(second == "first given, second done");
    CHECK(results.remaining() == 0);
  }());
}

TEST_CASE("test_as_completed_duplicate_coroutines: a task given twice yields once",
          "[as_completed]") {
  // asyncio takes a set: as_completed([c, c, other]) yields two results.
  eddy::run([]() -> eddy::coro<void> {
    auto first = eddy::create_task(sleep_then(1ms, "first"));
    auto second = eddy::create_task(sleep_then(5ms, "second"));
    auto results = eddy::as_completed(std::vector{first, first, second, first});
    CHECK(results.size() == 2);
    std::vector<std::string> got;
    while (results.remaining() > 0) {
      got.push_back(co_await results.next());
    }
    CHECK(got == std::vector<std::string>{"first", "second"});
  }());
}

TEST_CASE("as_completed: a future of another loop throws std::invalid_argument", "[as_completed]") {
  eddy::event_loop other;
  eddy::future<int> foreign = other.create_future<int>();
  eddy::run([&foreign]() -> eddy::coro<void> {
    eddy::future<int> mine;
    CHECK_THROWS_AS(eddy::as_completed(std::vector{mine, foreign}), std::invalid_argument);
    co_return;
  }());
}
