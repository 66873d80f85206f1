// eddy::duration_arg: how an options field or a parameter takes a length of time, so that
// every std::chrono duration works, fractional ones included (`{.timeout = 0.2s}`,
// `as_completed(tasks, 0.5s)`, `{.happy_eyeballs_delay = 250ms}`).
#pragma once

#include <chrono>
#include <compare>

#include "eddy/detail/clock.hpp"

namespace eddy {

/// A duration on the loop's clock, made implicitly from any std::chrono::duration: rounded up
/// to the clock's resolution (a deadline is never early) and capped at 100 years either way.
/// Throws std::invalid_argument for a floating-point duration that is NaN.
class duration_arg {
 public:
  /// Zero.
  constexpr duration_arg() noexcept = default;
  template <class Rep, class Period>
  constexpr duration_arg(
      std::chrono::duration<Rep, Period> delay)  // NOLINT(google-explicit-constructor)
      noexcept(!std::chrono::treat_as_floating_point_v<Rep>)
      : value_(detail::to_clock_duration(delay)) {}

  /// The duration in the clock's units.
  [[nodiscard]] constexpr clock::duration get() const noexcept { return value_; }
  constexpr operator clock::duration() const noexcept {
    return value_;
  }  // NOLINT(google-explicit-constructor)
  /// The duration as a count of `Duration` (e.g. std::chrono::milliseconds), rounded up.
  template <class Duration>
  [[nodiscard]] constexpr Duration as() const noexcept {
    return std::chrono::ceil<Duration>(value_);
  }

  friend constexpr bool operator==(duration_arg, duration_arg) noexcept = default;
  friend constexpr auto operator<=>(duration_arg, duration_arg) noexcept = default;

 private:
  clock::duration value_{0};
};

}  // namespace eddy
