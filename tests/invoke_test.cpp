#include "eddy/invoke.hpp"
// eddy::invoke: a coroutine lambda's captures and arguments stay alive for the whole life of
// the coroutine it starts (the dangling-capture trap of Seastar's lambda-coroutine-fiasco).
//
// The trap itself is never exercised (it is undefined behaviour); one test shows, through a
// destruction flag only, that without invoke the lambda object is gone before its coroutine
// first runs.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

/// Records, through a shared flag, when the object (or the last copy holding it) is destroyed.
class lifetime_probe {
 public:
  explicit lifetime_probe(std::shared_ptr<bool> destroyed) : destroyed_(std::move(destroyed)) {}
  lifetime_probe(const lifetime_probe&) = default;
  lifetime_probe(lifetime_probe&& other) noexcept : destroyed_(std::move(other.destroyed_)) {}
  lifetime_probe& operator=(const lifetime_probe&) = delete;
  lifetime_probe& operator=(lifetime_probe&&) = delete;
  ~lifetime_probe() {
    if (destroyed_) {
      *destroyed_ = true;
    }
  }

 private:
  std::shared_ptr<bool> destroyed_;
};

}  // namespace

TEST_CASE("invoke: a capturing lambda's captures stay valid across suspensions", "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    std::string name = "worker";
    auto task = eddy::create_task(eddy::invoke([name, count = 3]() -> eddy::coro<std::string> {
      std::string out;
      for (int i = 0; i < count; ++i) {
        co_await eddy::sleep(0s);
        out += name;  // read after every suspension
      }
      co_return out;
    }));
    name = "changed";  // the lambda holds its own copy
    std::string result = co_await task;
    CHECK(result == "workerworkerworker");
  }());
}

TEST_CASE(
    "invoke: the lambda and its captures live until the coroutine finishes, then are destroyed",
    "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    auto destroyed = std::make_shared<bool>(false);
    eddy::future<void> gate;
    auto task =
        eddy::create_task(eddy::invoke([probe = lifetime_probe(destroyed),
                                        gate]() mutable -> eddy::coro<void> { co_await gate; }));
    co_await eddy::sleep(0s);
    CHECK_FALSE(*destroyed);  // suspended: the captures are still alive
    gate.set_result();
    co_await task;
    CHECK(*destroyed);  // finished: the coroutine's frame (and the lambda) are gone
  }());
}

TEST_CASE(
    "invoke: without it, the lambda object is destroyed before its coroutine first runs (the trap)",
    "[invoke]") {
  // Observed only through the destruction flag; the coroutine body never touches a capture.
  eddy::run([]() -> eddy::coro<void> {
    auto destroyed = std::make_shared<bool>(false);
    bool captures_alive_when_body_ran = true;
    auto flag = destroyed;
    auto task = eddy::create_task([probe = lifetime_probe(destroyed)](
                                      std::shared_ptr<bool> seen, bool* alive) -> eddy::coro<void> {
      *alive = !*seen;  // reads only the parameter copy, not a capture
      co_return;
    }(flag, &captures_alive_when_body_ran));
    // The lambda temporary died at the end of the statement above; the coroutine has not run.
    CHECK(*destroyed);
    co_await task;
    CHECK_FALSE(captures_alive_when_body_ran);

    auto kept = std::make_shared<bool>(false);
    bool alive_with_invoke = false;
    auto safe = eddy::create_task(eddy::invoke(
        [probe = lifetime_probe(kept)](std::shared_ptr<bool> seen,
                                       bool* alive) -> eddy::coro<void> {
          *alive = !*seen;
          co_return;
        },
        kept, &alive_with_invoke));
    CHECK_FALSE(*kept);
    co_await safe;
    CHECK(alive_with_invoke);
  }());
}

TEST_CASE("invoke: arguments are copied in: later changes by the caller do not reach the coroutine",
          "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    std::string text = "original";
    auto task = eddy::create_task(eddy::invoke(
        [](const std::string& value) -> eddy::coro<std::string> {
          co_await eddy::sleep(0s);
          co_return value;  // a reference parameter, safe: it refers to invoke's own copy
        },
        text));
    text = "changed";
    std::string result = co_await task;
    CHECK(result == "original");
  }());
}

TEST_CASE("invoke: a temporary bound to a reference parameter stays alive across suspensions",
          "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    auto task = eddy::create_task(eddy::invoke(
        [](const std::string& value) -> eddy::coro<std::size_t> {
          co_await eddy::sleep(1ms);
          co_return value.size();
        },
        std::string(100, 'x')));
    std::size_t size = co_await task;
    CHECK(size == 100);
  }());
}

TEST_CASE("invoke: std::ref passes a reference the coroutine can write through", "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    int counter = 0;
    auto task = eddy::create_task(eddy::invoke(
        [](int& target) -> eddy::coro<void> {
          for (int i = 0; i < 3; ++i) {
            co_await eddy::sleep(0s);
            ++target;
          }
        },
        std::ref(counter)));
    co_await task;
    CHECK(counter == 3);
  }());
}

TEST_CASE("invoke: move-only callables and arguments are moved in", "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    auto owned = std::make_unique<int>(5);
    auto argument = std::make_unique<int>(6);
    auto task = eddy::create_task(eddy::invoke(
        [box = std::move(owned)](std::unique_ptr<int>& extra) -> eddy::coro<int> {
          co_await eddy::sleep(0s);
          co_return *box + *extra;
        },
        std::move(argument)));
    int sum = co_await task;
    CHECK(sum == 11);
  }());
}

TEST_CASE("invoke: the coroutine's value and exception come through; it can be awaited directly",
          "[invoke]") {
  eddy::run([]() -> eddy::coro<void> {
    int base = 40;
    int value = co_await eddy::invoke(
        [base](int add) -> eddy::coro<int> {
          co_await eddy::sleep(0s);
          co_return base + add;
        },
        2);
    CHECK(value == 42);
    // Named first: GCC 12 destroys an aggregate or closure temporary with a non-trivial
    // destructor twice when it appears inside a co_await expression.
    auto failing = [message = std::string("bad")]() -> eddy::coro<void> {
      co_await eddy::sleep(0s);
      throw std::runtime_error(message);
    };
    auto error = co_await eddy_test::caught<std::runtime_error>(eddy::invoke(std::move(failing)));
    REQUIRE(error.has_value());
    CHECK(std::string(error->what()) == "bad");
  }());
}
