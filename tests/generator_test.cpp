#include "eddy/generator.hpp"
// eddy::async_generator and eddy::collect (async generators, PEP 525; the async comprehension):
// order, awaits inside, the end, exceptions, cancellation of the consumer, destruction while
// suspended at co_yield, move-only values.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

/// Sets a flag when destroyed: shows that a generator frame's locals were destroyed.
class raii_flag {
 public:
  explicit raii_flag(bool* destroyed) noexcept : destroyed_(destroyed) {}
  raii_flag(const raii_flag&) = delete;
  raii_flag& operator=(const raii_flag&) = delete;
  ~raii_flag() { *destroyed_ = true; }

 private:
  bool* destroyed_;
};

eddy::async_generator<int> count_to(int limit) {
  for (int i = 0; i < limit; ++i) {
    co_yield i;
  }
}

/// PEP 525's ticker: yields 0..to-1, sleeping between values.
eddy::async_generator<int> ticker(std::chrono::milliseconds delay, int to) {
  for (int i = 0; i < to; ++i) {
    co_yield i;
    co_await eddy::sleep(delay);
  }
}

eddy::async_generator<int> from_futures(std::vector<eddy::future<int>> sources) {
  for (auto& source : sources) {
    co_yield co_await source;
  }
}

eddy::async_generator<int> fail_after(int good_values) {
  for (int i = 0; i < good_values; ++i) {
    co_yield i;
  }
  throw std::runtime_error("generator failed");
}

}  // namespace

TEST_CASE("async generator: yields its values in order", "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    auto numbers = count_to(4);
    std::vector<int> seen;
    while (std::optional<int> value = co_await numbers.next()) {
      seen.push_back(*value);
    }
    CHECK(seen == std::vector<int>{0, 1, 2, 3});
    CHECK(numbers.done());
  }());
}

TEST_CASE("async generator: it is lazy: nothing runs before the first next()", "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    bool started = false;
    auto gen = [](bool* flag) -> eddy::async_generator<int> {
      *flag = true;
      co_yield 1;
    }(&started);
    co_await eddy::sleep(0s);
    CHECK_FALSE(started);
    CHECK_FALSE(gen.done());
    std::optional<int> first = co_await gen.next();
    CHECK(started);
    CHECK(first == std::optional<int>(1));
  }());
}

TEST_CASE("async generator: awaits inside the generator run in the consumer's task",
          "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::future<int>> sources(3);
    auto feeder = [](std::vector<eddy::future<int>> targets) -> eddy::coro<void> {
      for (std::size_t i = 0; i < targets.size(); ++i) {
        co_await eddy::sleep(0s);
        targets[i].set_result(static_cast<int>(i) * 10);
      }
    };
    auto feeding = eddy::create_task(feeder(sources));
    auto values = from_futures(sources);
    std::vector<int> seen;
    while (auto value = co_await values.next()) {
      seen.push_back(*value);
    }
    CHECK(seen == std::vector<int>{0, 10, 20});
    co_await feeding;

    auto ticks = ticker(1ms, 3);
    std::vector<int> ticked;
    while (auto tick = co_await ticks.next()) {
      ticked.push_back(*tick);
    }
    CHECK(ticked == std::vector<int>{0, 1, 2});
  }());
}

TEST_CASE("async generator: next() after the end keeps returning nullopt", "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    auto numbers = count_to(1);
    std::optional<int> first = co_await numbers.next();
    std::optional<int> end = co_await numbers.next();
    std::optional<int> again = co_await numbers.next();
    CHECK(first == std::optional<int>(0));
    CHECK_FALSE(end.has_value());
    CHECK_FALSE(again.has_value());
    CHECK(numbers.done());

    auto nothing = count_to(0);
    std::optional<int> none = co_await nothing.next();
    CHECK_FALSE(none.has_value());
  }());
}

TEST_CASE(
    "async generator: an exception inside comes out of next(); the generator is then finished",
    "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    auto gen = fail_after(2);
    std::optional<int> first = co_await gen.next();
    std::optional<int> second = co_await gen.next();
    CHECK(first == std::optional<int>(0));
    CHECK(second == std::optional<int>(1));
    auto error = co_await eddy_test::caught<std::runtime_error>(gen.next());
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "generator failed");
    CHECK(gen.done());
    std::optional<int> after = co_await gen.next();
    CHECK_FALSE(after.has_value());
  }());
}

TEST_CASE("collect: every value, in order ([x async for x in gen])", "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<int> values = co_await eddy::collect(ticker(0ms, 5));
    CHECK(values == std::vector<int>{0, 1, 2, 3, 4});
    std::vector<int> none = co_await eddy::collect(count_to(0));
    CHECK(none.empty());
    auto error = co_await eddy_test::caught<std::runtime_error>(eddy::collect(fail_after(3)));
    CHECK(error.has_value());
  }());
}

TEST_CASE(
    "async generator: cancelling the consumer while the generator awaits runs its catch and "
    "destructors and ends it",
    "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    bool caught_inside = false;
    bool local_destroyed = false;
    bool resumed_after_await = false;
    auto gen = [](bool* caught, bool* destroyed, bool* resumed) -> eddy::async_generator<int> {
      raii_flag guard(destroyed);
      co_yield 1;
      try {
        co_await eddy::sleep(10s);
        *resumed = true;
      } catch (const eddy::cancelled_error&) {
        *caught = true;
        throw;
      }
      co_yield 2;
    }(&caught_inside, &local_destroyed, &resumed_after_await);
    auto consumer = [](eddy::async_generator<int>* values) -> eddy::coro<int> {
      int total = 0;
      while (auto value = co_await values->next()) {
        total += *value;
      }
      co_return total;
    };
    auto task = eddy::create_task(consumer(&gen));
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);  // the generator is now in its sleep
    CHECK_FALSE(caught_inside);
    task.cancel("stop consuming");
    auto cancellation = co_await eddy_test::caught<eddy::cancelled_error>(task);
    REQUIRE(cancellation.has_value());
    CHECK(cancellation->message() == "stop consuming");
    CHECK(task.cancelled());
    CHECK(caught_inside);
    CHECK_FALSE(resumed_after_await);
    CHECK(local_destroyed);  // the generator finished: its frame's locals are gone
    CHECK(gen.done());
  }());
}

TEST_CASE("async generator: destroying a generator suspended at co_yield runs its destructors",
          "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    bool destroyed = false;
    bool ran_past_yield = false;
    {
      auto gen = [](bool* flag, bool* past) -> eddy::async_generator<std::string> {
        raii_flag guard(flag);
        co_yield "first";
        *past = true;
        co_yield "second";
      }(&destroyed, &ran_past_yield);
      std::optional<std::string> first = co_await gen.next();
      CHECK(first == std::optional<std::string>("first"));
      CHECK_FALSE(destroyed);
    }
    CHECK(destroyed);
    CHECK_FALSE(ran_past_yield);
  }());
}

TEST_CASE("async generator: a generator destroyed before it started runs nothing", "[generator]") {
  bool started = false;
  {
    auto gen = [](bool* flag) -> eddy::async_generator<int> {
      *flag = true;
      co_yield 1;
    }(&started);
    static_cast<void>(gen);
  }
  CHECK_FALSE(started);
}

TEST_CASE("async generator: move-only values", "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    auto boxes = [](int count) -> eddy::async_generator<std::unique_ptr<int>> {
      for (int i = 0; i < count; ++i) {
        co_await eddy::sleep(0s);
        co_yield std::make_unique<int>(i);
      }
    };
    auto gen = boxes(3);
    std::optional<std::unique_ptr<int>> first = co_await gen.next();
    REQUIRE(first.has_value());
    REQUIRE(*first);
    CHECK(**first == 0);
    std::vector<std::unique_ptr<int>> rest = co_await eddy::collect(std::move(gen));
    REQUIRE(rest.size() == 2);
    CHECK(*rest[0] == 1);
    CHECK(*rest[1] == 2);
  }());
}

TEST_CASE("async generator: a moved-from or default generator is done and yields nothing",
          "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::async_generator<int> empty;
    CHECK(empty.done());
    std::optional<int> none = co_await empty.next();
    CHECK_FALSE(none.has_value());
    auto source = count_to(2);
    auto moved = std::move(source);
    CHECK(source.done());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    std::optional<int> first = co_await moved.next();
    CHECK(first == std::optional<int>(0));
  }());
}

TEST_CASE("async generator: a generator that swallows the cancellation goes on yielding",
          "[generator]") {
  // As in Python: an async generator that catches CancelledError and yields has swallowed it.
  eddy::run([]() -> eddy::coro<void> {
    auto gen = []() -> eddy::async_generator<int> {
      try {
        co_await eddy::sleep(10s);
      } catch (const eddy::cancelled_error&) {
      }
      co_yield -1;
    }();
    auto consumer = [](eddy::async_generator<int>* values) -> eddy::coro<int> {
      std::optional<int> value = co_await values->next();
      co_return value.value_or(0);
    };
    auto task = eddy::create_task(consumer(&gen));
    co_await eddy::sleep(0s);
    task.cancel();
    int value = co_await task;
    CHECK(value == -1);
    CHECK_FALSE(task.cancelled());
  }());
}

TEST_CASE(
    "async generator: a second next() while the first still runs throws runtime_error "
    "(anext(): asynchronous generator is already running)",
    "[generator]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> gate;
    auto values = from_futures({gate});
    auto first = eddy::create_task([](eddy::async_generator<int>* gen) -> eddy::coro<int> {
      std::optional<int> value = co_await gen->next();
      co_return value.value_or(-1);
    }(&values));
    co_await eddy::sleep(0s);  // `first` is inside the generator, which waits on `gate`
    auto second = co_await eddy_test::caught<std::runtime_error>(values.next());
    REQUIRE(second.has_value());
    CHECK(std::string(second->what()).find("already running") != std::string::npos);
    gate.set_result(7);
    int got = co_await first;
    CHECK(got == 7);  // the first next() is unharmed
    std::optional<int> end = co_await values.next();
    CHECK_FALSE(end.has_value());
  }());
}
