#include "eddy/sync/event.hpp"
// eddy::event (asyncio.Event): set wakes every waiter, clear, cancellation, and the scenarios of
// CPython's test_locks.py (EventTests).

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<bool> wait_and_record(eddy::event* ev, std::vector<int>* result, int id) {
  co_await ev->wait();
  result->push_back(id);
  co_return true;
}

}  // namespace

TEST_CASE("test_wait: set() wakes every waiter, in the order they started waiting", "[event]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event ev;
    CHECK_FALSE(ev.is_set());
    std::vector<int> result;
    auto t1 = eddy::create_task(wait_and_record(&ev, &result, 1));
    auto t2 = eddy::create_task(wait_and_record(&ev, &result, 2));
    co_await eddy::sleep(0s);
    CHECK(result.empty());
    auto t3 = eddy::create_task(wait_and_record(&ev, &result, 3));
    ev.set();
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{3, 1, 2});
    CHECK(t1.done());
    CHECK(t2.done());
    CHECK(t3.done());
    CHECK(t1.result());
  };
  eddy::run(main());
}

TEST_CASE("test_wait_on_set: wait() on a set event returns without suspending", "[event]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event ev;
    ev.set();
    std::vector<std::string> order;
    auto other = eddy::create_task([](std::vector<std::string>* log) -> eddy::coro<void> {
      log->push_back("other");
      co_return;
    }(&order));
    co_await ev.wait();
    order.push_back("waited");
    co_await other;
    CHECK(order == std::vector<std::string>{"waited", "other"});
  };
  eddy::run(main());
}

TEST_CASE("test_wait_cancel: a cancelled waiter throws and the others still wake", "[event]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event ev;
    std::vector<int> result;
    auto cancelled = eddy::create_task(wait_and_record(&ev, &result, 1));
    auto kept = eddy::create_task(wait_and_record(&ev, &result, 2));
    co_await eddy::sleep(0s);
    cancelled.cancel("stop");
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(cancelled);
    REQUIRE(error.has_value());
    CHECK(error->message() == "stop");
    ev.set();
    co_await kept;
    CHECK(result == std::vector<int>{2});
  };
  eddy::run(main());
}

TEST_CASE("test_wait_cancelled_after_set_throws_cancelled_error", "[event]") {
  // As asyncio: woken by set() but cancelled before running, the wait throws; the event stays set.
  auto main = []() -> eddy::coro<void> {
    eddy::event ev;
    std::vector<int> result;
    auto waiter = eddy::create_task(wait_and_record(&ev, &result, 1));
    co_await eddy::sleep(0s);
    ev.set();
    waiter.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(waiter);
    CHECK(error.has_value());
    CHECK(result.empty());
    CHECK(ev.is_set());
  };
  eddy::run(main());
}

TEST_CASE("test_clear", "[event]") {
  eddy::event ev;
  CHECK_FALSE(ev.is_set());
  ev.set();
  CHECK(ev.is_set());
  ev.clear();
  CHECK_FALSE(ev.is_set());
}

TEST_CASE("test_clear_with_waiters: a waiter woken by set() returns even if clear() follows",
          "[event]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event ev;
    std::vector<int> result;
    auto waiter = eddy::create_task(wait_and_record(&ev, &result, 1));
    co_await eddy::sleep(0s);
    CHECK(result.empty());
    ev.set();
    ev.clear();
    CHECK_FALSE(ev.is_set());
    ev.set();
    ev.set();
    co_await eddy::sleep(0s);
    CHECK(result == std::vector<int>{1});
    CHECK(waiter.done());
    CHECK(waiter.result());
  };
  eddy::run(main());
}

TEST_CASE("test_wait_again_after_clear_blocks_until_the_next_set", "[event]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event ev;
    std::vector<int> result;
    ev.set();
    ev.clear();
    auto waiter = eddy::create_task(wait_and_record(&ev, &result, 1));
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    CHECK(result.empty());
    ev.set();
    co_await waiter;
    CHECK(result == std::vector<int>{1});
  };
  eddy::run(main());
}

TEST_CASE("test_pingpong: two events alternate two tasks", "[event]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event ping;
    eddy::event pong;
    int state = 0;
    constexpr int rounds = 1000;
    auto partner =
        eddy::create_task([](eddy::event* in, eddy::event* out, int* shared) -> eddy::coro<bool> {
          bool ok = true;
          for (int i = 0; i < rounds; ++i) {
            co_await in->wait();
            in->clear();
            ok = ok && *shared == i + 1;
            out->set();
          }
          co_return ok;
        }(&ping, &pong, &state));
    for (int i = 0; i < rounds; ++i) {
      state += 1;
      ping.set();
      co_await pong.wait();
      pong.clear();
    }
    auto result = co_await partner;
    CHECK(result);
    CHECK(state == rounds);
  };
  eddy::run(main());
}

TEST_CASE("test_wait_outside_a_task_throws_logic_error", "[event]") {
  eddy::event ev;
  auto awaiter = ev.wait();
  CHECK_FALSE(awaiter.await_ready());
  CHECK_THROWS_AS(awaiter.await_suspend(std::noop_coroutine()), std::logic_error);
}

TEST_CASE("test_debug_mode_reports_set_from_another_thread", "[event]") {
  auto main = []() -> eddy::coro<std::string> {
    eddy::event ev;
    std::vector<int> result;
    auto waiter = eddy::create_task(wait_and_record(&ev, &result, 1));
    co_await eddy::sleep(0s);
    std::string error;
    std::thread other([&] {
      try {
        ev.set();
      } catch (const std::runtime_error& caught) {
        error = caught.what();
      }
    });
    other.join();
    CHECK_FALSE(ev.is_set());  // refused before any change
    ev.set();
    co_await waiter;
    co_return error;
  };
  std::string error = eddy::run(main(), {.debug = true});
  CHECK(error.find("event.set()") != std::string::npos);
}
