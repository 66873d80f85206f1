#include "eddy/timeout.hpp"
// eddy::wait_for: the scenarios of CPython's test_waitfor.py (AsyncioWaitForTest). The
// helpers it shares with timeout_test.cpp are in deadline_support.hpp.

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "deadline_support.hpp"
#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/shield.hpp"
#include "eddy/task.hpp"
#include "eddy/task_group.hpp"
#include "eddy/time.hpp"
#include "eddy/wait.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace eddy_test::deadlines;

}  // namespace

// --- wait_for (test_waitfor.py) ---------------------------------------------------------------

TEST_CASE(
    "test_wait_for_timeout_less_then_0_or_0: the timeout_error of wait_for(x, 0) carries the "
    "cancelled_error as its nested exception",
    "[timeout][wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    std::exception_ptr cause;
    std::string message;
    try {
      co_await eddy::wait_for(eddy::sleep(1s), 0s);
    } catch (const eddy::timeout_error& error) {
      message = error.what();
      if (const auto* nested = dynamic_cast<const std::nested_exception*>(&error)) {
        cause = nested->nested_ptr();
      }
    }
    CHECK(message == "wait_for: timed out");
    REQUIRE(cause != nullptr);
    CHECK(eddy_test::holds<eddy::cancelled_error>(cause));
  }());
}

TEST_CASE("test_wait_for_race_condition: the result when it arrives within the time",
          "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<std::string> fut;
    auto setter = [](eddy::future<std::string> target) -> eddy::coro<void> {
      co_await eddy::sleep(1ms);
      target.set_result("ok");
    };
    auto helper = eddy::create_task(setter(fut));
    std::string value = co_await eddy::wait_for(fut, long_limit);
    CHECK(value == "ok");
    co_await helper;
  }());
}

TEST_CASE("test_wait_for_blocking: wait_for(aw, nullopt) waits for the result", "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto done = []() -> eddy::coro<std::string> {
      co_await eddy::sleep(1ms);
      co_return "done";
    };
    std::string value = co_await eddy::wait_for(done(), std::nullopt);
    CHECK(value == "done");
  }());
}

TEST_CASE(
    "test_wait_for: a timeout cancels the inner task, waits for it, then raises timeout_error",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    bool running = false;
    auto foo = [](bool* flag) -> eddy::coro<std::string> {
      *flag = true;
      try {
        co_await eddy::sleep(long_sleep);
      } catch (...) {
        *flag = false;
        throw;
      }
      co_return "done";
    };
    auto fut = eddy::create_task(foo(&running));
    auto error = co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(fut, short_limit));
    CHECK(error.has_value());
    CHECK(fut.done());
    CHECK(fut.cancelled());
    CHECK_FALSE(running);
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}

TEST_CASE(
    "test_wait_for_waits_for_task_cancellation: the inner's cleanup awaits finish before "
    "timeout_error",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    bool cancel_seen = false;
    bool cleanup_done = false;
    auto inner_task = eddy::create_task(sleep_with_cleanup(&cancel_seen, &cleanup_done));
    bool cleanup_done_when_caught = false;
    try {
      co_await eddy::wait_for(inner_task, short_limit);
    } catch (const eddy::timeout_error&) {
      cleanup_done_when_caught = cleanup_done;
    }
    CHECK(cancel_seen);
    CHECK(cleanup_done_when_caught);
    CHECK(inner_task.cancelled());
  }());
}

TEST_CASE("test_asyncio_wait_for_timeout: a coroutine's cleanup awaits finish before timeout_error",
          "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    bool cancel_seen = false;
    bool cleanup_done = false;
    bool cleanup_done_when_caught = false;
    try {
      co_await eddy::wait_for(sleep_with_cleanup(&cancel_seen, &cleanup_done), short_limit);
    } catch (const eddy::timeout_error&) {
      cleanup_done_when_caught = cleanup_done;
    }
    CHECK(cancel_seen);
    CHECK(cleanup_done_when_caught);
  }());
}

TEST_CASE(
    "test_wait_for_cancellation_race_condition: an inner that swallows the cancel keeps its value",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto inner = []() -> eddy::coro<int> {
      bool cancelled = false;
      try {
        co_await eddy::sleep(1s);
      } catch (const eddy::cancelled_error&) {
        cancelled = true;
      }
      CHECK(cancelled);
      co_return 1;
    };
    int result = co_await eddy::wait_for(inner(), 10ms);
    CHECK(result == 1);
    CHECK(eddy::current_task().cancelling() == 0);
    co_await eddy::sleep(0s);
  }());
}

TEST_CASE("test_wait_for_cancel_suppressed: a task that returns a value when cancelled keeps it",
          "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto return_42 = []() -> eddy::coro<int> {
      try {
        co_await eddy::sleep(long_sleep);
      } catch (const eddy::cancelled_error&) {
        co_return 42;
      }
      co_return 0;
    };
    auto inner = eddy::create_task(return_42());
    int result = co_await eddy::wait_for(inner, short_limit);
    CHECK(result == 42);
    CHECK_FALSE(inner.cancelled());
  }());
}

TEST_CASE("wait_for: an inner that finishes at the same moment keeps its result", "[wait_for]") {
  // The inner future gets its value in the same loop iteration in which the deadline is
  // processed (the loop is kept busy past the deadline, as CPython's tests do with
  // time.sleep): the value is there, so it is delivered and no timeout_error is raised.
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> inner;
    auto busy = eddy::create_task(block_then_set(inner, 100ms, 7));
    std::optional<int> value;
    bool timed_out = false;
    try {
      value = co_await eddy::wait_for(inner, 10ms);
    } catch (const eddy::timeout_error&) {
      timed_out = true;
    }
    CHECK_FALSE(timed_out);
    CHECK(value == std::optional<int>(7));
    CHECK(inner.result() == 7);
    co_await busy;
  }());
}

TEST_CASE("wait_for: an inner task that finishes at the same moment keeps its result",
          "[wait_for]") {
  // The inner task itself keeps the loop busy past the deadline and then returns: it is done
  // before the deadline is processed.
  eddy::run([]() -> eddy::coro<void> {
    auto block_then_return = [](std::chrono::milliseconds delay, int value) -> eddy::coro<int> {
      std::this_thread::sleep_for(delay);
      co_return value;
    };
    auto inner = eddy::create_task(block_then_return(100ms, 8));
    std::optional<int> value;
    bool timed_out = false;
    try {
      value = co_await eddy::wait_for(inner, 10ms);
    } catch (const eddy::timeout_error&) {
      timed_out = true;
    }
    CHECK_FALSE(timed_out);
    CHECK(value == std::optional<int>(8));
    CHECK_FALSE(inner.cancelled());
  }());
}

TEST_CASE(
    "test_cancel_wait_for: an outside cancel is not converted to timeout_error and cancels the "
    "inner",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto blocking_coroutine = []() -> eddy::coro<void> {
      eddy::future<void> never;
      co_await never;
    };
    auto task = eddy::create_task(blocking_coroutine());
    auto waiter = [](eddy::task<void> inner) -> eddy::coro<void> {
      co_await eddy::wait_for(inner, 60s);
    };
    auto wait = eddy::create_task(waiter(task));
    eddy::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(wait);
    CHECK(cancellation.has_value());
    CHECK(wait.cancelled());
    CHECK(task.cancelled());  // Python issue #23219
  }());
}

TEST_CASE("test_cancel_blocking_wait_for: the same with no timeout", "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto blocking_coroutine = []() -> eddy::coro<void> {
      eddy::future<void> never;
      co_await never;
    };
    auto task = eddy::create_task(blocking_coroutine());
    auto waiter = [](eddy::task<void> inner) -> eddy::coro<void> {
      co_await eddy::wait_for(inner, std::nullopt);
    };
    auto wait = eddy::create_task(waiter(task));
    eddy::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(wait);
    CHECK(cancellation.has_value());
    CHECK(task.cancelled());
  }());
}

TEST_CASE("wait_for: an outside cancel racing a pending deadline stays a cancel", "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto waiter = []() -> eddy::coro<void> { co_await eddy::wait_for(sleep_long(), long_limit); };
    auto wait = eddy::create_task(waiter());
    co_await eddy::sleep(0s);
    wait.cancel("from outside");
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(wait);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "from outside");
  }());
}

TEST_CASE(
    "test_wait_for_timeout_less_then_0_or_0_future_done: a done future with 0 s gives its value",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<std::string> fut;
    fut.set_result("done");
    std::string value = co_await eddy::wait_for(fut, 0s);
    CHECK(value == "done");
    CHECK(fut.done());
  }());
}

TEST_CASE("wait_for: 0 s on a done task returns its value", "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto quick = eddy::create_task([]() -> eddy::coro<int> { co_return 5; }());
    co_await eddy::sleep(0s);
    REQUIRE(quick.done());
    int value = co_await eddy::wait_for(quick, 0s);
    CHECK(value == 5);
    int negative = co_await eddy::wait_for(quick, -1s);
    CHECK(negative == 5);
  }());
}

TEST_CASE(
    "test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started: 0 s on a coroutine times out "
    "without running it",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    bool started = false;
    auto foo = [](bool* flag) -> eddy::coro<void> {
      *flag = true;
      co_return;
    };
    auto error = co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(foo(&started), 0s));
    CHECK(error.has_value());
    CHECK_FALSE(started);
  }());
}

TEST_CASE(
    "test_wait_for_timeout_less_then_0_or_0: 0 s and -1 s on a running task cancel it and time out",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    const std::array<std::chrono::milliseconds, 2> limits{0ms, -1000ms};
    for (auto limit : limits) {
      bool running = false;
      eddy::future<void> started;
      auto foo = [](bool* flag, eddy::future<void> ready) -> eddy::coro<std::string> {
        *flag = true;
        ready.set_result();
        try {
          co_await eddy::sleep(long_sleep);
        } catch (...) {
          *flag = false;
          throw;
        }
        co_return "done";
      };
      auto fut = eddy::create_task(foo(&running, started));
      co_await started;
      auto error = co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(fut, limit));
      CHECK(error.has_value());
      CHECK(fut.done());
      CHECK(fut.cancelled());
      CHECK_FALSE(running);
    }
  }());
}

TEST_CASE(
    "test_wait_for_waits_for_task_cancellation_w_timeout_0: 0 s still waits for the inner's "
    "cleanup",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    bool cancel_seen = false;
    bool cleanup_done = false;
    auto inner_task = eddy::create_task(sleep_with_cleanup(&cancel_seen, &cleanup_done));
    co_await eddy::sleep(1ms);
    bool cleanup_done_when_caught = false;
    try {
      co_await eddy::wait_for(inner_task, 0s);
    } catch (const eddy::timeout_error&) {
      cleanup_done_when_caught = cleanup_done;
    }
    CHECK(cancel_seen);
    CHECK(cleanup_done_when_caught);
  }());
}

TEST_CASE(
    "test_wait_for_reraises_exception_during_cancellation: an exception raised while cancelling "
    "wins",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    auto inner = []() -> eddy::coro<void> {
      try {
        co_await eddy::sleep(long_sleep);
      } catch (...) {
      }
      throw std::range_error("foo");
    };
    auto inner_task = eddy::create_task(inner());
    auto error =
        co_await eddy_test::caught<std::range_error>(eddy::wait_for(inner_task, short_limit));
    CHECK(error.has_value());
  }());
}

TEST_CASE(
    "test_wait_for_self_cancellation: an inner task that holds up both the timeout's cancel and "
    "the outside one returns its value through wait_for (3.12 semantics)",
    "[wait_for]") {
  // CPython 3.12+ (wait_for on timeouts.timeout): the deadline cancels the inner task, which
  // swallows it; the outside cancel goes to the inner task too (it is what the waiter awaits),
  // which swallows that as well and returns 42, so wait_for returns 42 and the outer task is
  // not cancelled, with the outside cancel still counted by cancelling().
  eddy::run(
      []() -> eddy::coro<void> {
        auto inner = []() -> eddy::coro<int> {
          // (No await in a catch block in C++: each stage records the cancel and goes on.)
          int cancels = 0;
          try {
            co_await eddy::sleep(200ms);
          } catch (const eddy::cancelled_error&) {  // the deadline's cancel
            ++cancels;
          }
          try {
            co_await eddy::sleep(200ms);
          } catch (const eddy::cancelled_error&) {  // the outside cancel
            ++cancels;
          }
          co_await eddy::sleep(20ms);
          co_return cancels == 2 ? 42 : -cancels;
        };
        auto inner_task = eddy::create_task(inner());
        auto waiter = [](eddy::task<int> inner) -> eddy::coro<std::pair<int, std::uint32_t>> {
          int value = co_await eddy::wait_for(inner, 10ms);
          co_return std::pair(value, eddy::current_task().cancelling());
        };
        auto task = eddy::create_task(waiter(inner_task));
        co_await eddy::sleep(50ms);  // past the deadline: inner is in its second sleep
        REQUIRE_FALSE(task.done());
        CHECK(task.cancel());
        auto [value, cancelling] = co_await task;
        CHECK(value == 42);
        CHECK(cancelling == 1u);
        CHECK_FALSE(task.cancelled());
        int inner_value = co_await inner_task;
        CHECK(inner_value == 42);
      }(),
      virtual_time);
}

TEST_CASE(
    "test_wait_for_issue86296: a cancel arriving after wait_for returned is delivered at the next "
    "await",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    bool reached_end = false;
    auto wait_for_coro = [](bool* flag) -> eddy::coro<void> {
      co_await eddy::wait_for([]() -> eddy::coro<void> { co_return; }(), 100s);
      co_await eddy::sleep(1s);
      *flag = true;
    };
    auto task = eddy::create_task(wait_for_coro(&reached_end));
    co_await eddy::sleep(0s);
    CHECK_FALSE(task.done());
    task.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(task);
    CHECK(cancellation.has_value());
    CHECK_FALSE(reached_end);
  }());
}

TEST_CASE(
    "test_asyncio_wait_for_cancelled: cancelling the waiter waits for an inner that ignores "
    "cancels",
    "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    struct slow_task {
      bool exited = false;
      static eddy::coro<void> run(slow_task* self, std::chrono::milliseconds length) {
        const auto exit_at = eddy::clock::now() + length;
        for (;;) {
          const auto left = exit_at - eddy::clock::now();
          if (left <= eddy::clock::duration::zero()) {
            break;
          }
          try {
            co_await eddy::sleep(left);
          } catch (const eddy::cancelled_error&) {
          }
        }
        self->exited = true;
      }
    };
    slow_task t;
    auto waitfortask = eddy::create_task(eddy::wait_for(slow_task::run(&t, 50ms), 100ms));
    co_await eddy::sleep(0s);
    waitfortask.cancel();
    std::vector just{waitfortask};
    co_await eddy::wait(just);
    CHECK(t.exited);
  }());
}

TEST_CASE(
    "wait_for and timeout leave a shared task's or future's value in place, as asyncio leaves "
    "task.result()",
    "[wait_for][timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto make = []() -> eddy::coro<std::string> {
      co_await eddy::sleep(0s);
      co_return std::string("a value long enough to live on the heap");
    };
    auto shared = eddy::create_task(make());
    std::string through_wait_for = co_await eddy::wait_for(shared, 10s);
    std::string when_done = co_await eddy::wait_for(shared, 0s);  // done: delivered at once
    std::string through_timeout = co_await eddy::timeout(10s, shared);
    std::string with_no_limit = co_await eddy::wait_for(shared, std::nullopt);
    CHECK(through_wait_for == shared.result());
    CHECK(when_done == shared.result());
    CHECK(through_timeout == shared.result());
    CHECK(with_no_limit == shared.result());
    CHECK(shared.result() == "a value long enough to live on the heap");
    eddy::future<std::string> source;
    source.set_result("another value long enough to live on the heap");
    std::string from_future = co_await eddy::wait_for(source, 0s);
    CHECK(from_future == source.result());
    CHECK(source.result() == "another value long enough to live on the heap");
  }());
}

TEST_CASE("wait_for: an empty task handle is refused with invalid_state_error", "[wait_for]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> never_made;
    auto at_once =
        co_await eddy_test::caught<eddy::invalid_state_error>(eddy::wait_for(never_made, 0s));
    CHECK(at_once.has_value());
    auto later =
        co_await eddy_test::caught<eddy::invalid_state_error>(eddy::wait_for(never_made, 1s));
    CHECK(later.has_value());
  }());
}

TEST_CASE("wait_for: the delay counts from the first await, as asyncio's coroutine wait_for",
          "[wait_for]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = eddy::get_running_loop().time();
        eddy::future<int> gate;
        auto waiting = eddy::wait_for(gate, 200ms);  // made now, awaited later
        co_await eddy::sleep(300ms);
        auto setter = eddy::create_task([](eddy::future<int> target) -> eddy::coro<void> {
          co_await eddy::sleep(10ms);
          target.set_result(5);
        }(gate));
        int value = co_await std::move(waiting);  // counted from the call, this would time out
        CHECK(value == 5);
        CHECK(eddy::get_running_loop().time() - start == 310ms);
        co_await setter;
      }(),
      virtual_time);
}

TEST_CASE(
    "WaitForShieldTests: test_zero_timeout, test_shielded_timeout, test_none_timeout: wait_for "
    "around a shield times out without cancelling the inner task",
    "[wait_for][shield]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    auto inner = eddy::create_task(value_of(gate));
    auto zero =
        co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(eddy::shield(inner), 0s));
    CHECK(zero.has_value());
    auto shielded =
        co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(eddy::shield(inner), 10ms));
    CHECK(shielded.has_value());
    CHECK_FALSE(inner.done());  // the shield took both cancels
    auto setter = eddy::create_task([](eddy::future<int> target) -> eddy::coro<void> {
      co_await eddy::sleep(10ms);
      target.set_result(3);
    }(gate));
    int value = co_await eddy::wait_for(eddy::shield(inner), std::nullopt);
    CHECK(value == 3);
    CHECK_FALSE(inner.cancelled());
    co_await setter;
  }());
}

TEST_CASE(
    "test_timeout_taskgroup: a child whose cleanup fails after the deadline cancelled the group "
    "makes an exception_group, not a timeout_error",
    "[timeout][task_group]") {
  eddy::run([]() -> eddy::coro<void> {
    auto child = []() -> eddy::coro<void> {
      try {
        co_await eddy::sleep(10s);  // interrupted by the deadline
      } catch (const eddy::cancelled_error&) {
        throw std::domain_error("crash in cleanup");
      }
    };
    std::optional<eddy::exception_group> group_error;
    try {
      co_await eddy::timeout(10ms, [&](eddy::timeout_scope&) -> eddy::coro<void> {
        co_await eddy::with_task_group([&](eddy::task_group& group) -> eddy::coro<void> {
          group.create_task(child());
          co_await eddy::sleep(10s);
        });
      });
    } catch (const eddy::exception_group& error) {
      group_error = error;
    }
    REQUIRE(group_error.has_value());
    REQUIRE(group_error->exceptions().size() == 1);
    CHECK(eddy_test::holds<std::domain_error>(group_error->exceptions().front()));
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}
