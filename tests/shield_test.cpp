#include "eddy/shield.hpp"
// eddy::shield (asyncio.shield): the scenarios of CPython's test_tasks.py (test_shield_*,
// test_gather_shield).

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>

#include "eddy/future.hpp"
#include "eddy/gather.hpp"
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

using eddy_test::run_briefly;

}  // namespace

TEST_CASE("test_shield_result: the shield yields the inner result", "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> inner;
    auto outer = eddy::shield(inner);
    inner.set_result(42);
    int value = co_await outer;
    CHECK(value == 42);
  }());
}

TEST_CASE("test_shield_exception: the shield raises the inner exception", "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> inner;
    auto outer = eddy::shield(inner);
    co_await run_briefly();
    inner.set_exception(std::runtime_error("expected"));
    co_await run_briefly();
    REQUIRE(outer.done());
    CHECK(eddy_test::holds<std::runtime_error>(outer.exception()));
    CHECK_THROWS_WITH(outer.result(), "expected");
  }());
}

TEST_CASE("test_shield_cancel_inner: cancelling the inner work cancels the shield", "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> inner;
    auto outer = eddy::shield(inner);
    co_await run_briefly();
    inner.cancel("inner stopped");
    co_await run_briefly();
    CHECK(outer.cancelled());
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(outer);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "inner stopped");
  }());
}

TEST_CASE(
    "test_shield_cancel_inner: cancelling an inner task makes the awaiting task's shield raise",
    "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    auto inner = eddy::create_task(value_of(gate));
    auto awaiting = [](eddy::task<int> work) -> eddy::coro<int> {
      co_return co_await eddy::shield(work);
    };
    auto outer = eddy::create_task(awaiting(inner));
    co_await run_briefly();
    inner.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(outer);
    CHECK(cancellation.has_value());
    CHECK(outer.cancelled());
  }());
}

TEST_CASE("test_shield_cancel_outer: cancelling the shield leaves the inner work pending",
          "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> inner;
    auto outer = eddy::shield(inner);
    co_await run_briefly();
    CHECK(outer.cancel());
    co_await run_briefly();
    CHECK(outer.cancelled());
    CHECK_FALSE(inner.done());
    inner.set_result(1);  // nothing left linked to the shield: no effect on it
    co_await run_briefly();
    CHECK(outer.cancelled());
  }());
}

TEST_CASE("test_shield_shortcut: the shield of a done future or task yields its value at once",
          "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> fut;
    fut.set_result(42);
    auto outer = eddy::shield(fut);
    CHECK(outer.done());
    int value = co_await outer;
    CHECK(value == 42);

    auto quick = eddy::create_task([]() -> eddy::coro<std::string> { co_return "done"; }());
    co_await eddy::sleep(0s);
    REQUIRE(quick.done());
    std::string text = co_await eddy::shield(quick);
    CHECK(text == "done");
    CHECK(quick.result() == "done");  // a shared task's value is copied, not taken
  }());
}

TEST_CASE(
    "test_shield_effect: the awaiter gets cancelled_error at once; the inner task finishes with "
    "its result",
    "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> waiter;
    auto inner = eddy::create_task(value_of(waiter));
    int proof = 0;
    auto outer = [](eddy::task<int> work, int* counter) -> eddy::coro<void> {
      co_await eddy::shield(work);
      *counter += 100;
    };
    auto f = eddy::create_task(outer(inner, &proof));
    co_await run_briefly();
    f.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(f);
    CHECK(cancellation.has_value());
    CHECK(f.cancelled());
    CHECK_FALSE(inner.done());
    CHECK(inner.cancelling() == 0);
    CHECK_FALSE(waiter.cancelled());
    waiter.set_result(17);
    int value = co_await inner;
    CHECK(value == 17);
    CHECK(proof == 0);
  }());
}

TEST_CASE("test_shield_effect: a shielded coroutine keeps running after the awaiter is cancelled",
          "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<void> waiter;
    int proof = 0;
    auto inner = [](eddy::future<void> gate, int* counter) -> eddy::coro<void> {
      co_await gate;
      *counter += 1;
    };
    auto outer = [](eddy::coro<void> work, int* counter) -> eddy::coro<void> {
      co_await eddy::shield(std::move(work));
      *counter += 100;
    };
    auto f = eddy::create_task(outer(inner(waiter, &proof), &proof));
    co_await run_briefly();
    f.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(f);
    CHECK(cancellation.has_value());
    waiter.set_result();  // the inner task is owned by the loop, and still waiting
    co_await run_briefly();
    CHECK(proof == 1);
  }());
}

TEST_CASE(
    "test_gather_shield: cancelling a gather of shields cancels the shields, not the inner futures",
    "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> child1;
    eddy::future<int> child2;
    auto inner1 = eddy::shield(child1);
    auto inner2 = eddy::shield(child2);
    auto parent = eddy::gather(inner1, inner2);
    co_await run_briefly();
    parent.cancel();
    co_await run_briefly();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(parent);
    CHECK(cancellation.has_value());
    CHECK(inner1.cancelled());
    CHECK(inner2.cancelled());
    CHECK_FALSE(child1.done());
    CHECK_FALSE(child2.done());
    child1.set_result(1);
    child2.set_result(2);
    co_await run_briefly();
  }());
}

TEST_CASE("shield: a void inner and a move-only inner", "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    auto nothing = []() -> eddy::coro<void> { co_await eddy::sleep(0s); };
    co_await eddy::shield(nothing());
    auto make = []() -> eddy::coro<std::unique_ptr<int>> {
      co_await eddy::sleep(0s);
      co_return std::make_unique<int>(3);
    };
    std::unique_ptr<int> value = co_await eddy::shield(make());
    REQUIRE(value);
    CHECK(*value == 3);
  }());
}

TEST_CASE("shield: an empty task or future handle is refused with invalid_state_error",
          "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> never_made;
    eddy::future<int> moved_from;
    eddy::future<int> taker(std::move(moved_from));
    CHECK_THROWS_AS(eddy::shield(never_made), eddy::invalid_state_error);
    CHECK_THROWS_AS(eddy::shield(moved_from), eddy::invalid_state_error);  // NOLINT: on purpose
    co_return;
  }());
}

TEST_CASE("test_shield_gather: cancelling a shield around a gather leaves the gather running",
          "[shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> child1;
    eddy::future<int> child2;
    auto parent = eddy::gather(child1, child2);
    auto outer = eddy::shield(parent);
    co_await run_briefly();
    CHECK(outer.cancel());
    co_await run_briefly();
    CHECK(outer.cancelled());
    CHECK_FALSE(parent.done());
    child1.set_result(1);
    child2.set_result(2);
    co_await run_briefly();
    CHECK(parent.result() == std::tuple(1, 2));
  }());
}
