// The virtual clock (loop_options::virtual_time): time stands still while the loop has work
// and jumps to the next deadline when it has none, as in CPython's test loop. The timing
// scenarios of CPython's tests run here at their own delays, exactly and without waiting.

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eddy/as_completed.hpp"
#include "eddy/future.hpp"
#include "eddy/gather.hpp"
#include "eddy/loop.hpp"
#include "eddy/net/server.hpp"
#include "eddy/run.hpp"
#include "eddy/shield.hpp"
#include "eddy/task.hpp"
#include "eddy/task_group.hpp"
#include "eddy/thread.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "eddy/wait.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

const eddy::loop_options virtual_time{.virtual_time = eddy::virtual_clock{}};

/// loop.time() of the running loop.
eddy::clock::time_point loop_time() { return eddy::get_running_loop().time(); }

eddy::coro<std::string> sleep_then(eddy::clock::duration delay, std::string value) {
  co_await eddy::sleep(delay);
  co_return value;
}

eddy::coro<int> fail_after(eddy::clock::duration delay, std::string message) {
  co_await eddy::sleep(delay);
  throw std::runtime_error(message);
}

/// Echoes one line, then closes.
eddy::coro<void> echo_one_line(eddy::stream_reader reader, eddy::stream_writer writer) {
  std::string line = co_await reader.readline();
  writer.write(line);
  co_await writer.drain();
  writer.close();
}

}  // namespace

TEST_CASE("virtual clock: sleep(1h) returns at once, with loop.time() exactly one hour later",
          "[virtual_clock]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        co_await eddy::sleep(1h);
        CHECK(loop_time() - start == 1h);
        co_await eddy::sleep(250ms);
        CHECK(loop_time() - start == 1h + 250ms);
      }(),
      virtual_time);
}

TEST_CASE("virtual clock: it starts at the real time the loop was made, on a whole millisecond",
          "[virtual_clock]") {
  const auto before = eddy::clock::now();
  eddy::event_loop loop(virtual_time);
  const auto after = eddy::clock::now();
  CHECK(loop.time() >= before);
  CHECK(loop.time() <= after + 1ms);
  CHECK(loop.time().time_since_epoch() % 1ms == 0ns);
}

TEST_CASE("virtual clock: time stands still while tasks are ready to run", "[virtual_clock]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto sleeper = eddy::create_task(sleep_then(1s, "slept"));
        for (int turn = 0; turn < 100; ++turn) {
          co_await eddy::sleep(0s);
        }
        CHECK(loop_time() == start);
        CHECK_FALSE(sleeper.done());
        std::string slept = co_await sleeper;
        CHECK(slept == "slept");
        CHECK(loop_time() - start == 1s);
      }(),
      virtual_time);
}

TEST_CASE("virtual clock: call_later callbacks run in deadline order, each at its deadline",
          "[virtual_clock][timer]") {
  eddy::event_loop loop(virtual_time);
  const auto start = loop.time();
  std::vector<eddy::clock::duration> fired_at;
  auto record = [&] { fired_at.push_back(loop.time() - start); };
  loop.call_later(3s, record);
  loop.call_later(1s, record);
  loop.call_later(2s, record);
  loop.call_later(4s, [&loop] { loop.stop(); });
  loop.run_forever();
  CHECK(fired_at == std::vector<eddy::clock::duration>{1s, 2s, 3s});
  CHECK(loop.time() - start == 4s);
}

TEST_CASE("test_wait_concurrent_complete: a task finishing at the timeout's moment is done",
          "[virtual_clock][wait]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto a = eddy::create_task(sleep_then(100ms, "a"));
        auto b = eddy::create_task(sleep_then(150ms, "b"));
        // As in CPython, wait runs in a task made after a and b, so its timer comes last.
        const eddy::wait_options within_100ms{.timeout = std::chrono::milliseconds(100)};
        auto waiter = eddy::create_task(eddy::wait(std::vector{b, a}, within_100ms));
        auto outcome = co_await waiter;
        const std::vector only_a{a};
        const std::vector only_b{b};
        CHECK(outcome.done == only_a);
        CHECK(outcome.pending == only_b);
        CHECK(loop_time() - start == 100ms);
        co_await b;
      }(),
      virtual_time);
}

TEST_CASE("test_wait_for: the timeout fires at its deadline and the inner task is cancelled",
          "[virtual_clock][wait_for]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto slow = eddy::create_task(sleep_then(10s, "late"));
        auto error = co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(slow, 100ms));
        CHECK(error.has_value());
        CHECK(loop_time() - start == 100ms);
        CHECK(slow.cancelled());
      }(),
      virtual_time);
}

TEST_CASE("test_as_completed_with_timeout: one result, then timeout_error at the deadline",
          "[virtual_clock][as_completed]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto a = eddy::create_task(sleep_then(100ms, "a"));
        auto b = eddy::create_task(sleep_then(200ms, "b"));
        std::vector tasks{a, b};
        auto results = eddy::as_completed(tasks, 150ms);
        std::string first = co_await results.next();
        CHECK(first == "a");
        CHECK(loop_time() - start == 100ms);
        auto error = co_await eddy_test::caught<eddy::timeout_error>(results.next());
        CHECK(error.has_value());
        CHECK(loop_time() - start == 150ms);
        std::string second = co_await b;  // not cancelled: it finishes at its own time
        CHECK(second == "b");
        CHECK(loop_time() - start == 200ms);
      }(),
      virtual_time);
}

TEST_CASE("test_nested_timeouts: the inner expires first, then the outer, each at its deadline",
          "[virtual_clock][timeout]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        std::optional<eddy::clock::duration> inner_expired_at;
        auto outer = co_await eddy_test::caught<eddy::timeout_error>(
            eddy::timeout(200ms, [&](eddy::timeout_scope&) -> eddy::coro<void> {
              auto inner = co_await eddy_test::caught<eddy::timeout_error>(
                  eddy::timeout(100ms, eddy::sleep(1h)));
              CHECK(inner.has_value());
              inner_expired_at = loop_time() - start;
              co_await eddy::sleep(1h);
            }));
        CHECK(outer.has_value());
        CHECK(inner_expired_at == std::optional<eddy::clock::duration>(100ms));
        CHECK(loop_time() - start == 200ms);
      }(),
      virtual_time);
}

TEST_CASE("test_timeout_reschedule: a scope moved later expires at its new deadline",
          "[virtual_clock][timeout]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto error = co_await eddy_test::caught<eddy::timeout_error>(
            eddy::timeout(100ms, [&](eddy::timeout_scope& scope) -> eddy::coro<void> {
              scope.reschedule(start + 5s);
              CHECK(scope.when() == std::optional(start + 5s));
              co_await eddy::sleep(1h);
            }));
        CHECK(error.has_value());
        CHECK(loop_time() - start == 5s);
      }(),
      virtual_time);
}

// --- CPython's timing scenarios (test_tasks.py, test_waitfor.py), at their own delays -------

TEST_CASE("test_sleep: two half sleeps end at the full delay", "[virtual_clock]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto sleeper = [](eddy::clock::duration delay) -> eddy::coro<std::string> {
          co_await eddy::sleep(delay / 2);
          co_await eddy::sleep(delay / 2);
          co_return "yeah";
        };
        std::string said = co_await eddy::create_task(sleeper(100ms));
        CHECK(said == "yeah");
        CHECK(loop_time() - start == 100ms);
      }(),
      virtual_time);
}

TEST_CASE("test_task_cancel_sleeping_task: a call_later cancel ends a 5000 s sleep at 0.1 s",
          "[virtual_clock]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto sleeper = eddy::create_task(sleep_then(5000s, "slept in"));
        eddy::get_running_loop().call_later(100ms, [sleeper]() mutable { sleeper.cancel(); });
        auto cancelled = co_await eddy_test::caught<eddy::cancelled_error>(sleeper);
        CHECK(cancelled.has_value());
        CHECK(loop_time() - start == 100ms);
      }(),
      virtual_time);
}

TEST_CASE("test_wait_with_timeout: what is done at the timeout is done, the rest pending",
          "[virtual_clock][wait]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto a = eddy::create_task(sleep_then(100ms, "a"));
        auto b = eddy::create_task(sleep_then(150ms, "b"));
        const eddy::wait_options within_110ms{.timeout = std::chrono::milliseconds(110)};
        std::vector tasks{b, a};  // named: GCC 12 and temporaries in co_await (composition.md)
        auto outcome = co_await eddy::wait(tasks, within_110ms);
        const std::vector only_a{a};
        const std::vector only_b{b};
        CHECK(outcome.done == only_a);
        CHECK(outcome.pending == only_b);
        CHECK(loop_time() - start == 110ms);
        co_await b;  // wait never cancels
        CHECK(loop_time() - start == 150ms);
      }(),
      virtual_time);
}

TEST_CASE("test_wait_first_completed: returns when the first task is done",
          "[virtual_clock][wait]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto a = eddy::create_task(sleep_then(10s, "a"));
        auto b = eddy::create_task(sleep_then(100ms, "b"));
        const eddy::wait_options first{.when = eddy::return_when::first_completed};
        std::vector tasks{b, a};
        auto outcome = co_await eddy::wait(tasks, first);
        const std::vector only_a{a};
        const std::vector only_b{b};
        CHECK(outcome.done == only_b);
        CHECK(outcome.pending == only_a);
        CHECK(loop_time() - start == 100ms);
        a.cancel();
      }(),
      virtual_time);
}

TEST_CASE("gather: the results come when the slowest child is done", "[virtual_clock][gather]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto [slow, fast] =
            co_await eddy::gather(sleep_then(200ms, "slow"), sleep_then(100ms, "fast"));
        CHECK(slow == "slow");
        CHECK(fast == "fast");
        CHECK(loop_time() - start == 200ms);
      }(),
      virtual_time);
}

TEST_CASE("test_shielded_timeout: wait_for(shield(t)) times out; t runs on to its own end",
          "[virtual_clock][shield]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        auto inner = eddy::create_task(sleep_then(200ms, "done"));
        auto error = co_await eddy_test::caught<eddy::timeout_error>(
            eddy::wait_for(eddy::shield(inner), 100ms));
        CHECK(error.has_value());
        CHECK(loop_time() - start == 100ms);
        CHECK_FALSE(inner.done());
        std::string value = co_await inner;
        CHECK(value == "done");
        CHECK(loop_time() - start == 200ms);
      }(),
      virtual_time);
}

TEST_CASE("task_group: the first failure, at its moment, cancels the sleeping siblings",
          "[virtual_clock][task_group]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        eddy::task<std::string> sibling;
        auto group = co_await eddy_test::caught<eddy::exception_group>(
            eddy::with_task_group([&](eddy::task_group& g) -> eddy::coro<void> {
              sibling = g.create_task(sleep_then(1h, "never"));
              g.create_task(fail_after(300ms, "boom"));
              co_return;
            }));
        REQUIRE(group.has_value());
        CHECK(group->exceptions().size() == 1);
        CHECK(sibling.cancelled());
        CHECK(loop_time() - start == 300ms);
      }(),
      virtual_time);
}

TEST_CASE("virtual clock: with patience, a thread's result arrives before the clock jumps",
          "[virtual_clock][thread]") {
  // A minute of real patience: the loop waits for the worker (a few milliseconds) instead of
  // jumping to the 1 s deadline.
  const eddy::loop_options patient{.virtual_time = eddy::virtual_clock{.jump_after_idle = 60s}};
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        int value = co_await eddy::wait_for(eddy::to_thread([] {
                                              std::this_thread::sleep_for(2ms);
                                              return 7;
                                            }),
                                            1s);
        CHECK(value == 7);
        CHECK(loop_time() == start);
      }(),
      patient);
}

TEST_CASE("virtual clock: with patience, a loopback reply arrives before a virtual timeout",
          "[virtual_clock][streams]") {
  const eddy::loop_options patient{.virtual_time = eddy::virtual_clock{.jump_after_idle = 60s}};
  eddy::run(
      []() -> eddy::coro<void> {
        eddy::server server = co_await eddy::start_server(echo_one_line, "127.0.0.1", 0);
        auto [reader, writer] =
            co_await eddy::open_connection("127.0.0.1", server.sockets().front().port());
        const auto start = loop_time();
        // Another task keeps a timer pending, so the loop would jump if it did not wait.
        auto sleeper = eddy::create_task(sleep_then(10s, "slept"));
        writer.write("ping\n");
        std::string echoed = co_await eddy::wait_for(reader.readline(), 1s);
        CHECK(echoed == "ping\n");
        CHECK(loop_time() == start);
        writer.close();
        co_await writer.wait_closed();
        server.close();
        co_await server.wait_closed();
        std::string slept = co_await sleeper;  // then the clock jumps: no real 10 s
        CHECK(slept == "slept");
        CHECK(loop_time() - start == 10s);
      }(),
      patient);
}

TEST_CASE("virtual clock: a negative jump_after_idle is refused with std::invalid_argument",
          "[virtual_clock]") {
  const eddy::loop_options bad{.virtual_time = eddy::virtual_clock{.jump_after_idle = -1ms}};
  CHECK_THROWS_AS(eddy::event_loop(bad), std::invalid_argument);
}

TEST_CASE("virtual clock: sleep(hours::max()) is forever: the clock does not jump to it",
          "[virtual_clock]") {
  eddy::run(
      []() -> eddy::coro<void> {
        auto& loop = eddy::get_running_loop();
        const auto start = loop.time();
        auto forever = eddy::create_task(
            []() -> eddy::coro<void> { co_await eddy::sleep(std::chrono::hours::max()); }());
        eddy::future<int> from_thread;
        // The loop is idle with only a century-long timer: it must block, not jump, until
        // the thread's callback arrives. (The thread touches only the loop and a pointer: a
        // future handle is not to be copied off the loop's thread.)
        std::thread helper([&loop, target = &from_thread] {
          loop.call_soon_threadsafe([target] { target->set_result(1); });
        });
        int arrived = co_await from_thread;
        helper.join();
        CHECK(arrived == 1);
        CHECK(loop.time() == start);
        CHECK_FALSE(forever.done());
        forever.cancel();
        auto cancelled = co_await eddy_test::caught<eddy::cancelled_error>(forever);
        CHECK(cancelled.has_value());
      }(),
      virtual_time);
}
