// eddy::result<T>: a value or the exception that replaced it (gather's return_exceptions form).
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "eddy/errors.hpp"

namespace eddy {

/// What an awaitable ended with: its value, or its exception (a cancellation is a
/// cancelled_error exception). `void` results hold std::monostate.
template <class T>
class result {
 public:
  using value_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

  static result success(value_type value) {
    return result(std::in_place_index<0>, std::move(value));
  }
  static result failure(std::exception_ptr error) {
    return result(std::in_place_index<1>, std::move(error));
  }

  [[nodiscard]] bool has_value() const noexcept { return outcome_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; rethrows the exception if there is one.
  value_type& value() & {
    rethrow_if_failed();
    return std::get<0>(outcome_);
  }
  value_type&& value() && {
    rethrow_if_failed();
    return std::get<0>(std::move(outcome_));
  }
  /// The exception, or null when there is a value.
  [[nodiscard]] std::exception_ptr exception() const noexcept {
    return has_value() ? nullptr : std::get<1>(outcome_);
  }
  /// Whether the exception is a cancelled_error.
  [[nodiscard]] bool cancelled() const noexcept {
    if (has_value()) {
      return false;
    }
    try {
      std::rethrow_exception(std::get<1>(outcome_));
    } catch (const cancelled_error&) {
      return true;
    } catch (...) {
      return false;
    }
  }

 private:
  template <std::size_t Index, class Value>
  result(std::in_place_index_t<Index> index, Value&& value)
      : outcome_(index, std::forward<Value>(value)) {}

  void rethrow_if_failed() const {
    if (!has_value()) {
      std::rethrow_exception(std::get<1>(outcome_));
    }
  }

  std::variant<value_type, std::exception_ptr> outcome_;
};

}  // namespace eddy
