#include "eddy/timeout.hpp"
// eddy::timeout and timeout_at: the scenarios of CPython's test_timeouts.py (TimeoutTests).
// wait_for's are in wait_for_test.cpp; the helpers both use in deadline_support.hpp.

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

// --- timeout / timeout_at (test_timeouts.py) ---------------------------------------------------

TEST_CASE("test_timeout_basic: expiry raises timeout_error and expired() is true", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool expired_seen = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(short_limit, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
          CHECK_FALSE(scope.expired());
          try {
            co_await eddy::sleep(long_sleep);
          } catch (const eddy::cancelled_error&) {
            expired_seen = scope.expired();
            throw;
          }
        }));
    CHECK(error.has_value());
    CHECK(expired_seen);
  }());
}

TEST_CASE("timeout: the single-awaitable form co_await timeout(d, aw)", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto error =
        co_await eddy_test::caught<eddy::timeout_error>(eddy::timeout(short_limit, sleep_long()));
    CHECK(error.has_value());
    auto also = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(short_limit, eddy::sleep(long_sleep)));
    CHECK(also.has_value());
    eddy::future<int> ready;
    ready.set_result(5);
    int value = co_await eddy::timeout(long_limit, ready);
    CHECK(value == 5);
  }());
}

TEST_CASE("test_timeout_at_basic: when() is the deadline given and expiry raises timeout_error",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    const eddy::clock::time_point deadline = eddy::get_running_loop().time() + short_limit;
    bool expired_seen = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout_at(deadline, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
          CHECK(scope.when() == deadline);
          try {
            co_await eddy::sleep(long_sleep);
          } catch (const eddy::cancelled_error&) {
            expired_seen = scope.expired();
            CHECK(scope.when() == deadline);
            throw;
          }
        }));
    CHECK(error.has_value());
    CHECK(expired_seen);
    CHECK(eddy::get_running_loop().time() >= deadline);  // never early
  }());
}

TEST_CASE("test_timeout_not_called: a body that finishes in time returns its value", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    const auto t0 = eddy::get_running_loop().time();
    int value =
        co_await eddy::timeout(long_limit, [&](eddy::timeout_scope& scope) -> eddy::coro<int> {
          co_await eddy::sleep(0s);
          CHECK_FALSE(scope.expired());
          REQUIRE(scope.when().has_value());
          CHECK(*scope.when() > t0);
          co_return 42;
        });
    CHECK(value == 42);
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}

TEST_CASE("test_timeout_disabled: timeout(nullopt) never expires and when() is none", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    int value =
        co_await eddy::timeout(std::nullopt, [](eddy::timeout_scope& scope) -> eddy::coro<int> {
          CHECK_FALSE(scope.when().has_value());
          co_await eddy::sleep(1ms);
          CHECK_FALSE(scope.expired());
          co_return 7;
        });
    CHECK(value == 7);
  }());
}

TEST_CASE("test_timeout_at_disabled: timeout_at(nullopt) never expires and when() is none",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    co_await eddy::timeout_at(std::nullopt, [](eddy::timeout_scope& scope) -> eddy::coro<void> {
      CHECK_FALSE(scope.when().has_value());
      co_await eddy::sleep(1ms);
      CHECK_FALSE(scope.expired());
    });
  }());
}

TEST_CASE("test_timeout_zero: a zero timeout expires at the first suspension", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    const auto t0 = eddy::get_running_loop().time();
    std::optional<eddy::clock::time_point> when;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(0s, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
          when = scope.when();
          co_await eddy::sleep(long_sleep);
        }));
    const auto t1 = eddy::get_running_loop().time();
    CHECK(error.has_value());
    REQUIRE(when.has_value());
    CHECK(t0 <= *when);
    CHECK(*when <= t1);
  }());
}

TEST_CASE("test_timeout_zero_sleep_zero: a zero timeout expires even if the body only yields",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(0s, []() -> eddy::coro<void> { co_await eddy::sleep(0s); }()));
    CHECK(error.has_value());
  }());
}

TEST_CASE("test_timeout_in_the_past_sleep_zero: a deadline in the past expires at the first yield",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    const auto t0 = eddy::get_running_loop().time();
    std::optional<eddy::clock::time_point> when;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(-11s, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
          when = scope.when();
          co_await eddy::sleep(0s);
        }));
    CHECK(error.has_value());
    REQUIRE(when.has_value());
    CHECK(*when <= t0);
  }());
}

TEST_CASE("test_foreign_exception_passed: an exception from the body passes through unchanged",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool expired = true;
    auto error = co_await eddy_test::caught<std::out_of_range>(
        eddy::timeout(long_limit, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
          expired = scope.expired();
          throw std::out_of_range("key error");
          co_return;
        }));
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "key error");
    CHECK_FALSE(expired);
  }());
}

TEST_CASE("test_foreign_exception_on_timeout: an exception raised while handling the expiry wins",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto crash = []() -> eddy::coro<void> {
      try {
        co_await eddy::sleep(long_sleep);
      } catch (...) {
        throw std::domain_error("zero division");
      }
    };
    auto error = co_await eddy_test::caught<std::domain_error>(eddy::timeout(short_limit, crash()));
    CHECK(error.has_value());
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}

TEST_CASE(
    "test_foreign_cancel_doesnt_timeout_if_not_expired: a cancel from elsewhere stays a cancel",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto body = [](bool* expired) -> eddy::coro<void> {
      co_await eddy::timeout(long_limit, [expired](eddy::timeout_scope& scope) -> eddy::coro<void> {
        eddy::current_task().cancel();
        try {
          co_await eddy::sleep(long_sleep);
        } catch (const eddy::cancelled_error&) {
          *expired = scope.expired();
          throw;
        }
      });
    };
    bool expired = true;
    auto worker = eddy::create_task(body(&expired));
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(worker);
    CHECK(cancellation.has_value());
    CHECK(worker.cancelled());
    CHECK_FALSE(expired);
  }());
}

TEST_CASE("test_outer_task_is_not_cancelled: a task that handled its timeout ends normally",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto outer = []() -> eddy::coro<bool> {
      auto error =
          co_await eddy_test::caught<eddy::timeout_error>(eddy::timeout(1ms, sleep_long()));
      co_return error.has_value();
    };
    auto task = eddy::create_task(outer());
    bool timed_out = co_await task;
    CHECK(timed_out);
    CHECK(task.done());
    CHECK_FALSE(task.cancelled());
    CHECK(task.cancelling() == 0);
  }());
}

TEST_CASE("test_nested_timeouts: with one deadline for both, only the outer raises timeout_error",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    const auto deadline = eddy::get_running_loop().time() + short_limit;
    bool cancelled = false;
    bool outer_expired = false;
    bool inner_expired = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout_at(deadline, [&](eddy::timeout_scope& outer) -> eddy::coro<void> {
          // Only the topmost scope converts: the inner one passes the cancellation on.
          try {
            co_await eddy::timeout_at(deadline,
                                      [&](eddy::timeout_scope& inner) -> eddy::coro<void> {
                                        try {
                                          co_await eddy::sleep(long_sleep);
                                        } catch (const eddy::cancelled_error&) {
                                          inner_expired = inner.expired();
                                          outer_expired = outer.expired();
                                          throw;
                                        }
                                      });
          } catch (const eddy::cancelled_error&) {
            cancelled = true;
            throw;
          }
        }));
    CHECK(error.has_value());
    CHECK(cancelled);
    CHECK(outer_expired);
    CHECK(inner_expired);
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}

TEST_CASE(
    "nested timeouts: the inner expires first: the inner raises timeout_error, the outer body goes "
    "on",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool outer_expired = true;
    int value =
        co_await eddy::timeout(long_limit, [&](eddy::timeout_scope& outer) -> eddy::coro<int> {
          auto inner_error = co_await eddy_test::caught<eddy::timeout_error>(
              eddy::timeout(short_limit, sleep_long()));
          CHECK(inner_error.has_value());
          CHECK(eddy::current_task().cancelling() == 0);
          co_await eddy::sleep(1ms);  // the task is not cancelled any more
          outer_expired = outer.expired();
          co_return 3;
        });
    CHECK(value == 3);
    CHECK_FALSE(outer_expired);
  }());
}

TEST_CASE(
    "nested timeouts: the outer expires first: the inner passes cancelled_error on, the outer "
    "converts it",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool inner_saw_cancel = false;
    bool inner_expired = true;
    bool inner_raised_timeout = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(short_limit, [&](eddy::timeout_scope&) -> eddy::coro<void> {
          try {
            co_await eddy::timeout(long_limit, [&](eddy::timeout_scope& inner) -> eddy::coro<void> {
              try {
                co_await eddy::sleep(long_sleep);
              } catch (const eddy::cancelled_error&) {
                inner_saw_cancel = true;
                inner_expired = inner.expired();
                throw;
              }
            });
          } catch (const eddy::timeout_error&) {
            inner_raised_timeout = true;
            throw;
          }
        }));
    CHECK(error.has_value());
    CHECK(inner_saw_cancel);
    CHECK_FALSE(inner_expired);
    CHECK_FALSE(inner_raised_timeout);
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}

TEST_CASE(
    "test_nested_timeouts_loop_busy: after the inner expiry is handled, the outer still interrupts",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    const auto t0 = eddy::get_running_loop().time();
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(100ms, []() -> eddy::coro<void> {
          auto inner_error = co_await eddy_test::caught<eddy::timeout_error>(
              eddy::timeout(10ms, []() -> eddy::coro<void> {
                std::this_thread::sleep_for(100ms);  // the loop is busy past both deadlines
                co_await eddy::sleep(1s);
              }()));
          // Both deadlines have passed: the inner scope either converted its own expiry (and
          // we get here) or passed the outer's cancellation on (and we do not).
          static_cast<void>(inner_error);
          co_await eddy::sleep(long_sleep);  // interrupted by the outer scope
        }()));
    CHECK(error.has_value());
    CHECK(eddy::get_running_loop().time() - t0 < 5s);
  }());
}

TEST_CASE(
    "test_reschedule: another task moves the deadline later, then to none; a cancel stays a cancel",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<eddy::timeout_scope*> handed;
    const auto deadline1 = eddy::get_running_loop().time() + 10s;
    const auto deadline2 = deadline1 + 20s;
    bool expired = true;
    auto f = [](eddy::future<eddy::timeout_scope*> out, eddy::clock::time_point when,
                bool* expired) -> eddy::coro<void> {
      // Named first: GCC 12 destroys a capturing lambda temporary twice when it is passed by
      // value to a coroutine inside a co_await expression (see the report on this test file).
      auto body = [out, expired](eddy::timeout_scope& scope) mutable -> eddy::coro<void> {
        out.set_result(&scope);
        try {
          co_await eddy::sleep(50s);
        } catch (const eddy::cancelled_error&) {
          *expired = scope.expired();
          throw;
        }
      };
      co_await eddy::timeout_at(when, body);
    };
    auto task = eddy::create_task(f(handed, deadline1, &expired));
    eddy::timeout_scope* scope = co_await handed;
    CHECK(scope->when() == deadline1);
    scope->reschedule(deadline2);
    CHECK(scope->when() == deadline2);
    scope->reschedule(std::nullopt);
    CHECK_FALSE(scope->when().has_value());
    task.cancel();
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(task);
    CHECK(cancellation.has_value());
    CHECK_FALSE(expired);
  }());
}

TEST_CASE("timeout: rescheduling to an earlier deadline makes the scope expire then", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(long_limit, [](eddy::timeout_scope& scope) -> eddy::coro<void> {
          scope.reschedule(eddy::get_running_loop().time());
          co_await eddy::sleep(long_sleep);
        }));
    CHECK(error.has_value());
  }());
}

TEST_CASE("timeout: rescheduling a scope with no deadline arms it", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(std::nullopt, [](eddy::timeout_scope& scope) -> eddy::coro<void> {
          scope.reschedule(eddy::get_running_loop().time() + short_limit);
          co_await eddy::sleep(long_sleep);
        }));
    CHECK(error.has_value());
  }());
}

TEST_CASE("timeout: rescheduling to a later deadline keeps the body running past the first one",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> late;
    auto setter = [](eddy::future<int> target) -> eddy::coro<void> {
      co_await eddy::sleep(50ms);
      target.set_result(9);
    };
    auto helper = eddy::create_task(setter(late));
    auto body =
        [late](
            eddy::timeout_scope& scope) mutable -> eddy::coro<int> {  // named: see test_reschedule
      scope.reschedule(eddy::get_running_loop().time() + long_limit);
      co_return co_await late;
    };
    int value = co_await eddy::timeout(1ms, body);
    CHECK(value == 9);
    co_await helper;
  }());
}

TEST_CASE("timeout: reschedule once the deadline has expired throws std::logic_error",
          "[timeout]") {
  // CPython: "Cannot change state of expiring Timeout". After the body ends the scope no
  // longer exists in eddy (it lives in the timeout() coroutine), so this is the only "too
  // late" a program can reach.
  eddy::run([]() -> eddy::coro<void> {
    bool threw_logic_error = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(short_limit, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
          try {
            co_await eddy::sleep(long_sleep);
          } catch (const eddy::cancelled_error&) {
            try {
              scope.reschedule(std::nullopt);
            } catch (const std::logic_error&) {
              threw_logic_error = true;
            }
            throw;
          }
        }));
    CHECK(error.has_value());
    CHECK(threw_logic_error);
  }());
}

TEST_CASE(
    "test_waiter_cancelled: the body sees cancelled_error at its await; the scope turns it into "
    "timeout_error",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool cancelled = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(short_limit, [&](eddy::timeout_scope&) -> eddy::coro<void> {
          try {
            co_await eddy::sleep(long_sleep);
          } catch (const eddy::cancelled_error&) {
            cancelled = true;
            throw;
          }
        }));
    CHECK(error.has_value());
    CHECK(cancelled);
  }());
}

TEST_CASE("timeout: a body that catches the cancellation and returns a value keeps the value",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool expired = false;
    int value =
        co_await eddy::timeout(short_limit, [&](eddy::timeout_scope& scope) -> eddy::coro<int> {
          try {
            co_await eddy::sleep(long_sleep);
          } catch (const eddy::cancelled_error&) {
            expired = scope.expired();
          }
          co_return 11;
        });
    CHECK(value == 11);
    CHECK(expired);
    // The scope withdrew its own request: nothing is left pending for the next await.
    CHECK(eddy::current_task().cancelling() == 0);
    co_await eddy::sleep(0s);
  }());
}

TEST_CASE("timeout: cancelling() is back to its entry value after a timeout", "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    CHECK(eddy::current_task().cancelling() == 0);
    auto error =
        co_await eddy_test::caught<eddy::timeout_error>(eddy::timeout(short_limit, sleep_long()));
    CHECK(error.has_value());
    CHECK(eddy::current_task().cancelling() == 0);
    co_await eddy::sleep(0s);  // no stray cancellation left behind
  }());
}

TEST_CASE(
    "test_timeout_after_cancellation: a scope entered after a swallowed cancel converts its own "
    "expiry",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    try {
      eddy::current_task().cancel();
      co_await eddy::sleep(1s);
    } catch (const eddy::cancelled_error&) {
    }
    CHECK(eddy::current_task().cancelling() == 1);
    auto error =
        co_await eddy_test::caught<eddy::timeout_error>(eddy::timeout(0s, eddy::sleep(1s)));
    CHECK(error.has_value());
    CHECK(eddy::current_task().cancelling() == 1);  // back to the entry value
    eddy::current_task().uncancel();
  }());
}

TEST_CASE("test_cancel_in_timeout_after_cancellation: a new cancel inside a scope is not a timeout",
          "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    try {
      eddy::current_task().cancel();
      co_await eddy::sleep(1s);
    } catch (const eddy::cancelled_error&) {
    }
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(
        eddy::timeout(1s, []() -> eddy::coro<void> {
          eddy::current_task().cancel();
          co_await eddy::sleep(2s);
        }()));
    CHECK(cancellation.has_value());
    CHECK(eddy::current_task().cancelling() == 2);
    eddy::current_task().uncancel();
    eddy::current_task().uncancel();
  }());
}

TEST_CASE(
    "test_nested_timeout_in_finally: a scope used during cleanup converts only its own expiry",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    bool inner_timed_out = false;
    auto error = co_await eddy_test::caught<eddy::timeout_error>(
        eddy::timeout(short_limit, [&](eddy::timeout_scope&) -> eddy::coro<void> {
          std::exception_ptr cancellation;
          try {
            co_await eddy::sleep(long_sleep);
          } catch (const eddy::cancelled_error&) {
            cancellation = std::current_exception();
          }
          // The "finally" part, after the catch (no co_await inside a catch in C++).
          auto cleanup = co_await eddy_test::caught<eddy::timeout_error>(
              eddy::timeout(short_limit, sleep_long()));
          inner_timed_out = cleanup.has_value();
          if (cancellation) {
            std::rethrow_exception(cancellation);
          }
        }));
    CHECK(error.has_value());
    CHECK(inner_timed_out);
    CHECK(eddy::current_task().cancelling() == 0);
  }());
}

TEST_CASE(
    "test_timeout_exception_cause: the timeout_error carries the cancelled_error as its nested "
    "exception",
    "[timeout]") {
  eddy::run([]() -> eddy::coro<void> {
    std::exception_ptr cause;
    try {
      co_await eddy::timeout(0s, eddy::sleep(1s));
    } catch (const eddy::timeout_error& error) {
      if (const auto* nested = dynamic_cast<const std::nested_exception*>(&error)) {
        cause = nested->nested_ptr();
      }
    }
    REQUIRE(cause != nullptr);
    CHECK(eddy_test::holds<eddy::cancelled_error>(cause));
  }());
}
