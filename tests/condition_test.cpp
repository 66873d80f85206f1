#include "eddy/sync/condition.hpp"
// eddy::condition (asyncio.Condition): wait/notify order, wait_for, a shared lock, and the
// cancellation scenarios of CPython's test_locks.py (ConditionTests): the lock is held again
// whenever wait() ends, and a notification is never lost to a cancelled waiter.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/sync/lock.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) {
    co_await eddy::sleep(0s);
  }
}

/// CPython's c1/c2/c3 of test_wait: acquire, wait, record; keeps the lock.
eddy::coro<bool> acquire_wait_record(eddy::condition* cond, std::vector<int>* result, int id) {
  co_await cond->acquire();
  co_await cond->wait();
  result->push_back(id);
  co_return true;
}

/// As test_notify's coroutines: `async with cond: await cond.wait(); record`.
eddy::coro<void> scoped_wait_record(eddy::condition* cond, std::vector<int>* result, int id) {
  auto held = co_await cond->scoped();
  co_await cond->wait();
  result->push_back(id);
}

eddy::coro<void> bare_wait(eddy::condition* cond) { co_await cond->wait(); }

}  // namespace

TEST_CASE("test_wait: notify(n) wakes the longest waiters, each returns holding the lock",
          "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    std::vector<int> result;
    auto t1 = eddy::create_task(acquire_wait_record(&cond, &result, 1));
    auto t2 = eddy::create_task(acquire_wait_record(&cond, &result, 2));
    auto t3 = eddy::create_task(acquire_wait_record(&cond, &result, 3));
    co_await eddy::sleep(0s);
    CHECK(result.empty());
    CHECK_FALSE(cond.locked());

    co_await cond.acquire();
    cond.notify();
    co_await eddy::sleep(0s);
    CHECK(result.empty());  // notified, but the lock is still ours
    CHECK(cond.locked());

    cond.release();
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1});
    CHECK(cond.locked());  // t1 returned holding it

    cond.notify(2);
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1});
    CHECK(cond.locked());

    cond.release();  // t1's lock, released for it
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1, 2});
    CHECK(cond.locked());

    cond.release();
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1, 2, 3});
    CHECK(cond.locked());
    CHECK(t1.done());
    CHECK(t2.done());
    CHECK(t3.done());
    cond.release();
  };
  eddy::run(main());
}

TEST_CASE("test_wait_cancel: a cancelled wait re-acquires the lock before throwing",
          "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    co_await cond.acquire();
    auto waiter = eddy::create_task(bare_wait(&cond));
    eddy::get_running_loop().call_soon([&] { waiter.cancel(); });
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(error.has_value());
    CHECK(cond.locked());  // the cancelled waiter holds it again
    cond.release();
  };
  eddy::run(main());
}

TEST_CASE("test_wait_cancel_contested: cancelled while queued for the lock, it still gets the lock",
          "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    co_await cond.acquire();
    CHECK(cond.locked());
    auto waiter = eddy::create_task(bare_wait(&cond));
    co_await eddy::sleep(0s);
    CHECK_FALSE(cond.locked());  // wait() released it
    co_await cond.acquire();
    CHECK(cond.locked());
    cond.notify();
    eddy::get_running_loop().call_soon([&] { waiter.cancel(); });
    eddy::get_running_loop().call_soon([&] { cond.release(); });
    co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(waiter.done());
    CHECK(cond.locked());
    cond.release();
  };
  eddy::run(main());
}

TEST_CASE("test_wait_cancel_after_notify: bpo-32841", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    bool waited = false;
    auto waiter = eddy::create_task([](eddy::condition* c, bool* reached) -> eddy::coro<void> {
      auto held = co_await c->scoped();
      *reached = true;
      co_await c->wait();
    }(&cond, &waited));
    co_await eddy::sleep(1ms);
    co_await cond.acquire();
    cond.notify();
    co_await eddy::sleep(0s);
    waiter.cancel();
    co_await eddy::sleep(0s);
    cond.release();
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    CHECK(waiter.cancelled());
    CHECK(waited);
    CHECK_FALSE(cond.locked());  // the guard released it when the cancellation unwound
  };
  eddy::run(main());
}

TEST_CASE("test_wait_unacquired: wait() without the lock throws runtime_error", "[condition]") {
  auto main = []() -> eddy::coro<std::string> {
    eddy::condition cond;
    try {
      co_await cond.wait();
    } catch (const std::runtime_error& error) {
      co_return error.what();
    }
    co_return "no error";
  };
  CHECK(eddy::run(main()) == "condition.wait(): the lock is not acquired");
}

TEST_CASE("test_wait_for: returns once the predicate holds, re-checking after each notify",
          "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    bool presult = false;
    std::vector<int> result;
    auto waiter = eddy::create_task(
        [](eddy::condition* c, bool* flag, std::vector<int>* log) -> eddy::coro<bool> {
          co_await c->acquire();
          if (co_await c->wait_for([flag] { return *flag; })) {
            log->push_back(1);
            c->release();
          }
          co_return true;
        }(&cond, &presult, &result));
    co_await eddy::sleep(0s);
    CHECK(result.empty());

    co_await cond.acquire();
    cond.notify();
    cond.release();
    co_await eddy::sleep(0s);
    CHECK(result.empty());  // woken, predicate still false: waits again

    presult = true;
    co_await cond.acquire();
    cond.notify();
    cond.release();
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1});
    CHECK(waiter.done());
    CHECK(waiter.result());
  };
  eddy::run(main());
}

TEST_CASE("test_wait_for_already_true_returns_its_value_without_suspending", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    auto held = co_await cond.scoped();
    int value = co_await cond.wait_for([] { return 42; });
    CHECK(value == 42);
    CHECK(cond.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_wait_for_unacquired: throws runtime_error when it would wait", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    int value = co_await cond.wait_for([] { return 7; });  // true at once: no lock needed
    CHECK(value == 7);
    auto error =
        co_await eddy_test::caught<std::runtime_error>(cond.wait_for([] { return false; }));
    CHECK(error.has_value());
  };
  eddy::run(main());
}

TEST_CASE("test_notify: notify(1), then notify(1) and notify(2048)", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    std::vector<int> result;
    auto t1 = eddy::create_task(scoped_wait_record(&cond, &result, 1));
    auto t2 = eddy::create_task(scoped_wait_record(&cond, &result, 2));
    auto t3 = eddy::create_task(scoped_wait_record(&cond, &result, 3));
    co_await eddy::sleep(0s);
    CHECK(result.empty());
    {
      auto held = co_await cond.scoped();
      cond.notify(1);
    }
    co_await yield_times(3);
    CHECK(result == std::vector<int>{1});
    {
      auto held = co_await cond.scoped();
      cond.notify(1);
      cond.notify(2048);
    }
    co_await yield_times(3);
    CHECK(result == std::vector<int>{1, 2, 3});
    CHECK_FALSE(cond.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_notify_all", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    std::vector<int> result;
    std::vector<eddy::task<void>> waiters;
    for (int id = 1; id <= 4; ++id) {
      waiters.push_back(eddy::create_task(scoped_wait_record(&cond, &result, id)));
    }
    co_await eddy::sleep(0s);
    {
      auto held = co_await cond.scoped();
      cond.notify_all();
    }
    for (auto& waiter : waiters) {
      co_await waiter;
    }
    CHECK(result == std::vector<int>{1, 2, 3, 4});
  };
  eddy::run(main());
}

TEST_CASE("test_notify_unacquired / test_notify_all_unacquired throw runtime_error",
          "[condition]") {
  eddy::condition cond;
  CHECK_THROWS_WITH(cond.notify(), "condition.notify(): the lock is not acquired");
  CHECK_THROWS_WITH(cond.notify_all(), "condition.notify_all(): the lock is not acquired");
}

TEST_CASE("test_explicit_lock: a condition shares an existing lock", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    eddy::condition cond(lk);
    co_await lk.acquire();
    CHECK(cond.locked());
    lk.release();
    CHECK_FALSE(cond.locked());
    co_await cond.acquire();
    CHECK(lk.locked());
    cond.release();
    CHECK_FALSE(lk.locked());

    // Two conditions on one lock: waiting on one releases the lock for the other.
    eddy::condition other(lk);
    std::vector<int> result;
    auto waiter = eddy::create_task(scoped_wait_record(&cond, &result, 1));
    co_await eddy::sleep(0s);
    CHECK_FALSE(lk.locked());
    {
      auto held = co_await other.scoped();
      other.notify_all();  // nobody waits on `other`
      cond.notify();
    }
    co_await waiter;
    CHECK(result == std::vector<int>{1});
  };
  eddy::run(main());
}

TEST_CASE("test_notified_waiter_queues_for_the_lock_behind_earlier_lock_waiters", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    std::vector<int> order;
    auto waiter = eddy::create_task(scoped_wait_record(&cond, &order, 1));
    co_await eddy::sleep(0s);
    co_await cond.acquire();
    auto contender =
        eddy::create_task([](eddy::condition* c, std::vector<int>* log) -> eddy::coro<void> {
          auto held = co_await c->scoped();
          log->push_back(2);
        }(&cond, &order));
    co_await eddy::sleep(0s);  // the contender waits for the lock first
    cond.notify();
    cond.release();
    co_await waiter;
    co_await contender;
    CHECK(order == std::vector<int>{2, 1});
  };
  eddy::run(main());
}

TEST_CASE("test_cancelled_error_wakeup: cancelled while waiting, with the message", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    bool wake = false;
    bool locked_when_thrown = false;
    auto waiter = eddy::create_task(
        [](eddy::condition* c, bool* flag, bool* locked_seen) -> eddy::coro<void> {
          auto held = co_await c->scoped();
          try {
            co_await c->wait_for([flag] { return *flag; });
          } catch (const eddy::cancelled_error&) {
            *locked_seen = c->locked();
            throw;
          }
        }(&cond, &wake, &locked_when_thrown));
    co_await eddy::sleep(0s);
    waiter.cancel("foo");
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    REQUIRE(error.has_value());
    CHECK(error->message() == "foo");
    CHECK(locked_when_thrown);
    CHECK_FALSE(cond.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_cancelled_error_re_aquire: cancelled while re-acquiring the lock, with the message",
          "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    bool wake = false;
    bool locked_when_thrown = false;
    auto waiter = eddy::create_task(
        [](eddy::condition* c, bool* flag, bool* locked_seen) -> eddy::coro<void> {
          auto held = co_await c->scoped();
          try {
            co_await c->wait_for([flag] { return *flag; });
          } catch (const eddy::cancelled_error&) {
            *locked_seen = c->locked();
            throw;
          }
        }(&cond, &wake, &locked_when_thrown));
    co_await eddy::sleep(0s);
    co_await cond.acquire();
    wake = true;
    cond.notify();
    co_await eddy::sleep(0s);
    waiter.cancel("foo");  // queued for the lock, which we hold
    cond.release();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    REQUIRE(error.has_value());
    CHECK(error->message() == "foo");
    CHECK(locked_when_thrown);
    CHECK_FALSE(cond.locked());
  };
  eddy::run(main());
}

/// CPython's consumer of test_cancelled_wakeup: consume `state` items until it goes negative.
eddy::coro<void> consumer(eddy::condition* cond, int* state) {
  auto held = co_await cond->scoped();
  for (;;) {
    co_await cond->wait_for([state] { return *state != 0; });
    if (*state < 0) {
      co_return;
    }
    *state -= 1;
  }
}

TEST_CASE(
    "test_cancelled_wakeup: a notification that reached a waiter cancelled at the same time is not "
    "lost",
    "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    int state = 0;
    auto c0 = eddy::create_task(consumer(&cond, &state));
    auto c1 = eddy::create_task(consumer(&cond, &state));
    co_await eddy::sleep(0s);
    {
      auto held = co_await cond.scoped();
      state += 1;
      cond.notify(1);  // picks c0 ...
      c0.cancel();     // ... which is cancelled before it runs
    }
    for (int i = 0; i < 10 && state != 0; ++i) {
      co_await eddy::sleep(0s);
    }
    CHECK(state == 0);  // c1 consumed the item: the notification was passed on
    CHECK(c0.cancelled());
    {
      auto held = co_await cond.scoped();
      state = -1;
      cond.notify_all();
    }
    co_await c1;
  };
  eddy::run(main());
}

TEST_CASE(
    "test_cancelled_wakeup_relock: cancelled while re-acquiring after a notify, the notification "
    "is passed on",
    "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    int state = 0;
    auto c0 = eddy::create_task(consumer(&cond, &state));
    auto c1 = eddy::create_task(consumer(&cond, &state));
    co_await eddy::sleep(0s);
    {
      auto held = co_await cond.scoped();
      state += 1;
      cond.notify(1);
      co_await eddy::sleep(0s);  // c0 is now queued for the lock we hold
      c0.cancel();
    }
    for (int i = 0; i < 10 && state != 0; ++i) {
      co_await eddy::sleep(0s);
    }
    CHECK(state == 0);
    CHECK(c0.cancelled());
    {
      auto held = co_await cond.scoped();
      state = -1;
      cond.notify_all();
    }
    co_await c1;
  };
  eddy::run(main());
}

TEST_CASE("test_wait_with_a_pending_cancel_throws_at_once_keeping_the_lock", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    auto held = co_await cond.scoped();
    auto self = eddy::current_task();
    self.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(cond.wait());
    CHECK(error.has_value());
    self.uncancel();
    CHECK(cond.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_producer_consumer_with_a_condition", "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    std::vector<int> items;
    std::vector<int> consumed;
    auto take = [](eddy::condition* c, std::vector<int>* pending,
                   std::vector<int>* out) -> eddy::coro<void> {
      for (int n = 0; n < 50; ++n) {
        auto held = co_await c->scoped();
        co_await c->wait_for([pending] { return !pending->empty(); });
        out->push_back(pending->front());
        pending->erase(pending->begin());
      }
    };
    auto consumer_a = eddy::create_task(take(&cond, &items, &consumed));
    auto consumer_b = eddy::create_task(take(&cond, &items, &consumed));
    for (int i = 0; i < 100; ++i) {
      {
        auto held = co_await cond.scoped();
        items.push_back(i);
        cond.notify();
      }
      if (i % 7 == 0) {
        co_await eddy::sleep(0s);
      }
    }
    co_await consumer_a;
    co_await consumer_b;
    REQUIRE(consumed.size() == 100);
    for (int i = 0; i < 100; ++i) {
      CHECK(consumed[static_cast<std::size_t>(i)] == i);
    }
  };
  eddy::run(main());
}

TEST_CASE(
    "a condition destroyed while a notified waiter queues for its shared lock: the waiter still "
    "gets the lock, and a cancellation then has no notification to pass on",
    "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock shared;
    auto cond = std::make_unique<eddy::condition>(shared);  // on the heap: ASan sees its death
    bool held_when_thrown = false;
    auto waiter = eddy::create_task(
        [](eddy::lock* lk, eddy::condition* c, bool* held_seen) -> eddy::coro<void> {
          auto held = co_await lk->scoped();
          try {
            co_await c->wait();
          } catch (const eddy::cancelled_error&) {
            *held_seen = lk->locked();
            throw;
          }
        }(&shared, cond.get(), &held_when_thrown));
    co_await eddy::sleep(0s);
    co_await shared.acquire();
    cond->notify();
    cond.reset();     // the waiter is in the lock's queue now, not in the condition
    waiter.cancel();  // notified and cancelled: it would pass the notification on
    shared.release();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(error.has_value());
    CHECK(held_when_thrown);
    CHECK_FALSE(shared.locked());
  };
  eddy::run(main());
}

TEST_CASE("a condition destroyed while a notified waiter queues for its shared lock: no cancel",
          "[condition]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock shared;
    auto cond = std::make_unique<eddy::condition>(shared);  // on the heap: ASan sees its death
    auto waiter = eddy::create_task([](eddy::lock* lk, eddy::condition* c) -> eddy::coro<int> {
      auto held = co_await lk->scoped();
      co_await c->wait();
      co_return 1;
    }(&shared, cond.get()));
    co_await eddy::sleep(0s);
    co_await shared.acquire();
    cond->notify();
    cond.reset();
    shared.release();
    int value = co_await waiter;
    CHECK(value == 1);
    CHECK_FALSE(shared.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_notify_all_order: notified waiters return in FIFO order, one per loop iteration",
          "[condition]") {
  // asyncio lets every notified waiter through in the iteration after release(): each one
  // re-acquires the free lock when it runs. eddy queues them for the lock at notify time and the
  // lock is handed from one to the next, so each returns in the iteration after the previous
  // one released it (docs/differences.md). This test pins eddy's order.
  auto main = []() -> eddy::coro<void> {
    eddy::condition cond;
    int ticks = 0;
    bool ticking = true;
    std::vector<int> returned_at;
    std::vector<int> order;
    auto ticker = eddy::create_task([&]() -> eddy::coro<void> {
      while (ticking) {
        ++ticks;
        co_await eddy::sleep(0s);
      }
    });
    std::vector<eddy::task<void>> waiters;
    for (int id = 0; id < 3; ++id) {
      waiters.push_back(eddy::create_task([&, id]() -> eddy::coro<void> {
        auto held = co_await cond.scoped();
        co_await cond.wait();
        order.push_back(id);
        returned_at.push_back(ticks);
      }));
    }
    co_await yield_times(2);
    {
      auto held = co_await cond.scoped();
      cond.notify_all();
    }
    for (auto& waiter : waiters) {
      co_await waiter;
    }
    ticking = false;
    co_await ticker;
    CHECK(order == std::vector<int>{0, 1, 2});
    REQUIRE(returned_at.size() == 3);
    CHECK(returned_at[1] == returned_at[0] + 1);
    CHECK(returned_at[2] == returned_at[1] + 1);
  };
  eddy::run(main());
}
