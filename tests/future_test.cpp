#include "eddy/future.hpp"
// eddy::future<T> (asyncio.Future): set_result, set_exception, cancel, awaiting, callbacks.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;
using eddy_test::error_log;

using eddy_test::custom_error;

/// Awaits the future and appends "<name>:<value>" to `order` when it wakes.
eddy::coro<void> await_and_record(eddy::future<int> awaited, std::string name,
                                  std::vector<std::string>* order) {
  int value = co_await awaited;
  order->push_back(name + ":" + std::to_string(value));
}

eddy::coro<void> set_later(eddy::future<int> target, int value) {
  co_await eddy::sleep(1ms);
  target.set_result(value);
}

}  // namespace

TEST_CASE("set_result then await yields the value", "[future]") {
  auto main = []() -> eddy::coro<int> {
    eddy::future<int> f;
    f.set_result(5);
    CHECK(f.done());
    int value = co_await f;
    co_return value;
  };
  CHECK(eddy::run(main()) == 5);
}

TEST_CASE("awaiting a pending future waits until another task sets it", "[future]") {
  auto main = []() -> eddy::coro<int> {
    eddy::future<int> f;
    eddy::task<void> setter = eddy::create_task(set_later(f, 12));
    int value = co_await f;
    co_await setter;
    co_return value;
  };
  CHECK(eddy::run(main()) == 12);
}

TEST_CASE("set_exception makes the await and result() throw that exception", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    f.set_exception(custom_error("failed"));
    CHECK(f.done());
    CHECK_FALSE(f.cancelled());
    std::optional<custom_error> error = co_await caught<custom_error>(f);
    REQUIRE(error);
    CHECK(std::string(error->what()) == "failed");
    CHECK_THROWS_AS(f.result(), custom_error);
    CHECK(eddy_test::holds<custom_error>(f.exception()));
  };
  eddy::run(main());
}

TEST_CASE("set_exception takes an exception_ptr too", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<void> f;
    f.set_exception(std::make_exception_ptr(std::out_of_range("range")));
    CHECK_THROWS_AS(f.result(), std::out_of_range);
    co_return;
  };
  eddy::run(main());
}

TEST_CASE("cancel makes the future cancelled and its await throw cancelled_error", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    CHECK(f.cancel("no longer needed"));
    CHECK(f.done());
    CHECK(f.cancelled());
    CHECK_FALSE(f.cancel());
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(f);
    REQUIRE(error);
    CHECK(error->message() == "no longer needed");
    bool result_threw = false;
    try {
      static_cast<void>(f.result());
    } catch (const eddy::cancelled_error&) {
      result_threw = true;
    }
    CHECK(result_threw);
  };
  eddy::run(main());
}

TEST_CASE("cancelling a future that a task awaits wakes the task with cancelled_error",
          "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    std::vector<std::string> order;
    eddy::task<void> waiter = eddy::create_task(await_and_record(f, "waiter", &order));
    co_await eddy::sleep(0s);
    f.cancel();
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(waiter);
    CHECK(error);
    CHECK(waiter.cancelled());
    CHECK(order.empty());
  };
  eddy::run(main());
}

TEST_CASE("set_result on a done future throws invalid_state_error", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> finished;
    finished.set_result(1);
    CHECK_THROWS_AS(finished.set_result(2), eddy::invalid_state_error);
    CHECK_THROWS_AS(finished.set_exception(custom_error("late")), eddy::invalid_state_error);
    CHECK(finished.result() == 1);

    eddy::future<int> cancelled;
    cancelled.cancel();
    CHECK_THROWS_AS(cancelled.set_result(2), eddy::invalid_state_error);

    eddy::future<int> failed;
    failed.set_exception(custom_error("first"));
    CHECK_THROWS_AS(failed.set_result(2), eddy::invalid_state_error);
    CHECK_THROWS_AS(failed.result(), custom_error);
    co_return;
  };
  eddy::run(main());
}

TEST_CASE("result() and exception() of a pending future throw invalid_state_error", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    CHECK_FALSE(f.done());
    CHECK_FALSE(f.cancelled());
    CHECK_THROWS_AS(f.result(), eddy::invalid_state_error);
    CHECK_THROWS_AS(f.exception(), eddy::invalid_state_error);
    f.set_result(0);
    CHECK(f.exception() == nullptr);
    co_return;
  };
  eddy::run(main());
}

TEST_CASE("several tasks awaiting one future all wake, in the order they started waiting",
          "[future]") {
  auto main = []() -> eddy::coro<std::vector<std::string>> {
    eddy::future<int> f;
    std::vector<std::string> order;
    std::vector<eddy::task<void>> waiters;
    for (const char* name : {"a", "b", "c", "d"}) {
      waiters.push_back(eddy::create_task(await_and_record(f, name, &order)));
    }
    co_await eddy::sleep(0s);
    f.set_result(3);
    CHECK(order.empty());  // waking goes through the loop
    for (eddy::task<void>& waiter : waiters) {
      co_await waiter;
    }
    co_return order;
  };
  CHECK(eddy::run(main()) == std::vector<std::string>{"a:3", "b:3", "c:3", "d:3"});
}

TEST_CASE("cancelling a task that awaits a future cancels the future", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    std::vector<std::string> order;
    eddy::task<void> waiter = eddy::create_task(await_and_record(f, "waiter", &order));
    co_await eddy::sleep(0s);
    waiter.cancel("stop waiting");
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(waiter);
    REQUIRE(error);
    CHECK(error->message() == "stop waiting");
    CHECK(waiter.cancelled());
    CHECK(f.cancelled());
  };
  eddy::run(main());
}

TEST_CASE("a future<void> is awaited for completion", "[future]") {
  auto wait_for = [](eddy::future<void> f, bool* woke) -> eddy::coro<void> {
    co_await f;
    *woke = true;
  };
  auto main = [wait_for]() -> eddy::coro<void> {
    eddy::future<void> f;
    bool woke = false;
    eddy::task<void> waiter = eddy::create_task(wait_for(f, &woke));
    co_await eddy::sleep(0s);
    CHECK_FALSE(woke);
    f.set_result();
    co_await waiter;
    CHECK(woke);
    f.result();  // returns, does not throw
  };
  eddy::run(main());
}

TEST_CASE("a future of a move-only type hands its value out by rvalue await", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<std::unique_ptr<int>> f;
    f.set_result(std::make_unique<int>(21));
    std::unique_ptr<int>& stored = co_await f;
    REQUIRE(stored != nullptr);
    CHECK(*stored == 21);
    eddy::future<std::unique_ptr<int>> same = f;
    std::unique_ptr<int> taken = co_await std::move(same);
    REQUIRE(taken != nullptr);
    CHECK(*taken == 21);
    CHECK(f.result() == nullptr);
  };
  eddy::run(main());
}

TEST_CASE("copies of a future share one state", "[future]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    eddy::future<int> copy = f;
    CHECK(copy == f);
    copy.set_result(4);
    CHECK(f.done());
    CHECK(f.result() == 4);
    CHECK_FALSE(eddy::future<int>() == f);
    co_return;
  };
  eddy::run(main());
}

TEST_CASE("an empty future handle throws invalid_state_error when used", "[future]") {
  eddy::future<int> empty(eddy::detail::state_ref<eddy::future<int>::state_type>{});
  CHECK_THROWS_AS(empty.done(), eddy::invalid_state_error);
  CHECK_THROWS_AS(empty.set_result(1), eddy::invalid_state_error);
}

TEST_CASE("future() outside a running loop throws std::runtime_error", "[future]") {
  CHECK_THROWS_AS(eddy::future<int>(), std::runtime_error);
}

TEST_CASE("loop.create_future() makes a future before the loop runs", "[future]") {
  eddy::event_loop loop;
  eddy::future<int> f = loop.create_future<int>();
  loop.call_soon([f]() mutable { f.set_result(6); });
  CHECK(loop.run_until_complete(f) == 6);
}

TEST_CASE("future done callbacks run through the loop, in order, with the future",
          "[future][callbacks]") {
  auto main = []() -> eddy::coro<std::vector<std::string>> {
    std::vector<std::string> order;
    eddy::future<int> f;
    f.add_done_callback([&order](eddy::future<int>& done) {
      order.push_back("first " + std::to_string(done.result()));
    });
    f.add_done_callback([&order] { order.push_back("second"); });
    f.set_result(2);
    order.push_back("set_result returned");
    co_await eddy::sleep(0s);
    co_return order;
  };
  CHECK(eddy::run(main()) == std::vector<std::string>{"set_result returned", "first 2", "second"});
}

TEST_CASE("a future done callback added after completion is scheduled, not called at once",
          "[future][callbacks]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    f.set_result(1);
    bool called = false;
    f.add_done_callback([&called] { called = true; });
    CHECK_FALSE(called);
    co_await eddy::sleep(0s);
    CHECK(called);
  };
  eddy::run(main());
}

TEST_CASE("a future done callback runs when the future is cancelled", "[future][callbacks]") {
  auto main = []() -> eddy::coro<bool> {
    eddy::future<int> f;
    bool saw_cancelled = false;
    f.add_done_callback(
        [&saw_cancelled](eddy::future<int>& done) { saw_cancelled = done.cancelled(); });
    f.cancel();
    co_await eddy::sleep(0s);
    co_return saw_cancelled;
  };
  CHECK(eddy::run(main()));
}

TEST_CASE("remove_done_callback on a future returns 1 then 0 and the callback never runs",
          "[future][callbacks]") {
  auto main = []() -> eddy::coro<void> {
    eddy::future<int> f;
    bool removed_ran = false;
    auto id = f.add_done_callback([&removed_ran] { removed_ran = true; });
    CHECK(f.remove_done_callback(id) == 1);
    CHECK(f.remove_done_callback(id) == 0);
    f.set_result(1);
    co_await eddy::sleep(0s);
    CHECK_FALSE(removed_ran);
  };
  eddy::run(main());
}

TEST_CASE("a future whose exception nobody retrieved is reported once", "[future][unretrieved]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = []() -> eddy::coro<void> {
      {
        eddy::future<int> forgotten;
        forgotten.set_exception(custom_error("lost"));
      }
      eddy::future<int> retrieved;
      retrieved.set_exception(custom_error("seen"));
      CHECK(retrieved.exception() != nullptr);
      co_return;
    };
    loop.run_until_complete(main());
  }
  CHECK(errors.count("Future exception was never retrieved") == 1);
  CHECK(errors.entries.size() == 1);
}

TEST_CASE(
    "a task cancelled after the future it awaits failed has still retrieved the exception, as "
    "asyncio's Task.__wakeup reads future.result() before delivering the cancellation",
    "[future]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = []() -> eddy::coro<void> {
      bool cancelled = false;
      {
        eddy::future<int> failing;
        auto waiter = eddy::create_task(
            [](eddy::future<int> awaited) -> eddy::coro<void> { co_await awaited; }, failing);
        co_await eddy::sleep(0s);  // the waiter now waits for the future
        failing.set_exception(custom_error("seen by the waiter"));  // wakes the waiter...
        waiter.cancel();  // ...and the cancel comes before it runs
        const auto outcome = co_await caught<eddy::cancelled_error>(waiter);
        cancelled = outcome.has_value();
      }
      CHECK(cancelled);
    };
    loop.run_until_complete(main());
  }
  INFO(errors.messages());
  CHECK(errors.entries.empty());
}

// --- lifetimes ------------------------------------------------------------------------------
// Last in the file: a failure here is a use-after-free, which ASan turns into an abort.

TEST_CASE("a future stays alive while a task awaits it, even when every handle is dropped",
          "[future][lifetime]") {
  auto await_through = [](std::shared_ptr<eddy::future<int>> holder) -> eddy::coro<int> {
    co_return co_await *holder;
  };
  auto main = [await_through]() -> eddy::coro<bool> {
    auto holder = std::make_shared<eddy::future<int>>();
    eddy::task<int> waiter = eddy::create_task(await_through(holder));
    co_await eddy::sleep(0s);       // the waiter now awaits *holder
    *holder = eddy::future<int>();  // the only handle to the awaited future goes away
    waiter.cancel();                // asyncio: cancels the future the waiter awaits
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(waiter);
    co_return error.has_value();
  };
  CHECK(eddy::run(main()));
}
