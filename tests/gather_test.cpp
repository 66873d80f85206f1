#include "eddy/gather.hpp"
// eddy::gather (asyncio.gather): results in argument order over coros, tasks and futures, the
// return_exceptions form, and the cancellation rules of CPython's GatherTestsBase,
// FutureGatherTests and CoroutineGatherTests (Lib/test/test_asyncio/test_tasks.py).

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/result.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<int> value_now(int value) { co_return value; }

eddy::coro<int> value_after_yield(int value) {
  co_await eddy::sleep(0s);
  co_return value;
}

template <class T>
eddy::coro<T> value_of(eddy::future<T> source) {
  co_return co_await source;
}

eddy::coro<void> nothing() { co_return; }

eddy::coro<std::string> text(std::string value) {
  co_await eddy::sleep(0s);
  co_return value;
}

eddy::coro<int> fail_after_yield(std::string message) {
  co_await eddy::sleep(0s);
  throw std::runtime_error(message);
}

/// Waits on `gate`; records whether it saw a cancellation (then rethrows it).
eddy::coro<int> wait_on(eddy::future<int> gate, bool* saw_cancel) {
  try {
    co_return co_await gate;
  } catch (const eddy::cancelled_error&) {
    *saw_cancel = true;
    throw;
  }
}

/// Waits on `gate`, and swallows a cancellation by returning `instead`.
eddy::coro<int> swallow_cancel(eddy::future<int> gate, int instead) {
  try {
    co_return co_await gate;
  } catch (const eddy::cancelled_error&) {
  }
  co_return instead;
}

/// Runs the loop a few iterations so callbacks and woken tasks get their turn.
using eddy_test::run_briefly;

}  // namespace

TEST_CASE("test_success: gather's results are in argument order, not completion order",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> a;
    eddy::future<int> b;
    eddy::future<int> c;
    auto gathered = eddy::gather(a, b, c);
    static_assert(std::is_same_v<decltype(gathered), eddy::future<std::tuple<int, int, int>>>);
    b.set_result(1);
    a.set_result(2);
    co_await run_briefly();
    CHECK_FALSE(gathered.done());
    c.set_result(3);
    co_await run_briefly();
    CHECK(gathered.done());
    auto results = co_await gathered;
    CHECK(results == std::tuple(2, 1, 3));
  }());
}

TEST_CASE("gather: coros, tasks and futures mix in one call; void results become std::monostate",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<void> ready;
    auto spawned = eddy::create_task(text("task"));
    auto gathered = eddy::gather(value_after_yield(7), spawned, ready, nothing());
    using expected = std::tuple<int, std::string, std::monostate, std::monostate>;
    static_assert(std::is_same_v<decltype(gathered), eddy::future<expected>>);
    ready.set_result();
    expected results = co_await gathered;
    CHECK(std::get<0>(results) == 7);
    CHECK(std::get<1>(results) == "task");
    // A task handed to gather is shared, not consumed: its value is still there.
    CHECK(spawned.result() == "task");
  }());
}

TEST_CASE("gather: the coros given to gather are scheduled at once, even if it is never awaited",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    bool ran = false;
    auto mark = [](bool* flag) -> eddy::coro<void> {
      *flag = true;
      co_return;
    };
    auto gathered = eddy::gather(mark(&ran));
    // Scheduled, not run: the caller has not suspended yet. With eager tasks (the .eager run
    // of this file) the child has run inside gather, and finished.
    CHECK(ran == eddy::get_running_loop().get_eager_task_factory());
    co_await run_briefly();
    CHECK(ran);
    CHECK(gathered.done());
  }());
}

TEST_CASE("gather: coroutine children start in argument order, as asyncio schedules them",
          "[gather]") {
  // asyncio.gather calls ensure_future on each argument in turn, so the tasks run their first
  // steps in argument order.
  eddy::run([]() -> eddy::coro<void> {
    std::vector<int> started;
    auto record = [](std::vector<int>* log, int id) -> eddy::coro<int> {
      log->push_back(id);
      co_return id;
    };
    co_await eddy::gather(record(&started, 1), record(&started, 2), record(&started, 3));
    CHECK(started == std::vector<int>{1, 2, 3});
    started.clear();
    std::vector<eddy::coro<int>> coros;
    for (int id = 1; id <= 3; ++id) {
      coros.push_back(record(&started, id));
    }
    co_await eddy::gather(std::move(coros));
    CHECK(started == std::vector<int>{1, 2, 3});
  }());
}

TEST_CASE("gather(range): a std::vector of the results, in range order", "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<int>> tasks;
    // Later tasks finish first: each waits fewer loop iterations.
    auto countdown = [](int value, int yields) -> eddy::coro<int> {
      for (int i = 0; i < yields; ++i) {
        co_await eddy::sleep(0s);
      }
      co_return value;
    };
    for (int i = 0; i < 5; ++i) {
      tasks.push_back(eddy::create_task(countdown(i, 5 - i)));
    }
    auto from_tasks = eddy::gather(tasks);
    static_assert(std::is_same_v<decltype(from_tasks), eddy::future<std::vector<int>>>);
    std::vector<int> task_results = co_await from_tasks;
    CHECK(task_results == std::vector<int>{0, 1, 2, 3, 4});

    std::vector<eddy::coro<int>> coros;
    for (int i = 0; i < 4; ++i) {
      coros.push_back(value_after_yield(i * 10));
    }
    std::vector<int> coro_results = co_await eddy::gather(std::move(coros));
    CHECK(coro_results == std::vector<int>{0, 10, 20, 30});

    std::vector<eddy::future<int>> futures(3);
    auto from_futures = eddy::gather(futures);
    futures[2].set_result(2);
    futures[0].set_result(0);
    futures[1].set_result(1);
    std::vector<int> future_results = co_await from_futures;
    CHECK(future_results == std::vector<int>{0, 1, 2});
  }());
}

TEST_CASE("test_constructor_empty_sequence_use_running_loop: an empty gather is done at once",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    auto nothing_at_all = eddy::gather();
    static_assert(std::is_same_v<decltype(nothing_at_all), eddy::future<std::tuple<>>>);
    CHECK(nothing_at_all.done());
    co_await nothing_at_all;

    std::vector<eddy::task<int>> none;
    auto empty_range = eddy::gather(none);
    CHECK(empty_range.done());
    std::vector<int> no_values = co_await empty_range;
    CHECK(no_values.empty());

    auto empty_results = eddy::gather(eddy::return_exceptions, none);
    CHECK(empty_results.done());
    std::vector<eddy::result<int>> no_results = co_await empty_results;
    CHECK(no_results.empty());
  }());
}

TEST_CASE("test_one_exception: the first failure is raised; the other children are not cancelled",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> a;
    eddy::future<int> b;
    eddy::future<int> c;
    eddy::future<int> d;
    eddy::future<int> e;
    auto gathered = eddy::gather(a, b, c, d, e);
    a.set_result(1);
    b.set_exception(std::runtime_error("b failed"));
    co_await run_briefly();
    REQUIRE(gathered.done());
    auto error = co_await eddy_test::caught<std::runtime_error>(gathered);
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "b failed");
    // The rest are untouched and may still finish, fail or be cancelled: it changes nothing.
    CHECK_FALSE(c.done());
    CHECK_FALSE(d.done());
    CHECK_FALSE(e.done());
    c.set_result(3);
    d.cancel();
    e.set_exception(std::runtime_error("e failed"));
    CHECK(e.exception() != nullptr);
    co_await run_briefly();
    CHECK_THROWS_WITH(gathered.result(), "b failed");
  }());
}

TEST_CASE("gather: a failing child does not cancel its sibling tasks, which run to completion",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    bool sibling_saw_cancel = false;
    auto sibling = eddy::create_task(wait_on(gate, &sibling_saw_cancel));
    auto error = co_await eddy_test::caught<std::runtime_error>(
        eddy::gather(sibling, fail_after_yield("boom")));
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "boom");
    CHECK_FALSE(sibling.done());
    gate.set_result(99);
    int sibling_value = co_await sibling;
    CHECK(sibling_value == 99);
    CHECK_FALSE(sibling_saw_cancel);
    CHECK_FALSE(sibling.cancelled());
  }());
}

TEST_CASE(
    "test_return_exceptions: values and exceptions come back as eddy::result, in argument order",
    "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> a;
    eddy::future<int> b;
    eddy::future<int> c;
    eddy::future<int> d;
    auto gathered = eddy::gather(eddy::return_exceptions, a, b, c, d);
    using outcome = eddy::result<int>;
    static_assert(std::is_same_v<decltype(gathered),
                                 eddy::future<std::tuple<outcome, outcome, outcome, outcome>>>);
    b.set_result(1);
    c.set_exception(std::runtime_error("c failed"));
    a.set_result(3);
    co_await run_briefly();
    CHECK_FALSE(gathered.done());  // a failure does not end a return_exceptions gather early
    d.set_exception(std::logic_error("d failed"));
    auto [ra, rb, rc, rd] = co_await gathered;
    CHECK(ra.value() == 3);
    CHECK(rb.value() == 1);
    REQUIRE_FALSE(rc.has_value());
    CHECK(eddy_test::holds<std::runtime_error>(rc.exception()));
    CHECK_THROWS_WITH(rc.value(), "c failed");
    CHECK(eddy_test::holds<std::logic_error>(rd.exception()));
    CHECK_FALSE(rd.cancelled());
  }());
}

TEST_CASE(
    "test_result_exception_one_cancellation: a cancelled child is reported as a cancelled_error",
    "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> children(6);
    auto gathered = eddy::gather(eddy::return_exceptions, children);
    children[0].set_result(1);
    children[1].set_exception(std::runtime_error("zero division"));
    children[2].cancel("stop c");
    co_await run_briefly();
    CHECK_FALSE(gathered.done());
    children[3].set_result(3);
    children[4].cancel();
    children[5].set_exception(std::logic_error("runtime"));
    std::vector<eddy::result<int>> results = co_await gathered;
    REQUIRE(results.size() == 6);
    CHECK(results[0].value() == 1);
    CHECK(eddy_test::holds<std::runtime_error>(results[1].exception()));
    CHECK(results[2].cancelled());
    CHECK(eddy_test::holds<eddy::cancelled_error>(results[2].exception()));
    try {
      std::rethrow_exception(results[2].exception());
    } catch (const eddy::cancelled_error& cancellation) {
      CHECK(cancellation.message() == "stop c");
    }
    CHECK(results[3].value() == 3);
    CHECK(results[4].cancelled());
    CHECK(eddy_test::holds<std::logic_error>(results[5].exception()));
    CHECK_FALSE(gathered.cancelled());
  }());
}

TEST_CASE("test_one_cancellation: a child cancelled on its own makes gather raise cancelled_error",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> a;
    eddy::future<int> b;
    eddy::future<int> c;
    auto gathered = eddy::gather(a, b, c);
    a.set_result(1);
    b.cancel("b went away");
    co_await run_briefly();
    REQUIRE(gathered.done());
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(gathered);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "b went away");
    // The awaiting task was not cancelled: it goes on.
    CHECK(eddy::current_task().cancelling() == 0);
    co_await eddy::sleep(0s);
    CHECK_FALSE(c.done());  // the others are left alone
    c.set_result(3);
  }());
}

TEST_CASE(
    "test_one_cancellation: the gather itself is not cancelled, it fails with cancelled_error",
    "[gather]") {
  // CPython: assertFalse(fut.cancelled()); assertIsInstance(fut.exception(), CancelledError).
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> a;
    eddy::future<int> b;
    auto gathered = eddy::gather(a, b);
    b.cancel();
    co_await run_briefly();
    REQUIRE(gathered.done());
    CHECK_FALSE(gathered.cancelled());
    // Retrieved, as CPython's test does: an unretrieved failure would be logged (as asyncio's).
    CHECK(eddy_test::holds<eddy::cancelled_error>(gathered.exception()));
    a.set_result(1);
  }());
}

TEST_CASE(
    "test_cancel_gather: cancelling the gather cancels every child and the await throws "
    "cancelled_error",
    "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    bool first_saw_cancel = false;
    bool second_saw_cancel = false;
    auto first = eddy::create_task(wait_on(gate, &first_saw_cancel));
    auto second = eddy::create_task(wait_on(gate, &second_saw_cancel));
    eddy::future<int> plain;
    auto gathered = eddy::gather(first, second, plain);
    co_await run_briefly();
    CHECK(gathered.cancel("enough"));
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(gathered);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "enough");
    // As CPython: the gathering future fails with CancelledError; it is not itself cancelled.
    CHECK_FALSE(gathered.cancelled());
    co_await run_briefly();
    CHECK(first.cancelled());
    CHECK(second.cancelled());
    CHECK(plain.cancelled());
    CHECK(first_saw_cancel);
    CHECK(second_saw_cancel);
    CHECK_FALSE(gathered.cancel());  // already done
    CHECK(gate.cancelled());         // a cancelled await on a future cancels that future (asyncio)
  }());
}

TEST_CASE("test_cancellation_broadcast: cancelling the task awaiting gather cancels every child",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> waiter;
    int proof = 0;
    auto inner = [](eddy::future<int> gate, int* counter) -> eddy::coro<void> {
      co_await gate;
      *counter += 1;
    };
    auto child1 = eddy::create_task(inner(waiter, &proof));
    auto child2 = eddy::create_task(inner(waiter, &proof));
    std::optional<eddy::future<std::tuple<std::monostate, std::monostate>>> gatherer;
    auto outer = [](eddy::task<void> a, eddy::task<void> b, int* counter,
                    std::optional<eddy::future<std::tuple<std::monostate, std::monostate>>>* slot)
        -> eddy::coro<void> {
      slot->emplace(eddy::gather(a, b));
      co_await **slot;
      *counter += 100;
    };
    auto f = eddy::create_task(outer(child1, child2, &proof, &gatherer));
    co_await eddy::sleep(0s);
    CHECK(f.cancel());
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(f);
    CHECK(cancellation.has_value());
    CHECK(f.cancelled());
    REQUIRE(gatherer.has_value());
    CHECK_FALSE(gatherer->cancel());
    CHECK(waiter.cancelled());  // each child's await cancelled the future it waited on
    CHECK(child1.cancelled());
    CHECK(child2.cancelled());
    co_await eddy::sleep(0s);
    CHECK(proof == 0);
  }());
}

TEST_CASE(
    "test_cancel_gather_2: cancelling a task awaiting a return_exceptions gather raises "
    "cancelled_error",
    "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    auto test = []() -> eddy::coro<void> {
      for (;;) {
        co_await eddy::gather(eddy::return_exceptions, eddy::sleep(10s));
      }
    };
    auto qwe = eddy::create_task(test());
    co_await run_briefly();
    qwe.cancel("my message");
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(qwe);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "my message");
    CHECK(qwe.cancelled());
  }());
}

TEST_CASE(
    "gather: a cancelled gather whose children swallow the cancellation still raises "
    "cancelled_error",
    "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    auto stubborn = eddy::create_task(swallow_cancel(gate, 5));
    auto gathered = eddy::gather(stubborn);
    co_await run_briefly();
    CHECK(gathered.cancel());
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(gathered);
    CHECK(cancellation.has_value());
    // As CPython: the gathering future fails with CancelledError; it is not itself cancelled.
    CHECK_FALSE(gathered.cancelled());
    CHECK(stubborn.done());
    CHECK_FALSE(stubborn.cancelled());
    CHECK(stubborn.result() == 5);
  }());
}

TEST_CASE("test_exception_marking: a second child failure after gather is done is not reported",
          "[gather]") {
  eddy_test::error_log log;
  eddy::runner runner;
  log.attach(runner.get_loop());
  runner.run([]() -> eddy::coro<void> {
    eddy::future<void> a;
    eddy::future<void> b;
    auto inner = [](eddy::future<void> gate) -> eddy::coro<void> {
      co_await gate;
      throw std::runtime_error("should not be ignored");
    };
    auto outer =
        eddy::create_task(eddy_test::caught<std::runtime_error>(eddy::gather(inner(a), inner(b))));
    co_await eddy::sleep(0s);
    a.set_result();
    co_await run_briefly();
    CHECK(outer.done());
    b.set_result();
    co_await run_briefly();
    CHECK(outer.result().has_value());
  }());
  runner.close();
  INFO(log.messages());
  CHECK(log.entries.empty());
}

TEST_CASE(
    "test_exception_marking: a later failure is not reported while the gather future is still held",
    "[gather]") {
  eddy_test::error_log log;
  eddy::runner runner;
  log.attach(runner.get_loop());
  runner.run([]() -> eddy::coro<void> {
    eddy::future<void> a;
    eddy::future<void> b;
    auto inner = [](eddy::future<void> gate) -> eddy::coro<void> {
      co_await gate;
      throw std::runtime_error("should not be ignored");
    };
    auto gathered = eddy::gather(inner(a), inner(b));
    co_await eddy::sleep(0s);
    a.set_result();
    auto error = co_await eddy_test::caught<std::runtime_error>(gathered);
    CHECK(error.has_value());
    b.set_result();
    co_await run_briefly();
  }());
  runner.close();
  INFO(log.messages());
  CHECK(log.entries.empty());
}

TEST_CASE("gather: the same task twice gives its result twice", "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    auto spawned = eddy::create_task(text("abc"));
    auto results = co_await eddy::gather(spawned, spawned, eddy::create_task(text("def")), spawned);
    CHECK(results == std::tuple<std::string, std::string, std::string, std::string>("abc", "abc",
                                                                                    "def", "abc"));
  }());
}

TEST_CASE("gather: a move-only result is moved out of a coro's task", "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    auto make = [](int value) -> eddy::coro<std::unique_ptr<int>> {
      co_await eddy::sleep(0s);
      co_return std::make_unique<int>(value);
    };
    auto [first, second] = co_await eddy::gather(make(1), make(2));
    REQUIRE(first);
    REQUIRE(second);
    CHECK(*first == 1);
    CHECK(*second == 2);
    std::vector<eddy::coro<std::unique_ptr<int>>> coros;
    coros.push_back(make(3));
    auto values = co_await eddy::gather(std::move(coros));
    REQUIRE(values.size() == 1);
    CHECK(*values[0] == 3);
  }());
}

TEST_CASE("gather: results of values that complete without suspending", "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    auto results = co_await eddy::gather(value_now(1), value_now(2), value_now(3));
    CHECK(results == std::tuple(1, 2, 3));
    eddy::future<int> done_already;
    done_already.set_result(4);
    auto shortcut = eddy::gather(done_already);
    CHECK(shortcut.done());  // every child done already: the gather is done at once
    auto shortcut_results = co_await shortcut;
    CHECK(std::get<0>(shortcut_results) == 4);
  }());
}

TEST_CASE("gather: outside a running loop it throws std::runtime_error", "[gather]") {
  std::vector<eddy::future<int>> none;
  CHECK_THROWS_AS(eddy::gather(none), std::runtime_error);
}

TEST_CASE("gather: an empty task handle is refused with invalid_state_error", "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> never_made;
    std::vector<eddy::task<int>> with_a_hole;
    with_a_hole.push_back(eddy::create_task(value_after_yield(1)));
    with_a_hole.emplace_back();
    CHECK_THROWS_AS(eddy::gather(never_made, value_after_yield(2)), eddy::invalid_state_error);
    CHECK_THROWS_AS(eddy::gather(with_a_hole), eddy::invalid_state_error);
    CHECK_THROWS_AS(eddy::gather(std::move(with_a_hole)), eddy::invalid_state_error);
    co_return;
  }());
}

TEST_CASE("gather(range): a moved vector of tasks gives its results in order", "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<int>> tasks;
    for (int i = 0; i < 100; ++i) {
      tasks.push_back(eddy::create_task(value_after_yield(i)));
    }
    std::vector<int> results = co_await eddy::gather(std::move(tasks));
    REQUIRE(results.size() == 100);
    for (int i = 0; i < 100; ++i) {
      CHECK(results[static_cast<std::size_t>(i)] == i);
    }
  }());
}

namespace {

/// A value whose copy fails: a task shared with gather is copied, not moved, out of.
struct copy_fails {
  copy_fails() = default;
  copy_fails(const copy_fails&) { throw std::runtime_error("copy failed"); }
  copy_fails(copy_fails&&) noexcept = default;
  copy_fails& operator=(const copy_fails&) = delete;
  copy_fails& operator=(copy_fails&&) noexcept = default;
};

eddy::coro<copy_fails> make_copy_fails() {
  co_await eddy::sleep(0s);
  co_return copy_fails{};
}

}  // namespace

TEST_CASE("gather: nested gathers give nested tuples; the inner gathers are futures it shares",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> a;
    eddy::future<int> d;
    auto left = eddy::gather(a, value_after_yield(2));
    auto right = eddy::gather(eddy::create_task(value_after_yield(3)), d);
    auto outer = eddy::gather(left, right, eddy::gather(value_now(5)));
    co_await run_briefly();
    d.set_result(4);
    co_await run_briefly();
    CHECK(right.done());
    CHECK_FALSE(outer.done());
    a.set_result(1);
    auto [first, second, third] = co_await outer;
    CHECK(first == std::tuple(1, 2));
    CHECK(second == std::tuple(3, 4));
    CHECK(third == std::tuple(5));
    // The inner gathers were shared, not consumed: their results are still there.
    CHECK(std::get<1>(left.result()) == 2);
    CHECK(std::get<0>(right.result()) == 3);
  }());
}

TEST_CASE("gather: a gather dropped after its first failure leaves its other children running",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    bool saw_cancel = false;
    auto slow = eddy::create_task(wait_on(gate, &saw_cancel));
    eddy::future<int> failing;
    {
      auto gathered = eddy::gather(slow, failing, value_after_yield(1));
      failing.set_exception(std::runtime_error("early"));
      co_await run_briefly();
      REQUIRE(gathered.done());
      CHECK_THROWS_WITH(gathered.result(), "early");
    }  // the gather goes while `slow` still runs: it must unhook itself from `slow`
    gate.set_result(7);
    int slow_value = co_await slow;
    CHECK(slow_value == 7);
    CHECK_FALSE(saw_cancel);
  }());
}

TEST_CASE("gather: cancelling a gather after some children finished cancels only the rest",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    bool saw_cancel = false;
    auto quick = eddy::create_task(value_after_yield(1));
    auto slow = eddy::create_task(wait_on(gate, &saw_cancel));
    std::vector<eddy::task<int>> children{quick, slow};
    auto gathered = eddy::gather(std::move(children));
    co_await run_briefly();
    REQUIRE(quick.done());
    CHECK(gathered.cancel("enough"));
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(gathered);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "enough");
    CHECK(saw_cancel);
    CHECK(slow.cancelled());
    CHECK(quick.result() == 1);  // finished before the cancel: untouched
  }());
}

TEST_CASE("gather: a shared task's value that cannot be copied makes gather raise the error",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    auto shared = eddy::create_task(make_copy_fails());
    eddy::future<int> other;
    auto gathered = eddy::gather(shared, other);
    auto error = co_await eddy_test::caught<std::runtime_error>(gathered);
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "copy failed");
    CHECK_FALSE(other.done());  // as for a child's own failure: the siblings are not cancelled
    CHECK_FALSE(shared.cancelled());
    // An owned coro's value is moved, never copied: that gather succeeds.
    auto [moved] = co_await eddy::gather(make_copy_fails());
    (void)moved;
    // With return_exceptions a failed copy still fails the whole gather, not just its slot:
    // the child itself succeeded, so no eddy::result can honestly report it.
    auto reported = co_await eddy_test::caught<std::runtime_error>(
        eddy::gather(eddy::return_exceptions, shared));
    REQUIRE(reported.has_value());
    CHECK(std::string(reported->what()) == "copy failed");
  }());
}

TEST_CASE("gather(range): a thousand tasks, done and pending, give their results in order",
          "[gather]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<int>> tasks;
    for (int i = 0; i < 1000; ++i) {
      tasks.push_back(eddy::create_task(i % 2 == 0 ? value_now(i) : value_after_yield(i)));
    }
    co_await eddy::sleep(0s);  // the even ones are done before the gather sees them
    std::vector<int> results = co_await eddy::gather(tasks);
    REQUIRE(results.size() == 1000);
    for (int i = 0; i < 1000; ++i) {
      CHECK(results[static_cast<std::size_t>(i)] == i);
      CHECK(tasks[static_cast<std::size_t>(i)].result() == i);  // shared tasks keep their value
    }
  }());
}

TEST_CASE("test_gather_different_loops: futures of two loops throw std::invalid_argument",
          "[gather]") {
  // asyncio: ValueError, "The future belongs to a different loop".
  eddy::event_loop other;
  eddy::future<int> foreign = other.create_future<int>();
  eddy::run([&foreign]() -> eddy::coro<void> {
    eddy::future<int> mine;
    CHECK_THROWS_AS(eddy::gather(mine, foreign), std::invalid_argument);
    CHECK_THROWS_WITH(eddy::gather(std::vector{foreign}),
                      "gather: a task or future belongs to a different event loop");
    CHECK_THROWS_AS(eddy::gather(eddy::return_exceptions, foreign, mine), std::invalid_argument);
    mine.set_result(1);
    int value = co_await mine;  // nothing was registered on it
    CHECK(value == 1);
  }());
}
