// Durations as asyncio writes them: every function and option that takes a length of time takes
// any std::chrono duration, fractional ones included (`0.2s`, `1.5min`), and sleep() takes a
// plain number of seconds (`asyncio.sleep(0.5)`). Timings run on the virtual clock, so each
// is exact.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/as_completed.hpp"
#include "eddy/duration_arg.hpp"
#include "eddy/loop.hpp"
#include "eddy/net/stream_options.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "eddy/wait.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

const eddy::loop_options virtual_time{.virtual_time = eddy::virtual_clock{}};

eddy::clock::time_point loop_time() { return eddy::get_running_loop().time(); }

eddy::coro<int> value_after(eddy::clock::duration delay, int value) {
  co_await eddy::sleep(delay);
  co_return value;
}

}  // namespace

TEST_CASE("sleep(0.5) sleeps half a second, as asyncio.sleep(0.5)", "[durations][sleep]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        co_await eddy::sleep(0.5);
        const auto after_half = loop_time() - start;
        co_await eddy::sleep(2);
        const auto after_two_more = loop_time() - start;
        co_await eddy::sleep(0.25f);
        const auto after_quarter_more = loop_time() - start;
        CHECK(after_half == 500ms);
        CHECK(after_two_more == 2500ms);
        CHECK(after_quarter_more == 2750ms);
      }(),
      virtual_time);
}

TEST_CASE("sleep(0) and sleep(-1.0) yield once and do not move the clock", "[durations][sleep]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        bool other_ran = false;
        auto other = eddy::create_task([](bool* ran) -> eddy::coro<void> {
          *ran = true;
          co_return;
        }(&other_ran));
        co_await eddy::sleep(0);
        const bool ran_after_yield = other_ran;
        co_await eddy::sleep(-1.0);
        CHECK(ran_after_yield);
        CHECK(loop_time() == start);
        co_await other;
      }(),
      virtual_time);
}

TEST_CASE("a fractional chrono duration works everywhere a delay is taken", "[durations]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        co_await eddy::sleep(1.5min);
        CHECK(loop_time() - start == 90s);

        auto outcome =
            co_await eddy_test::caught<eddy::timeout_error>(eddy::wait_for(eddy::sleep(1h), 0.2s));
        CHECK(outcome.has_value());
        CHECK(loop_time() - start == 90s + 200ms);

        auto body = [](eddy::timeout_scope&) -> eddy::coro<int> { co_return 7; };
        int from_body = co_await eddy::timeout(0.75s, body);
        CHECK(from_body == 7);

        auto& loop = eddy::get_running_loop();
        eddy::clock::time_point fired{};
        loop.call_later(0.1s, [&fired, &loop] { fired = loop.time(); });
        const auto scheduled = loop_time();
        co_await eddy::sleep(1s);
        CHECK(fired - scheduled == 100ms);
      }(),
      virtual_time);
}

TEST_CASE("wait(..., {.timeout = 0.2s}) and as_completed(..., 0.5s) take fractional seconds",
          "[durations][wait][as_completed]") {
  eddy::run(
      []() -> eddy::coro<void> {
        const auto start = loop_time();
        std::vector<eddy::task<int>> tasks;
        tasks.push_back(eddy::create_task(value_after(100ms, 1)));
        tasks.push_back(eddy::create_task(value_after(1s, 2)));
        auto outcome = co_await eddy::wait(tasks, {.timeout = 0.2s});
        CHECK(outcome.done.size() == 1);
        CHECK(outcome.pending.size() == 1);
        CHECK(loop_time() - start == 200ms);

        auto results = eddy::as_completed(tasks, 0.5s);
        int first = co_await results.next();
        auto late = co_await eddy_test::caught<eddy::timeout_error>(results.next());
        CHECK(first == 1);
        CHECK(late.has_value());
        CHECK(loop_time() - start == 700ms);
        tasks[1].cancel();
        co_await eddy_test::caught<eddy::cancelled_error>(tasks[1]);
      }(),
      virtual_time);
}

TEST_CASE("duration_arg: any chrono duration, rounded up to nanoseconds, capped at 100 years",
          "[durations]") {
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::duration_arg>);
  const eddy::duration_arg from_seconds = 0.2s;
  CHECK(from_seconds.get() == 200ms);
  CHECK(from_seconds.as<std::chrono::milliseconds>() == 200ms);
  const eddy::duration_arg from_minutes = 1.5min;
  CHECK(from_minutes == eddy::duration_arg(90s));
  const eddy::duration_arg tiny = std::chrono::duration<double, std::nano>(0.1);
  CHECK(tiny.get() == 1ns);  // never early
  const eddy::duration_arg forever = std::chrono::hours::max();
  CHECK(forever.get() == std::chrono::hours(24 * 365 * 100));
  const eddy::duration_arg never = std::chrono::hours::min();
  CHECK(never.get() == -std::chrono::hours(24 * 365 * 100));
  CHECK(eddy::duration_arg(-1ms) < eddy::duration_arg());

  eddy::connection_options options{.happy_eyeballs_delay = 0.25s};
  CHECK(options.happy_eyeballs_delay->get() == 250ms);
  const eddy::virtual_clock patient{.jump_after_idle = 0.5s};
  CHECK(patient.jump_after_idle.get() == 500ms);
}

TEST_CASE("a NaN delay throws std::invalid_argument, as asyncio.sleep(nan) raises ValueError",
          "[durations][args]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(static_cast<void>(eddy::sleep(nan)), std::invalid_argument);
  CHECK_THROWS_AS(static_cast<void>(eddy::sleep(std::chrono::duration<double>(nan))),
                  std::invalid_argument);
  CHECK_THROWS_AS(eddy::duration_arg(std::chrono::duration<float, std::milli>(std::nanf(""))),
                  std::invalid_argument);
  eddy::event_loop loop;
  CHECK_THROWS_AS(loop.call_later(std::chrono::duration<double>(nan), [] {}),
                  std::invalid_argument);
  eddy::run([]() -> eddy::coro<void> {
    const double not_a_number = std::numeric_limits<double>::quiet_NaN();
    std::string message;
    try {
      co_await eddy::wait_for(eddy::sleep(1ms), std::chrono::duration<double>(not_a_number));
    } catch (const std::invalid_argument& error) {
      message = error.what();
    }
    CHECK(message == "eddy: a delay or timeout is NaN");
  }());
}

TEST_CASE("sleep() of an integral duration or an integer stays noexcept", "[durations][sleep]") {
  // (Through variables: the literal operators themselves are not noexcept.)
  constexpr std::chrono::seconds one_second{1};
  constexpr std::chrono::duration<double> half_second{0.5};
  constexpr int one = 1;
  constexpr double half = 0.5;
  STATIC_REQUIRE(noexcept(eddy::sleep(one_second)));
  STATIC_REQUIRE(noexcept(eddy::sleep(one)));
  STATIC_REQUIRE_FALSE(noexcept(eddy::sleep(half)));
  STATIC_REQUIRE_FALSE(noexcept(eddy::sleep(half_second)));
}
