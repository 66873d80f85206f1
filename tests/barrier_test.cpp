#include "eddy/sync/barrier.hpp"
// eddy::barrier (asyncio.Barrier): filling, tripping, draining, reset, abort, cancellation, and
// the scenarios of CPython's test_locks.py (BarrierTests).

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/sync/event.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<std::size_t> wait_once(eddy::barrier* b) { co_return co_await b->wait(); }

/// Waits, records the index; on broken_barrier_error records -1.
eddy::coro<void> wait_and_record(eddy::barrier* b, std::vector<long>* results) {
  try {
    results->push_back(static_cast<long>(co_await b->wait()));
  } catch (const eddy::broken_barrier_error&) {
    results->push_back(-1);
  }
}

/// Waits for `go`, then on the barrier (so it arrives in a chosen loop iteration).
eddy::coro<void> go_then_wait(eddy::event* go, eddy::barrier* b, std::vector<long>* results) {
  co_await go->wait();
  co_await wait_and_record(b, results);
}

eddy::coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) {
    co_await eddy::sleep(0s);
  }
}

}  // namespace

TEST_CASE("test_barrier_parties: fewer than one party throws invalid_argument", "[barrier]") {
  CHECK_THROWS_AS(eddy::barrier(0), std::invalid_argument);
  CHECK_THROWS_WITH(eddy::barrier(-1), "barrier: parties must be >= 1, got -1");
  eddy::barrier b(3);
  CHECK(b.parties() == 3);
  CHECK(b.n_waiting() == 0);
  CHECK_FALSE(b.broken());
}

TEST_CASE("test_barrier: all parties go on together with distinct indices in arrival order",
          "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(3);
    auto t0 = eddy::create_task(wait_once(&b));
    auto t1 = eddy::create_task(wait_once(&b));
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 2);
    CHECK_FALSE(t0.done());
    std::size_t mine = co_await b.wait();  // the last arrival does not suspend
    CHECK(mine == 2);
    auto result = co_await t0;
    CHECK(result == 0);
    auto result2 = co_await t1;
    CHECK(result2 == 1);
    CHECK(b.n_waiting() == 0);
    CHECK_FALSE(b.broken());
  };
  eddy::run(main());
}

TEST_CASE("test_filling_one_task: a barrier of one never waits", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(1);
    auto index = co_await b.wait();
    CHECK(index == 0);
    auto index2 = co_await b.wait();
    CHECK(index2 == 0);
    CHECK(b.n_waiting() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_wait_tasks_twice: the barrier is reusable round after round", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(4);
    std::vector<long> results;
    auto twice = [](eddy::barrier* shared, std::vector<long>* log) -> eddy::coro<void> {
      log->push_back(static_cast<long>(co_await shared->wait()));
      log->push_back(static_cast<long>(co_await shared->wait()) + 10);
    };
    std::vector<eddy::task<void>> tasks;
    for (int i = 0; i < 4; ++i) {
      tasks.push_back(eddy::create_task(twice(&b, &results)));
    }
    for (auto& task : tasks) {
      co_await task;
    }
    REQUIRE(results.size() == 8);
    std::vector<long> first(results.begin(), results.begin() + 4);
    std::vector<long> second(results.begin() + 4, results.end());
    std::sort(first.begin(), first.end());
    std::sort(second.begin(), second.end());
    CHECK(first == std::vector<long>{0, 1, 2, 3});
    CHECK(second == std::vector<long>{10, 11, 12, 13});
  };
  eddy::run(main());
}

TEST_CASE("test_blocking_tasks_while_draining: early arrivals of the next round wait for the drain",
          "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 1);
    co_await b.wait();  // trip: w0 is woken but has not left yet, so the barrier drains
    CHECK(b.n_waiting() == 0);
    auto late = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);  // w0 leaves (drain ends), then `late` arrives in the new round
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 1);
    auto index = co_await b.wait();
    CHECK(index == 1);
    co_await late;
    CHECK(results == std::vector<long>{0, 0});
  };
  eddy::run(main());
}

TEST_CASE("test_arrival_during_drain_is_admitted_when_the_last_task_leaves", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    eddy::event go;
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto late = eddy::create_task(go_then_wait(&go, &b, &results));
    co_await eddy::sleep(0s);
    go.set();                        // `late` runs before w0 resumes ...
    auto index = co_await b.wait();  // ... and this trip wakes w0: the barrier drains
    CHECK(index == 1);
    CHECK(b.n_waiting() == 0);
    co_await eddy::sleep(0s);  // `late` arrives while draining and is held back; w0 leaves
    CHECK(results == std::vector<long>{0});
    CHECK(b.state() == eddy::barrier_state::filling);  // the drain ended ...
    CHECK(b.n_waiting() == 0);  // ... and `late` arrives when its turn in the loop comes
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 1);
    auto index2 = co_await b.wait();
    CHECK(index2 == 1);
    co_await late;
    CHECK(results == std::vector<long>{0, 0});
  };
  eddy::run(main());
}

TEST_CASE("test_reset_barrier: with nobody waiting, reset leaves it usable", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(1);
    b.reset();
    auto index = co_await b.wait();
    CHECK(index == 0);
    CHECK_FALSE(b.broken());
  };
  eddy::run(main());
}

TEST_CASE(
    "test_reset_barrier_while_tasks_waiting: waiters get broken_barrier_error; the next round "
    "works",
    "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(3);
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto w1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 2);
    b.reset();
    CHECK_FALSE(b.broken());
    co_await w0;
    co_await w1;
    CHECK(results == std::vector<long>{-1, -1});
    CHECK(b.n_waiting() == 0);
    results.clear();
    auto n0 = eddy::create_task(wait_and_record(&b, &results));
    auto n1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    auto index = co_await b.wait();
    CHECK(index == 2);
    co_await n0;
    co_await n1;
    CHECK(results == std::vector<long>{0, 1});
  };
  eddy::run(main());
}

TEST_CASE(
    "test_reset_barrier_when_tasks_half_draining: tripped tasks that have not run get "
    "broken_barrier_error",
    "[barrier]") {
  // As asyncio, which checks the state when a woken waiter runs.
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    auto index = co_await b.wait();  // trip; w0 has not run yet
    CHECK(index == 1);
    b.reset();
    co_await w0;
    CHECK(results == std::vector<long>{-1});
    CHECK_FALSE(b.broken());
    CHECK(b.n_waiting() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_abort_barrier: waiters and later arrivals get broken_barrier_error until reset",
          "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(3);
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto w1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    b.abort();
    CHECK(b.broken());
    CHECK(b.n_waiting() == 0);
    co_await w0;
    co_await w1;
    CHECK(results == std::vector<long>{-1, -1});
    auto error = co_await eddy_test::caught<eddy::broken_barrier_error>(b.wait());
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()).find("barrier.wait()") != std::string::npos);
    b.reset();
    CHECK_FALSE(b.broken());
    results.clear();
    auto n0 = eddy::create_task(wait_and_record(&b, &results));
    auto n1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    auto index = co_await b.wait();
    CHECK(index == 2);
    co_await n0;
    co_await n1;
    CHECK(results == std::vector<long>{0, 1});
  };
  eddy::run(main());
}

TEST_CASE("test_abort_barrier_when_tasks_half_draining_half_blocking", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(3);
    eddy::event go;
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto w1 = eddy::create_task(wait_and_record(&b, &results));
    auto late = eddy::create_task(go_then_wait(&go, &b, &results));
    co_await eddy::sleep(0s);
    go.set();
    auto index = co_await b.wait();  // trip: w0 and w1 woken, not yet left
    CHECK(index == 2);
    b.abort();  // before they run, and before `late` arrives
    co_await w0;
    co_await w1;
    co_await late;
    CHECK(results == std::vector<long>{-1, -1, -1});
    CHECK(b.broken());
  };
  eddy::run(main());
}

TEST_CASE(
    "test_cancel_waiting_task: a cancelled waiter leaves and the round still needs its parties",
    "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(3);
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto w1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 2);
    w0.cancel();
    CHECK(b.n_waiting() == 1);  // left at once
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(w0);
    CHECK(error.has_value());
    CHECK_FALSE(b.broken());
    auto w2 = eddy::create_task(wait_and_record(&b, &results));
    co_await yield_times(2);
    CHECK(b.n_waiting() == 2);
    CHECK_FALSE(w1.done());
    std::size_t mine = co_await b.wait();
    CHECK(mine == 2);
    co_await w1;
    co_await w2;
    CHECK(results == std::vector<long>{0, 1});  // distinct, in arrival order: w1 then w2
  };
  eddy::run(main());
}

TEST_CASE("test_cancel_after_trip: the cancelled task throws, the trip stands for the others",
          "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(3);
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto w1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    auto index = co_await b.wait();
    CHECK(index == 2);
    w0.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(w0);
    CHECK(error.has_value());
    co_await w1;
    CHECK(results == std::vector<long>{1});
    CHECK(b.n_waiting() == 0);
    // Fully drained: the next round fills normally.
    auto n0 = eddy::create_task(wait_once(&b));
    auto n1 = eddy::create_task(wait_once(&b));
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 2);
    auto index2 = co_await b.wait();
    CHECK(index2 == 2);
    co_await n0;
    co_await n1;
  };
  eddy::run(main());
}

TEST_CASE("test_pending_cancel_on_arrival: the arrival counts, leaves, and throws", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    auto self = eddy::current_task();
    self.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(b.wait());
    CHECK(error.has_value());
    self.uncancel();
    CHECK(b.n_waiting() == 0);
    auto other = eddy::create_task(wait_once(&b));
    co_await eddy::sleep(0s);
    auto index = co_await b.wait();
    CHECK(index == 1);
    auto result = co_await other;
    CHECK(result == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_reset_barrier_while_tasks_draining: the last task out resets, then all meet twice",
          "[barrier]") {
  // CPython's scenario: every task waits again as soon as it leaves (so all but the last are held
  // back by the drain); the last one out resets the barrier and waits too. The held-back tasks
  // arrive after the reset, so it breaks none of them, and both later rounds trip.
  static constexpr int parties = 5;
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(parties);
    int left = 0;
    int second_round = 0;
    int second_round_broken = 0;
    int third_round = 0;
    auto one = [&]() -> eddy::coro<void> {
      co_await b.wait();
      ++left;
      if (left == parties) {
        CHECK(b.state() == eddy::barrier_state::filling);  // the drain has ended
        b.reset();
        CHECK(b.n_waiting() == 0);
        co_await b.wait();
      } else {
        try {
          co_await b.wait();
          ++second_round;
        } catch (const eddy::broken_barrier_error&) {
          ++second_round_broken;
        }
      }
      co_await b.wait();
      ++third_round;
    };
    std::vector<eddy::task<void>> tasks;
    for (int i = 0; i < parties; ++i) {
      tasks.push_back(eddy::create_task(one));
    }
    for (auto& task : tasks) {
      co_await task;
    }
    CHECK_FALSE(b.broken());
    CHECK(second_round == parties - 1);
    CHECK(second_round_broken == 0);
    CHECK(third_round == parties);
    CHECK(b.n_waiting() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_barrier_state: filling, draining, resetting and broken, as asyncio's repr shows",
          "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    CHECK(b.state() == eddy::barrier_state::filling);
    auto w0 = eddy::create_task(wait_once(&b));
    co_await eddy::sleep(0s);
    co_await b.wait();  // trip: w0 has not left yet
    CHECK(b.state() == eddy::barrier_state::draining);
    co_await w0;
    CHECK(b.state() == eddy::barrier_state::filling);
    std::vector<long> results;
    auto w1 = eddy::create_task(wait_and_record(&b, &results));
    co_await eddy::sleep(0s);
    b.reset();
    CHECK(b.state() == eddy::barrier_state::resetting);
    co_await w1;
    CHECK(results == std::vector<long>{-1});
    CHECK(b.state() == eddy::barrier_state::filling);
    b.abort();
    CHECK(b.state() == eddy::barrier_state::broken);
    b.reset();
    CHECK(b.state() == eddy::barrier_state::filling);
  };
  eddy::run(main());
}

TEST_CASE("test_abort_barrier_while_arrivals_are_unblocked: they get broken_barrier_error",
          "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    eddy::event go;
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto late = eddy::create_task(go_then_wait(&go, &b, &results));
    co_await eddy::sleep(0s);
    go.set();
    co_await b.wait();         // trip; `late` arrives while draining
    co_await eddy::sleep(0s);  // w0 leaves: `late` is unblocked, not yet admitted
    b.abort();
    co_await late;
    CHECK(results == std::vector<long>{0, -1});
  };
  eddy::run(main());
}

TEST_CASE("test_cancel_unblocked_arrival: it leaves without arriving", "[barrier]") {
  auto main = []() -> eddy::coro<void> {
    eddy::barrier b(2);
    eddy::event go;
    std::vector<long> results;
    auto w0 = eddy::create_task(wait_and_record(&b, &results));
    auto late = eddy::create_task(go_then_wait(&go, &b, &results));
    co_await eddy::sleep(0s);
    go.set();
    co_await b.wait();
    co_await eddy::sleep(0s);  // `late` unblocked, its admission queued
    late.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(late);
    CHECK(error.has_value());
    CHECK(b.n_waiting() == 0);
    auto other = eddy::create_task(wait_once(&b));
    co_await eddy::sleep(0s);
    CHECK(b.n_waiting() == 1);
    co_await b.wait();
    co_await other;
  };
  eddy::run(main());
}
