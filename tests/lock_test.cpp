#include "eddy/sync/lock.hpp"
// eddy::lock (asyncio.Lock): fast path, FIFO hand-off, release errors, guards, and the
// cancellation races of CPython's test_locks.py (LockTests).

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/sync/event.hpp"
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

/// Acquires, records `id`, releases.
eddy::coro<void> acquire_and_record(eddy::lock* lk, std::vector<int>* order, int id) {
  co_await lk->acquire();
  order->push_back(id);
  lk->release();
}

/// Acquires and keeps the lock.
eddy::coro<void> acquire_and_keep(eddy::lock* lk, int* acquired) {
  co_await lk->acquire();
  ++*acquired;
}

/// CPython's lockit(): acquire, optionally wait for `blocker`, release.
eddy::coro<void> lockit(eddy::lock* lk, eddy::event* blocker) {
  co_await lk->acquire();
  if (blocker != nullptr) {
    try {
      co_await blocker->wait();
    } catch (...) {
      lk->release();
      throw;
    }
  }
  lk->release();
}

}  // namespace

TEST_CASE("test_acquire_free_lock_does_not_suspend", "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    std::vector<std::string> order;
    auto other = eddy::create_task([](std::vector<std::string>* log) -> eddy::coro<void> {
      log->push_back("other task");
      co_return;
    }(&order));
    CHECK_FALSE(lk.locked());
    co_await lk.acquire();
    order.push_back("acquired");
    CHECK(lk.locked());
    co_await other;
    CHECK(order == std::vector<std::string>{"acquired", "other task"});
    lk.release();
    CHECK_FALSE(lk.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_acquire: waiters get the lock in FIFO order", "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    std::vector<int> order;
    co_await lk.acquire();
    auto t1 = eddy::create_task(acquire_and_record(&lk, &order, 1));
    auto t2 = eddy::create_task(acquire_and_record(&lk, &order, 2));
    auto t3 = eddy::create_task(acquire_and_record(&lk, &order, 3));
    co_await yield_times(2);
    CHECK(order.empty());
    lk.release();
    co_await t1;
    co_await t2;
    co_await t3;
    CHECK(order == std::vector<int>{1, 2, 3});
    CHECK_FALSE(lk.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_release_hands_over: locked() stays true and a newcomer cannot jump the queue",
          "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    std::vector<int> order;
    co_await lk.acquire();
    auto waiter = eddy::create_task(acquire_and_record(&lk, &order, 1));
    co_await eddy::sleep(0s);
    lk.release();
    CHECK(lk.locked());             // handed to the waiter, which has not run yet
    CHECK_FALSE(lk.try_acquire());  // so nobody else gets it first
    auto newcomer = eddy::create_task(acquire_and_record(&lk, &order, 2));
    co_await waiter;
    co_await newcomer;
    CHECK(order == std::vector<int>{1, 2});
  };
  eddy::run(main());
}

TEST_CASE("test_release_not_acquired: throws runtime_error naming the function", "[lock]") {
  eddy::lock lk;
  try {
    lk.release();
    FAIL("release() of an unheld lock did not throw");
  } catch (const std::runtime_error& error) {
    CHECK(std::string(error.what()) == "lock.release(): the lock is not acquired");
  }
}

TEST_CASE("test_try_acquire", "[lock]") {
  eddy::lock lk;
  CHECK(lk.try_acquire());
  CHECK(lk.locked());
  CHECK_FALSE(lk.try_acquire());
  lk.release();
  CHECK_FALSE(lk.locked());
}

TEST_CASE("test_context_manager: scoped() releases at scope exit, also on an exception", "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    {
      auto held = co_await lk.scoped();
      CHECK(held.owns());
      CHECK(lk.locked());
    }
    CHECK_FALSE(lk.locked());
    try {
      auto held = co_await lk.scoped();
      throw std::runtime_error("inside");
    } catch (const std::runtime_error&) {
    }
    CHECK_FALSE(lk.locked());
    auto held = co_await lk.scoped();
    held.reset();  // early release
    CHECK_FALSE(lk.locked());
    CHECK_FALSE(held.owns());
    auto moved = co_await lk.scoped();
    eddy::lock::guard other = std::move(moved);
    CHECK(lk.locked());
    other.reset();
    CHECK_FALSE(lk.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_cancel: a waiter cancelled while waiting throws and never holds the lock",
          "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    co_await lk.acquire();
    int acquired = 0;
    auto waiter = eddy::create_task(acquire_and_keep(&lk, &acquired));
    co_await eddy::sleep(0s);
    waiter.cancel();
    auto outcome = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(outcome.has_value());
    CHECK(waiter.cancelled());
    CHECK(acquired == 0);
    lk.release();
    CHECK_FALSE(lk.locked());  // nobody left to hand it to
  };
  eddy::run(main());
}

TEST_CASE("test_cancel_race: waiter cancelled while the holder releases; the next waiter gets it",
          "[lock]") {
  // A holds the lock, B and C wait. Then B is cancelled and A releases in the same step: the
  // lock must reach C (a lost wake-up would leave C waiting forever).
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    eddy::event release_a;
    auto ta = eddy::create_task(lockit(&lk, &release_a));
    co_await eddy::sleep(0s);
    CHECK(lk.locked());
    auto tb = eddy::create_task(lockit(&lk, nullptr));
    co_await eddy::sleep(0s);
    auto tc = eddy::create_task(lockit(&lk, nullptr));
    co_await eddy::sleep(0s);

    release_a.set();
    tb.cancel();
    co_await eddy::sleep(0s);
    CHECK(ta.done());
    co_await tc;
    CHECK(tb.cancelled());
    CHECK_FALSE(lk.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_lock_handed_to_a_waiter_cancelled_at_the_same_moment_goes_to_the_next_one",
          "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    co_await lk.acquire();
    int acquired = 0;
    auto tb = eddy::create_task(acquire_and_keep(&lk, &acquired));
    auto tc = eddy::create_task(acquire_and_keep(&lk, &acquired));
    co_await eddy::sleep(0s);
    lk.release();  // handed to B, which has not run yet
    tb.cancel();   // ... and B is cancelled before it runs
    auto b_outcome = co_await eddy_test::caught<eddy::cancelled_error>(tb);
    CHECK(b_outcome.has_value());
    co_await tc;  // C got the lock B passed on
    CHECK(acquired == 1);
    CHECK(lk.locked());
    lk.release();
  };
  eddy::run(main());
}

TEST_CASE("test_cancel_release_race: only one waiter takes the lock", "[lock]") {
  // CPython issue 32734: acquire, 3 waiters, cancel the first and release in one callback.
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    int acquired = 0;
    co_await lk.acquire();
    auto t1 = eddy::create_task(acquire_and_keep(&lk, &acquired));
    auto t2 = eddy::create_task(acquire_and_keep(&lk, &acquired));
    auto t3 = eddy::create_task(acquire_and_keep(&lk, &acquired));
    co_await eddy::sleep(0s);
    eddy::get_running_loop().call_soon([&] {
      t1.cancel();
      lk.release();
    });
    auto outcome = co_await eddy_test::caught<eddy::cancelled_error>(t1);
    CHECK(outcome.has_value());
    co_await eddy::sleep(0s);
    CHECK(acquired == 1);
    CHECK(t2.done());
    CHECK_FALSE(t3.done());
    t3.cancel();
    co_await eddy::sleep(0s);
    CHECK(t3.cancelled());
    lk.release();  // t2's
  };
  eddy::run(main());
}

TEST_CASE("test_finished_waiter_cancelled: a cancelled first waiter does not block the second",
          "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    int acquired = 0;
    co_await lk.acquire();
    auto tb = eddy::create_task(acquire_and_keep(&lk, &acquired));
    co_await eddy::sleep(0s);
    auto tc = eddy::create_task(acquire_and_keep(&lk, &acquired));
    tb.cancel();
    lk.release();
    co_await eddy::sleep(0s);
    CHECK(lk.locked());
    CHECK(tb.cancelled());
    co_await tc;
    CHECK(acquired == 1);
  };
  eddy::run(main());
}

TEST_CASE("test_acquire_with_pending_cancel_on_a_held_lock_throws_without_waiting", "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    co_await lk.acquire();
    auto self = eddy::current_task();
    self.cancel();
    bool threw = false;
    try {
      co_await lk.acquire();
    } catch (const eddy::cancelled_error&) {
      threw = true;
    }
    CHECK(threw);
    self.uncancel();
    lk.release();
    CHECK_FALSE(lk.locked());
    // A free lock is taken without a cancellation check, as asyncio.
    self.cancel();
    co_await lk.acquire();
    CHECK(lk.locked());
    self.uncancel();
    lk.release();
  };
  eddy::run(main());
}

TEST_CASE("test_lock_fairness_with_many_waiters_and_cancelled_ones_in_between", "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lock lk;
    std::vector<int> order;
    co_await lk.acquire();
    std::vector<eddy::task<void>> waiters;
    for (int id = 0; id < 10; ++id) {
      waiters.push_back(eddy::create_task(acquire_and_record(&lk, &order, id)));
    }
    co_await eddy::sleep(0s);
    for (int id = 1; id < 10; id += 3) {
      waiters[static_cast<std::size_t>(id)].cancel();
    }
    lk.release();
    for (auto& waiter : waiters) {
      co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    }
    CHECK(order == std::vector<int>{0, 2, 3, 5, 6, 8, 9});
    CHECK_FALSE(lk.locked());
  };
  eddy::run(main());
}

TEST_CASE("test_lock_is_bound_to_the_loop_of_its_first_wait", "[lock]") {
  eddy::lock lk;
  {
    eddy::runner first;
    first.run([](eddy::lock* shared) -> eddy::coro<void> {
      co_await shared->acquire();
      auto waiter = eddy::create_task(
          [](eddy::lock* inner) -> eddy::coro<void> { co_await inner->acquire(); }(shared));
      co_await eddy::sleep(0s);  // the waiter binds the lock to this loop
      waiter.cancel();
      co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    }(&lk));
  }
  CHECK(lk.locked());
  eddy::runner second;
  auto outcome = second.run([](eddy::lock* shared) -> eddy::coro<std::string> {
    try {
      co_await shared->acquire();
    } catch (const std::runtime_error& error) {
      co_return error.what();
    }
    co_return "no error";
  }(&lk));
  CHECK(outcome.find("bound to a different event loop") != std::string::npos);
  lk.release();
}

TEST_CASE(
    "test_lock_is_bound_to_the_loop_not_its_address: a new loop where the old one lived is another loop",
    "[lock]") {
  // The second loop is built in the very storage of the first, so it has the same address for
  // certain; the lock must still tell them apart (it remembers the loop's id).
  eddy::lock lk;
  std::optional<eddy::event_loop> storage;
  storage.emplace();
  const eddy::event_loop* first_address = &*storage;
  storage->run_until_complete([](eddy::lock* shared) -> eddy::coro<void> {
    co_await shared->acquire();
    auto waiter = eddy::create_task(
        [](eddy::lock* inner) -> eddy::coro<void> { co_await inner->acquire(); }(shared));
    co_await eddy::sleep(0s);  // the waiter binds the lock to this loop
    waiter.cancel();
    co_await eddy_test::caught<eddy::cancelled_error>(waiter);
  }(&lk));
  storage.reset();
  storage.emplace();
  REQUIRE(&*storage == first_address);
  std::string outcome =
      storage->run_until_complete([](eddy::lock* shared) -> eddy::coro<std::string> {
        try {
          co_await shared->acquire();
        } catch (const std::runtime_error& error) {
          co_return error.what();
        }
        co_return "no error";
      }(&lk));
  CHECK(outcome.find("bound to a different event loop") != std::string::npos);
  lk.release();  // the bound loop is gone: nothing to check it against, nothing touched
}

TEST_CASE("test_debug_mode_reports_release_from_another_thread", "[lock]") {
  auto main = []() -> eddy::coro<std::string> {
    eddy::lock lk;
    co_await lk.acquire();
    int acquired = 0;
    auto waiter = eddy::create_task(acquire_and_keep(&lk, &acquired));
    co_await eddy::sleep(0s);
    std::string error;
    std::thread other([&] {
      try {
        lk.release();
      } catch (const std::runtime_error& caught) {
        error = caught.what();
      }
    });
    other.join();
    CHECK(lk.locked());  // nothing changed
    waiter.cancel();
    co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    lk.release();
    co_return error;
  };
  std::string error = eddy::run(main(), {.debug = true});
  CHECK(error.find("lock.release()") != std::string::npos);
  CHECK(error.find("thread") != std::string::npos);
}

TEST_CASE("test_destroying_a_lock_with_waiters_leaves_them_cancellable", "[lock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<void> waiter;
    int acquired = 0;
    {
      eddy::lock lk;
      co_await lk.acquire();
      waiter = eddy::create_task(acquire_and_keep(&lk, &acquired));
      co_await eddy::sleep(0s);
    }
    waiter.cancel();
    auto outcome = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(outcome.has_value());
    CHECK(acquired == 0);
  };
  eddy::run(main());
}
