#include "eddy/sync/semaphore.hpp"
// eddy::semaphore and eddy::bounded_semaphore (asyncio.Semaphore, asyncio.BoundedSemaphore): the
// scenarios of CPython's test_locks.py (SemaphoreTests), FIFO hand-off and the cancellation
// races (no permit lost, none taken by a cancelled waiter).

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<bool> acquire_and_record(eddy::semaphore* sem, std::vector<int>* result, int id) {
  co_await sem->acquire();
  result->push_back(id);
  co_return true;
}

eddy::coro<void> acquire_only(eddy::semaphore* sem) { co_await sem->acquire(); }

/// CPython's test_acquire_fifo_order coroutine: acquire, record, hold a while, release, twice.
eddy::coro<void> take_twice(eddy::semaphore* sem, std::vector<std::string>* result,
                            std::string tag) {
  co_await sem->acquire();
  result->push_back(tag + "_1");
  co_await eddy::sleep(2ms);
  sem->release();
  co_await sem->acquire();
  result->push_back(tag + "_2");
  co_await eddy::sleep(2ms);
  sem->release();
}

}  // namespace

TEST_CASE("test_initial_value_zero: a semaphore of 0 is locked", "[semaphore]") {
  eddy::semaphore sem(0);
  CHECK(sem.locked());
  CHECK(sem.value() == 0);
}

TEST_CASE("test_semaphore: acquire and release count permits", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem;
    CHECK(sem.value() == 1);
    co_await sem.acquire();
    CHECK(sem.locked());
    CHECK(sem.value() == 0);
    sem.release();
    CHECK_FALSE(sem.locked());
    CHECK(sem.value() == 1);
  };
  eddy::run(main());
}

TEST_CASE("test_semaphore_value: a negative initial value throws invalid_argument", "[semaphore]") {
  CHECK_THROWS_AS(eddy::semaphore(-1), std::invalid_argument);
  CHECK_THROWS_WITH(eddy::bounded_semaphore(-2),
                    "bounded_semaphore: the initial value must be >= 0, got -2");
}

TEST_CASE("test_acquire: permits go to waiters in FIFO order", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(3);
    std::vector<int> result;
    co_await sem.acquire();
    co_await sem.acquire();
    CHECK_FALSE(sem.locked());
    auto t1 = eddy::create_task(acquire_and_record(&sem, &result, 1));
    auto t2 = eddy::create_task(acquire_and_record(&sem, &result, 2));
    auto t3 = eddy::create_task(acquire_and_record(&sem, &result, 3));
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1});
    CHECK(sem.locked());
    CHECK(sem.value() == 0);
    auto t4 = eddy::create_task(acquire_and_record(&sem, &result, 4));
    sem.release();
    sem.release();
    CHECK(sem.value() == 0);  // both permits handed to t2 and t3
    co_await eddy::sleep(0s);
    CHECK(sem.value() == 0);
    CHECK(result == std::vector<int>{1, 2, 3});
    CHECK(sem.locked());
    CHECK(t1.done());
    CHECK(t2.done());
    CHECK(t3.done());
    CHECK_FALSE(t4.done());
    sem.release();
    co_await t4;
    CHECK(result == std::vector<int>{1, 2, 3, 4});
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_cancel: a cancelled waiter takes no permit", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(0);
    auto waiter = eddy::create_task(acquire_only(&sem));
    co_await eddy::sleep(0s);
    waiter.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(error.has_value());
    sem.release();
    CHECK(sem.value() == 1);
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_cancel_before_awoken: cancelled waiters are skipped", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(0);
    auto t1 = eddy::create_task(acquire_only(&sem));
    auto t2 = eddy::create_task(acquire_only(&sem));
    auto t3 = eddy::create_task(acquire_only(&sem));
    auto t4 = eddy::create_task(acquire_only(&sem));
    co_await eddy::sleep(0s);
    t1.cancel();
    t2.cancel();
    sem.release();
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    CHECK(t3.done());
    CHECK_FALSE(t4.done());
    CHECK(t1.cancelled());
    CHECK(t2.cancelled());
    t4.cancel();
    co_await eddy::sleep(0s);
    CHECK(t4.cancelled());
  };
  eddy::run(main());
}

TEST_CASE(
    "test_acquire_hang: a permit handed to a waiter cancelled at the same moment is passed on",
    "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(0);
    auto t1 = eddy::create_task(acquire_only(&sem));
    auto t2 = eddy::create_task(acquire_only(&sem));
    co_await eddy::sleep(0s);
    sem.release();  // handed to t1 ...
    t1.cancel();    // ... which is cancelled before it runs
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    CHECK(t1.cancelled());
    CHECK(t2.done());  // t1 passed the permit on
    CHECK(sem.locked());
    CHECK(sem.value() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_permit_of_a_cancelled_granted_waiter_returns_to_the_count_when_nobody_waits",
          "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(0);
    auto t1 = eddy::create_task(acquire_only(&sem));
    co_await eddy::sleep(0s);
    sem.release();
    t1.cancel();
    co_await eddy_test::caught<eddy::cancelled_error>(t1);
    CHECK(sem.value() == 1);
    CHECK_FALSE(sem.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_fifo_order: tasks taking turns get them in order", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(1);
    std::vector<std::string> result;
    auto c1 = eddy::create_task(take_twice(&sem, &result, "c1"));
    auto c2 = eddy::create_task(take_twice(&sem, &result, "c2"));
    auto c3 = eddy::create_task(take_twice(&sem, &result, "c3"));
    co_await c1;
    co_await c2;
    co_await c3;
    CHECK(result == std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"});
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_fifo_order_3: cancelled first waiter, permits go to the next two",
          "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(0);
    std::vector<int> result;
    auto t1 = eddy::create_task(acquire_and_record(&sem, &result, 1));
    auto t2 = eddy::create_task(acquire_and_record(&sem, &result, 2));
    auto t3 = eddy::create_task(acquire_and_record(&sem, &result, 3));
    co_await eddy::sleep(0s);
    t1.cancel();
    sem.release();
    sem.release();
    co_await eddy_test::caught<eddy::cancelled_error>(t1);
    co_await t2;
    co_await t3;
    CHECK(result == std::vector<int>{2, 3});
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_fifo_order_4: a granted waiter owns its permit before it runs",
          "[semaphore]") {
  // CPython 3.12 makes a newcomer wait behind a woken waiter that has not run yet (its permit is
  // only taken when it runs); eddy hands the permit over at release(), so a newcomer may take a
  // further free permit at once. Nobody waiting is overtaken either way. See docs/sync.md.
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(0);
    std::vector<int> result;
    auto t1 = eddy::create_task(acquire_and_record(&sem, &result, 1));
    co_await eddy::sleep(0s);
    sem.release();  // handed to t1
    sem.release();
    sem.release();
    CHECK(sem.value() == 2);
    CHECK_FALSE(sem.locked());
    co_await sem.acquire();  // a free permit: no waiting
    result.push_back(2);
    co_await t1;
    CHECK(result == std::vector<int>{2, 1});
    CHECK(sem.value() == 1);
  };
  eddy::run(main());
}

TEST_CASE("test_context_manager: scoped() releases its permit at scope exit", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(2);
    {
      auto first = co_await sem.scoped();
      CHECK(sem.value() == 1);
      {
        auto second = co_await sem.scoped();
        CHECK(sem.locked());
      }
      CHECK(sem.value() == 1);
    }
    CHECK(sem.value() == 2);
  };
  eddy::run(main());
}

TEST_CASE("test_try_acquire", "[semaphore]") {
  eddy::semaphore sem(1);
  CHECK(sem.try_acquire());
  CHECK_FALSE(sem.try_acquire());
  sem.release();
  CHECK(sem.value() == 1);
}

TEST_CASE("test_release_no_waiters: a plain semaphore may be released above its initial value",
          "[semaphore]") {
  eddy::semaphore sem(1);
  sem.release();
  CHECK(sem.value() == 2);
}

TEST_CASE("test_release_not_acquired: a bounded_semaphore released too often throws logic_error",
          "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::bounded_semaphore sem(2);
    CHECK_THROWS_WITH(sem.release(),
                      "bounded_semaphore.release(): released too many times (the value 2 is "
                      "already the initial value 2)");
    co_await sem.acquire();
    sem.release();
    CHECK_THROWS_AS(sem.release(), std::logic_error);
    CHECK(sem.value() == 2);
    eddy::semaphore& as_base = sem;  // the bound holds through the base class too
    CHECK_THROWS_AS(as_base.release(), std::logic_error);
  };
  eddy::run(main());
}

TEST_CASE("test_bounded_semaphore_hand_off_keeps_the_bound", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::bounded_semaphore sem(1);
    co_await sem.acquire();
    auto waiter = eddy::create_task([](eddy::semaphore* s) -> eddy::coro<void> {
      co_await s->acquire();
      s->release();
    }(&sem));
    co_await eddy::sleep(0s);
    sem.release();  // handed over: the value stays 0
    CHECK(sem.value() == 0);
    co_await waiter;
    CHECK(sem.value() == 1);
    CHECK_THROWS_AS(sem.release(), std::logic_error);
  };
  eddy::run(main());
}

TEST_CASE("test_rate_limit: at most `value` tasks hold a permit at once", "[semaphore]") {
  auto main = []() -> eddy::coro<void> {
    eddy::semaphore sem(3);
    int inside = 0;
    int most = 0;
    std::vector<eddy::task<void>> workers;
    for (int i = 0; i < 12; ++i) {
      workers.push_back(
          eddy::create_task([](eddy::semaphore* s, int* count, int* peak) -> eddy::coro<void> {
            auto held = co_await s->scoped();
            ++*count;
            *peak = std::max(*peak, *count);
            co_await eddy::sleep(1ms);
            --*count;
          }(&sem, &inside, &most)));
    }
    for (auto& worker : workers) {
      co_await worker;
    }
    CHECK(most == 3);
    CHECK(sem.value() == 3);
  };
  eddy::run(main());
}
