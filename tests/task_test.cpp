#include "eddy/task.hpp"
// eddy::task<T> (asyncio.Task): scheduling, results, names, cancellation, done callbacks,
// "Task exception was never retrieved", current_task() and all_tasks().

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
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

using eddy_test::return_after;

eddy::coro<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

eddy::coro<void> fail_with(std::string message) {
  co_await eddy::sleep(0s);
  throw custom_error(message);
}

eddy::coro<void> sleep_forever() { co_await eddy::sleep(1h); }

/// Sleeps until cancelled; records where the cancellation arrived and its message, rethrows.
eddy::coro<void> sleep_and_record_cancel(std::string* message) {
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error& cancellation) {
    *message = "cancelled at the sleep: " + cancellation.message();
    throw;
  }
  *message = "the sleep ended normally";
}

eddy::coro<void> await_task(eddy::task<void> inner) { co_await inner; }

eddy::coro<int> swallow_cancel() {
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error&) {
    co_return -1;  // swallowed: the task is not cancelled
  }
  co_return 0;
}

/// Cleans up with an await after the cancellation arrives, then lets it finish the task.
eddy::coro<void> clean_up_then_rethrow(std::vector<std::string>* steps) {
  std::exception_ptr cancellation;
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error&) {
    cancellation = std::current_exception();
    steps->push_back("caught");
  }
  co_await eddy::sleep(1ms);  // no co_await in a catch block: clean up after it
  steps->push_back("cleaned up");
  std::rethrow_exception(cancellation);
}

eddy::coro<std::unique_ptr<int>> boxed_after_yield(int value) {
  co_await eddy::sleep(0s);
  co_return std::make_unique<int>(value);
}

}  // namespace

// --- scheduling -----------------------------------------------------------------------------

TEST_CASE("create_task does not run the task before the creator suspends", "[task]") {
  auto main = []() -> eddy::coro<void> {
    bool ran = false;
    eddy::task<void> t = eddy::create_task(set_flag(&ran));
    CHECK_FALSE(ran);
    CHECK_FALSE(t.done());
    co_await eddy::sleep(0s);
    CHECK(ran);
    CHECK(t.done());
  };
  eddy::run(main());
}

TEST_CASE("a task keeps running when every handle to it is dropped", "[task]") {
  auto main = []() -> eddy::coro<bool> {
    bool ran = false;
    static_cast<void>(eddy::create_task(set_flag(&ran)));
    co_await eddy::sleep(1ms);
    co_return ran;
  };
  CHECK(eddy::run(main()));
}

TEST_CASE("awaiting a task yields its result", "[task]") {
  auto main = []() -> eddy::coro<int> {
    eddy::task<int> t = eddy::create_task(return_after(1ms, 7));
    int value = co_await t;
    CHECK(t.result() == 7);
    co_return value;
  };
  CHECK(eddy::run(main()) == 7);
}

TEST_CASE("create_task outside a running loop throws std::runtime_error", "[task]") {
  CHECK_THROWS_AS(eddy::create_task(return_after(0ms, 1)), std::runtime_error);
}

TEST_CASE("create_task with an empty coro throws invalid_state_error", "[task]") {
  auto main = []() -> eddy::coro<bool> {
    eddy::coro<int> body = return_after(0ms, 1);
    eddy::coro<int> moved = std::move(body);
    try {
      static_cast<void>(eddy::create_task(std::move(body)));  // NOLINT(bugprone-use-after-move)
    } catch (const eddy::invalid_state_error&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(eddy::run(main()));
}

// --- names ----------------------------------------------------------------------------------

TEST_CASE("default task names are Task-N with increasing N", "[task]") {
  auto main = []() -> eddy::coro<std::vector<std::string>> {
    eddy::task<int> first = eddy::create_task(return_after(0ms, 1));
    eddy::task<int> second = eddy::create_task(return_after(0ms, 2));
    co_await first;
    co_await second;
    co_return std::vector<std::string>{first.get_name(), second.get_name()};
  };
  std::vector<std::string> names = eddy::run(main());
  REQUIRE(names[0].rfind("Task-", 0) == 0);
  REQUIRE(names[1].rfind("Task-", 0) == 0);
  CHECK(std::stoul(names[0].substr(5)) < std::stoul(names[1].substr(5)));
}

TEST_CASE("set_name renames a task and create_task takes a name", "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> named = eddy::create_task(return_after(0ms, 1), "worker");
    CHECK(named.get_name() == "worker");
    named.set_name("renamed");
    CHECK(named.get_name() == "renamed");
    eddy::any_task same = named;
    CHECK(same.get_name() == "renamed");
    co_await named;
  };
  eddy::run(main());
}

// --- state queries --------------------------------------------------------------------------

TEST_CASE("a pending task is not done and its result() and exception() throw invalid_state_error",
          "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(return_after(1ms, 3));
    CHECK_FALSE(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK_THROWS_AS(t.result(), eddy::invalid_state_error);
    CHECK_THROWS_AS(t.exception(), eddy::invalid_state_error);
    co_await t;
  };
  eddy::run(main());
}

TEST_CASE("a finished task is done, not cancelled, has a result and no exception", "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(return_after(0ms, 3));
    co_await t;
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.result() == 3);
    CHECK(t.exception() == nullptr);
  };
  eddy::run(main());
}

TEST_CASE("a cancelled task is done and cancelled; result() and exception() throw cancelled_error",
          "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<void> t = eddy::create_task(sleep_forever());
    co_await eddy::sleep(0s);
    t.cancel();
    co_await eddy::sleep(0s);
    CHECK(t.done());
    CHECK(t.cancelled());
    bool result_threw = false;
    try {
      t.result();
    } catch (const eddy::cancelled_error&) {
      result_threw = true;
    }
    bool exception_threw = false;
    try {
      static_cast<void>(t.exception());
    } catch (const eddy::cancelled_error&) {
      exception_threw = true;
    }
    CHECK(result_threw);
    CHECK(exception_threw);
  };
  eddy::run(main());
}

TEST_CASE("a failed task rethrows its exception from result() and co_await", "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<void> t = eddy::create_task(fail_with("boom"));
    std::optional<custom_error> error = co_await caught<custom_error>(t);
    REQUIRE(error);
    CHECK(std::string(error->what()) == "boom");
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK_THROWS_AS(t.result(), custom_error);
    CHECK(eddy_test::holds<custom_error>(t.exception()));
  };
  eddy::run(main());
}

// --- cancellation ---------------------------------------------------------------------------

TEST_CASE("cancel before the task starts: its body never runs and it ends cancelled",
          "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    bool ran = false;
    eddy::task<void> t = eddy::create_task(set_flag(&ran));
    CHECK(t.cancel());
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(t);
    CHECK(error);
    CHECK_FALSE(ran);
    CHECK(t.cancelled());
  };
  eddy::run(main());
}

TEST_CASE("cancel while sleeping throws cancelled_error at the sleep, with the message",
          "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    std::string seen;
    eddy::task<void> t = eddy::create_task(sleep_and_record_cancel(&seen));
    co_await eddy::sleep(0s);
    CHECK(t.cancel("stop now"));
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(t);
    REQUIRE(error);
    CHECK(error->message() == "stop now");
    CHECK(seen == "cancelled at the sleep: stop now");
    CHECK(t.cancelled());
  };
  eddy::run(main());
}

TEST_CASE("cancel while awaiting another task cancels that task too", "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    std::string inner_saw;
    eddy::task<void> inner = eddy::create_task(sleep_and_record_cancel(&inner_saw));
    eddy::task<void> outer = eddy::create_task(await_task(inner));
    co_await eddy::sleep(0s);
    outer.cancel("from main");
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(outer);
    CHECK(error);
    CHECK(outer.cancelled());
    CHECK(inner.cancelled());
    CHECK(inner_saw == "cancelled at the sleep: from main");
  };
  eddy::run(main());
}

TEST_CASE("a task that catches cancelled_error and returns normally is not cancelled",
          "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(swallow_cancel());
    co_await eddy::sleep(0s);
    t.cancel();
    int value = co_await t;
    CHECK(value == -1);
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.result() == -1);
  };
  eddy::run(main());
}

TEST_CASE("a cancelled task may clean up with more awaits and then rethrow", "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    std::vector<std::string> steps;
    eddy::task<void> t = eddy::create_task(clean_up_then_rethrow(&steps));
    co_await eddy::sleep(0s);
    t.cancel();
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(t);
    CHECK(error);
    CHECK(t.cancelled());
    CHECK(steps == std::vector<std::string>{"caught", "cleaned up"});
  };
  eddy::run(main());
}

TEST_CASE("cancel is sticky: a task cancelled while running gets cancelled_error at its next await",
          "[task][cancel]") {
  auto self_cancel = [](std::vector<std::string>* steps) -> eddy::coro<void> {
    eddy::current_task().cancel("by myself");
    steps->push_back("still running after cancel()");
    try {
      co_await eddy::sleep(0s);
      steps->push_back("the await did not throw");
    } catch (const eddy::cancelled_error& cancellation) {
      steps->push_back("cancelled at the await: " + cancellation.message());
      throw;
    }
  };
  auto main = [self_cancel]() -> eddy::coro<void> {
    std::vector<std::string> steps;
    eddy::task<void> t = eddy::create_task(self_cancel(&steps));
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(t);
    CHECK(error);
    CHECK(t.cancelled());
    CHECK(steps == std::vector<std::string>{"still running after cancel()",
                                            "cancelled at the await: by myself"});
  };
  eddy::run(main());
}

TEST_CASE("a sticky cancel is delivered at the next sleep with a real delay too",
          "[task][cancel]") {
  auto self_cancel = []() -> eddy::coro<bool> {
    eddy::current_task().cancel();
    try {
      co_await eddy::sleep(1h);
    } catch (const eddy::cancelled_error&) {
      co_return true;
    }
    co_return false;
  };
  auto main = [self_cancel]() -> eddy::coro<bool> {
    co_return co_await eddy::create_task(self_cancel());
  };
  CHECK(eddy::run(main()));
}

TEST_CASE(
    "cancelling a task that awaits a task which swallows the cancellation yields that task's value",
    "[task][cancel]") {
  auto await_value = [](eddy::task<int> inner) -> eddy::coro<int> { co_return co_await inner; };
  auto main = [await_value]() -> eddy::coro<void> {
    eddy::task<int> inner = eddy::create_task(swallow_cancel());
    eddy::task<int> outer = eddy::create_task(await_value(inner));
    co_await eddy::sleep(0s);
    CHECK(outer.cancel());
    int value = co_await outer;  // asyncio: the cancel went to inner, which returned normally
    CHECK(value == -1);
    CHECK_FALSE(outer.cancelled());
    CHECK_FALSE(inner.cancelled());
    CHECK(outer.cancelling() == 1);
  };
  eddy::run(main());
}

TEST_CASE("a task that throws before its first await fails with that exception", "[task]") {
  auto throws_at_once = []() -> eddy::coro<int> {
    throw custom_error("immediately");
    co_return 0;
  };
  auto main = [throws_at_once]() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(throws_at_once());
    std::optional<custom_error> error = co_await caught<custom_error>(t);
    CHECK(error);
    CHECK(t.done());
  };
  eddy::run(main());
}

TEST_CASE("cancel() on a done task returns false and changes nothing", "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(return_after(0ms, 5));
    co_await t;
    CHECK_FALSE(t.cancel());
    CHECK_FALSE(t.cancelled());
    CHECK(t.cancelling() == 0);
    CHECK(t.result() == 5);
  };
  eddy::run(main());
}

TEST_CASE("cancelling() counts cancel requests and uncancel() withdraws them", "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(swallow_cancel());
    co_await eddy::sleep(0s);
    CHECK(t.cancelling() == 0);
    CHECK(t.cancel());
    CHECK(t.cancel());
    CHECK(t.cancelling() == 2);
    CHECK(t.uncancel() == 1);
    CHECK(t.cancelling() == 1);
    CHECK(t.uncancel() == 0);
    CHECK(t.uncancel() == 0);
    t.cancel();
    co_await t;
  };
  eddy::run(main());
}

TEST_CASE("uncancel() of every request before delivery lets the task run on", "[task][cancel]") {
  auto main = []() -> eddy::coro<void> {
    bool ran = false;
    eddy::task<void> t = eddy::create_task(set_flag(&ran));
    t.cancel();
    CHECK(t.uncancel() == 0);
    co_await t;
    CHECK(ran);
    CHECK_FALSE(t.cancelled());
  };
  eddy::run(main());
}

TEST_CASE("a task awaiting itself throws std::logic_error", "[task]") {
  auto await_own_handle = [](std::shared_ptr<eddy::task<int>> own) -> eddy::coro<int> {
    try {
      co_await *own;
    } catch (const std::logic_error&) {
      co_return -1;
    }
    co_return 0;
  };
  auto main = [await_own_handle]() -> eddy::coro<int> {
    auto slot = std::make_shared<eddy::task<int>>();
    *slot = eddy::create_task(await_own_handle(slot));
    co_return co_await *slot;
  };
  CHECK(eddy::run(main()) == -1);
}

// --- awaiting -------------------------------------------------------------------------------

TEST_CASE("several tasks awaiting one task all get its value", "[task]") {
  auto await_value = [](eddy::task<int> awaited) -> eddy::coro<int> { co_return co_await awaited; };
  auto main = [await_value]() -> eddy::coro<std::vector<int>> {
    eddy::task<int> shared = eddy::create_task(return_after(2ms, 11));
    std::vector<eddy::task<int>> waiters;
    for (int i = 0; i < 5; ++i) {
      waiters.push_back(eddy::create_task(await_value(shared)));
    }
    std::vector<int> values;
    for (eddy::task<int>& waiter : waiters) {
      values.push_back(co_await waiter);
    }
    co_return values;
  };
  CHECK(eddy::run(main()) == std::vector<int>(5, 11));
}

TEST_CASE("awaiting a task by rvalue moves a move-only result out", "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<std::unique_ptr<int>> t = eddy::create_task(boxed_after_yield(9));
    eddy::task<std::unique_ptr<int>> handle = t;
    std::unique_ptr<int> value = co_await std::move(handle);
    REQUIRE(value != nullptr);
    CHECK(*value == 9);
    CHECK(t.result() == nullptr);  // moved out of the shared state
  };
  eddy::run(main());
}

TEST_CASE("awaiting a task by lvalue yields a reference to its stored value", "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<std::unique_ptr<int>> t = eddy::create_task(boxed_after_yield(4));
    std::unique_ptr<int>& value = co_await t;
    REQUIRE(value != nullptr);
    CHECK(&value == &t.result());
  };
  eddy::run(main());
}

TEST_CASE("awaiting a task that is already done does not suspend", "[task]") {
  auto main = []() -> eddy::coro<std::vector<std::string>> {
    std::vector<std::string> order;
    eddy::task<int> t = eddy::create_task(return_after(0ms, 1));
    co_await t;
    eddy::get_running_loop().call_soon([&order] { order.push_back("callback"); });
    int value = co_await t;
    order.push_back("awaited " + std::to_string(value));
    co_await eddy::sleep(0s);
    co_return order;
  };
  CHECK(eddy::run(main()) == std::vector<std::string>{"awaited 1", "callback"});
}

// --- done callbacks -------------------------------------------------------------------------

TEST_CASE(
    "done callbacks run through the loop after completion, in registration order, with the task",
    "[task][callbacks]") {
  auto main = []() -> eddy::coro<std::vector<std::string>> {
    std::vector<std::string> order;
    eddy::task<int> t = eddy::create_task(return_after(0ms, 8));
    t.add_done_callback([&order](eddy::task<int>& done) {
      order.push_back("first " + std::to_string(done.result()));
    });
    t.add_done_callback([&order] { order.push_back("second"); });
    t.add_done_callback([&order, t](eddy::task<int>& done) {
      order.push_back(done == t ? "third, same task" : "third, other");
    });
    co_await t;
    order.push_back("awaiter resumed");
    co_return order;
  };
  CHECK(eddy::run(main()) ==
        std::vector<std::string>{"first 8", "second", "third, same task", "awaiter resumed"});
}

TEST_CASE("a done callback added to a done task is scheduled, not called at once",
          "[task][callbacks]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> t = eddy::create_task(return_after(0ms, 1));
    co_await t;
    bool called = false;
    t.add_done_callback([&called] { called = true; });
    CHECK_FALSE(called);
    co_await eddy::sleep(0s);
    CHECK(called);
  };
  eddy::run(main());
}

TEST_CASE("remove_done_callback returns 1 then 0 and the callback never runs",
          "[task][callbacks]") {
  auto main = []() -> eddy::coro<void> {
    bool removed_ran = false;
    bool kept_ran = false;
    eddy::task<int> t = eddy::create_task(return_after(1ms, 1));
    auto removed = t.add_done_callback([&removed_ran] { removed_ran = true; });
    t.add_done_callback([&kept_ran] { kept_ran = true; });
    CHECK(t.remove_done_callback(removed) == 1);
    CHECK(t.remove_done_callback(removed) == 0);
    co_await t;
    co_await eddy::sleep(0s);
    CHECK_FALSE(removed_ran);
    CHECK(kept_ran);
  };
  eddy::run(main());
}

TEST_CASE("a done callback that throws goes to the exception handler", "[task][callbacks]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = []() -> eddy::coro<bool> {
      eddy::task<int> t = eddy::create_task(return_after(0ms, 1), "thrower");
      t.add_done_callback([] { throw custom_error("in a done callback"); });
      bool next_ran = false;
      t.add_done_callback([&next_ran] { next_ran = true; });
      co_await t;
      co_await eddy::sleep(0s);
      co_return next_ran;
    };
    CHECK(loop.run_until_complete(main()));
  }
  REQUIRE(errors.entries.size() == 1);
  CHECK(errors.entries[0].message == "Exception in a done callback");
  CHECK(errors.entries[0].task_name == "thrower");
  CHECK(eddy_test::holds<custom_error>(errors.entries[0].exception));
}

// --- exceptions nobody retrieved ------------------------------------------------------------

TEST_CASE("a failed task nobody awaited is reported once when its last handle goes",
          "[task][unretrieved]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = [](const error_log* log) -> eddy::coro<void> {
      {
        eddy::task<void> t = eddy::create_task(fail_with("lost"), "forgotten");
        co_await eddy::sleep(1ms);
        CHECK(t.done());
        CHECK(log->entries.empty());  // still referenced: someone may yet look at it
      }
      CHECK(log->count("Task exception was never retrieved") == 1);
    };
    loop.run_until_complete(main(&errors));
  }
  REQUIRE(errors.count("Task exception was never retrieved") == 1);
  CHECK(errors.entries.size() == 1);
  CHECK(errors.entries[0].task_name == "forgotten");
  CHECK(eddy_test::holds<custom_error>(errors.entries[0].exception));
}

TEST_CASE("a failed task with no handle left is reported once when it finishes",
          "[task][unretrieved]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = []() -> eddy::coro<void> {
      static_cast<void>(eddy::create_task(fail_with("lost")));
      co_await eddy::sleep(1ms);
    };
    loop.run_until_complete(main());
  }
  CHECK(errors.count("Task exception was never retrieved") == 1);
  CHECK(errors.entries.size() == 1);
}

TEST_CASE("a failed task whose exception was retrieved is not reported", "[task][unretrieved]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = []() -> eddy::coro<void> {
      eddy::task<void> awaited = eddy::create_task(fail_with("awaited"));
      eddy::task<void> asked = eddy::create_task(fail_with("exception()"));
      eddy::task<void> resulted = eddy::create_task(fail_with("result()"));
      std::optional<custom_error> error = co_await caught<custom_error>(awaited);
      CHECK(error);
      co_await eddy::sleep(1ms);
      CHECK(asked.exception() != nullptr);
      CHECK_THROWS_AS(resulted.result(), custom_error);
    };
    loop.run_until_complete(main());
  }
  CHECK(errors.entries.empty());
  INFO(errors.messages());
}

TEST_CASE("a cancelled task is not reported as an unretrieved exception", "[task][unretrieved]") {
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    auto main = []() -> eddy::coro<void> {
      eddy::task<void> t = eddy::create_task(sleep_forever());
      co_await eddy::sleep(0s);
      t.cancel();
      co_await eddy::sleep(0s);
      CHECK(t.cancelled());
    };
    loop.run_until_complete(main());
  }
  INFO(errors.messages());
  CHECK(errors.entries.empty());
}

// --- current_task and all_tasks -------------------------------------------------------------

TEST_CASE("current_task() is the running task inside a task and empty outside", "[task]") {
  CHECK_FALSE(eddy::current_task());
  auto report_current = []() -> eddy::coro<std::string> {
    co_return eddy::current_task().get_name();
  };
  auto main = [report_current]() -> eddy::coro<void> {
    eddy::any_task self = eddy::current_task();
    REQUIRE(self);
    CHECK_FALSE(self.done());
    eddy::task<std::string> child = eddy::create_task(report_current(), "child");
    std::string name = co_await child;
    CHECK(name == "child");
    CHECK(eddy::current_task() == self);
  };
  eddy::run(main());
  CHECK_FALSE(eddy::current_task());
  CHECK_THROWS_AS(eddy::current_task().get_name(), eddy::invalid_state_error);  // an empty handle
}

TEST_CASE("current_task() is empty inside a done callback", "[task][callbacks]") {
  auto main = []() -> eddy::coro<bool> {
    bool had_task = true;
    eddy::task<int> t = eddy::create_task(return_after(0ms, 1));
    t.add_done_callback([&had_task] { had_task = static_cast<bool>(eddy::current_task()); });
    co_await t;
    co_await eddy::sleep(0s);
    co_return had_task;
  };
  CHECK_FALSE(eddy::run(main()));
}

TEST_CASE("current_task() is empty inside a plain callback", "[task]") {
  eddy::event_loop loop;
  bool had_task = true;
  loop.call_soon([&] {
    had_task = static_cast<bool>(eddy::current_task());
    loop.stop();
  });
  loop.run_forever();
  CHECK_FALSE(had_task);
}

TEST_CASE("all_tasks() lists the tasks not done yet and throws outside a running loop", "[task]") {
  CHECK_THROWS_AS(eddy::all_tasks(), std::runtime_error);
  auto main = []() -> eddy::coro<void> {
    eddy::any_task self = eddy::current_task();
    eddy::task<int> sleeper = eddy::create_task(return_after(1ms, 1));
    eddy::task<int> quick = eddy::create_task(return_after(0ms, 2));
    auto contains = [](const std::vector<eddy::any_task>& tasks, const eddy::any_task& wanted) {
      return std::find(tasks.begin(), tasks.end(), wanted) != tasks.end();
    };
    std::vector<eddy::any_task> before = eddy::all_tasks();
    CHECK(before.size() == 3);
    CHECK(contains(before, self));
    CHECK(contains(before, sleeper));
    CHECK(contains(before, quick));
    co_await quick;
    std::vector<eddy::any_task> after = eddy::all_tasks();
    CHECK(after.size() == 2);
    CHECK_FALSE(contains(after, quick));
    co_await sleeper;
  };
  eddy::run(main());
}

TEST_CASE("any_task shares the task and cancels it like the typed handle", "[task]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<void> t = eddy::create_task(sleep_forever());
    eddy::any_task untyped = t;
    co_await eddy::sleep(0s);
    CHECK(untyped.cancel("via any_task"));
    CHECK(untyped.cancelling() == 1);
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(t);
    REQUIRE(error);
    CHECK(error->message() == "via any_task");
    CHECK(untyped.done());
    CHECK(untyped.cancelled());
  };
  eddy::run(main());
}

// --- cancelled_error is not a std::exception ------------------------------------------------

TEST_CASE("cancelled_error is not caught by catch (const std::exception&)", "[task][cancel]") {
  STATIC_REQUIRE_FALSE(std::is_base_of_v<std::exception, eddy::cancelled_error>);
  auto catches_std_exceptions = [](bool* caught_by_std) -> eddy::coro<void> {
    try {
      co_await eddy::sleep(1h);
    } catch (const std::exception&) {
      *caught_by_std = true;
    }
  };
  auto main = [catches_std_exceptions]() -> eddy::coro<void> {
    bool caught_by_std = false;
    eddy::task<void> t = eddy::create_task(catches_std_exceptions(&caught_by_std));
    co_await eddy::sleep(0s);
    t.cancel();
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(t);
    CHECK(error);
    CHECK_FALSE(caught_by_std);
    CHECK(t.cancelled());
  };
  eddy::run(main());
}

TEST_CASE("cancelled_error describes itself with its message", "[task][cancel]") {
  CHECK(eddy::cancelled_error().describe() == "cancelled");
  CHECK(eddy::cancelled_error("bye").describe() == "cancelled: bye");
  CHECK(eddy::cancelled_error("bye").message() == "bye");
}

// --- empty handles and lifetimes -----------------------------------------------------------
// Last in the file: a failure here is a null dereference or a use-after-free, which the
// sanitizers turn into an abort of the whole test program.

TEST_CASE("an empty task handle throws invalid_state_error when used or awaited", "[task]") {
  eddy::task<int> empty;
  CHECK_FALSE(empty);
  CHECK_THROWS_AS(empty.done(), eddy::invalid_state_error);
  CHECK_THROWS_AS(empty.cancel(), eddy::invalid_state_error);
  CHECK_THROWS_AS(empty.get_name(), eddy::invalid_state_error);
  auto main = []() -> eddy::coro<bool> {
    eddy::task<int> nothing;
    try {
      co_await nothing;
    } catch (const eddy::invalid_state_error&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(eddy::run(main()));
}

TEST_CASE("an awaited task stays alive for its awaiter after every other handle is dropped",
          "[task][lifetime]") {
  auto await_through = [](std::shared_ptr<eddy::task<int>> holder) -> eddy::coro<int> {
    co_return co_await *holder;
  };
  auto main = [await_through]() -> eddy::coro<int> {
    auto holder = std::make_shared<eddy::task<int>>(eddy::create_task(return_after(5ms, 3)));
    eddy::task<int> waiter = eddy::create_task(await_through(holder));
    co_await eddy::sleep(0s);     // the waiter now awaits *holder
    *holder = eddy::task<int>();  // the only handle to the awaited task goes away
    co_return co_await waiter;
  };
  CHECK(eddy::run(main()) == 3);
}
