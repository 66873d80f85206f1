#include "eddy/result.hpp"
// eddy::result<T>: a value or the exception that replaced it (what gather's return_exceptions
// form hands back, where asyncio puts the exception object in the list).

#include <catch2/catch.hpp>

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "eddy/errors.hpp"
#include "eddy/future.hpp"
#include "eddy/gather.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "support.hpp"

TEST_CASE("result: success holds the value; has_value, operator bool, no exception", "[result]") {
  auto good = eddy::result<int>::success(42);
  CHECK(good.has_value());
  CHECK(static_cast<bool>(good));
  CHECK(good.value() == 42);
  CHECK(good.exception() == nullptr);
  CHECK_FALSE(good.cancelled());
  good.value() = 43;  // value() & gives a reference
  CHECK(good.value() == 43);
}

TEST_CASE("result: failure rethrows from value(); exception() holds the exception_ptr",
          "[result]") {
  auto error = std::make_exception_ptr(std::runtime_error("boom"));
  auto bad = eddy::result<std::string>::failure(error);
  CHECK_FALSE(bad.has_value());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.exception() == error);
  CHECK_THROWS_AS(bad.value(), std::runtime_error);
  CHECK_THROWS_WITH(bad.value(), "boom");
  CHECK_FALSE(bad.cancelled());
}

TEST_CASE("result: cancelled() is true only for a cancelled_error", "[result]") {
  auto cancelled =
      eddy::result<int>::failure(std::make_exception_ptr(eddy::cancelled_error("stop")));
  CHECK(cancelled.cancelled());
  CHECK_FALSE(cancelled.has_value());
  CHECK_THROWS_AS(cancelled.value(), eddy::cancelled_error);
  auto timed_out = eddy::result<int>::failure(std::make_exception_ptr(eddy::timeout_error()));
  CHECK_FALSE(timed_out.cancelled());
  auto odd = eddy::result<int>::failure(std::make_exception_ptr(17));  // not a std::exception
  CHECK_FALSE(odd.cancelled());
  CHECK_THROWS_AS(odd.value(), int);
}

TEST_CASE("result<void>: the value type is std::monostate", "[result]") {
  static_assert(std::is_same_v<eddy::result<void>::value_type, std::monostate>);
  static_assert(std::is_same_v<eddy::result<int>::value_type, int>);
  auto done = eddy::result<void>::success({});
  CHECK(done.has_value());
  CHECK_NOTHROW(done.value());
}

TEST_CASE("result: a move-only value is moved out of an rvalue result", "[result]") {
  auto boxed = eddy::result<std::unique_ptr<int>>::success(std::make_unique<int>(7));
  std::unique_ptr<int> taken = std::move(boxed).value();
  REQUIRE(taken);
  CHECK(*taken == 7);
  auto failed = eddy::result<std::unique_ptr<int>>::failure(
      std::make_exception_ptr(std::logic_error("none")));
  CHECK_THROWS_AS(std::move(failed).value(), std::logic_error);
}

TEST_CASE(
    "result: what gather(return_exceptions) hands back for a value, an error and a cancellation",
    "[result]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> value;
    eddy::future<int> error;
    eddy::future<void> cancelled;
    auto gathered = eddy::gather(eddy::return_exceptions, value, error, cancelled);
    value.set_result(1);
    error.set_exception(std::invalid_argument("bad"));
    cancelled.cancel("msg");
    auto results = co_await gathered;
    static_assert(
        std::is_same_v<decltype(results),
                       std::tuple<eddy::result<int>, eddy::result<int>, eddy::result<void>>>);
    CHECK(std::get<0>(results).value() == 1);
    CHECK(eddy_test::holds<std::invalid_argument>(std::get<1>(results).exception()));
    CHECK(std::get<2>(results).cancelled());
  }());
}
