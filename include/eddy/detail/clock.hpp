// The clock every eddy deadline is measured on.
#pragma once

#include <chrono>
#include <stdexcept>

namespace eddy {

/// loop.time() and every deadline use the monotonic clock, as asyncio does.
using clock = std::chrono::steady_clock;

namespace detail {

/// A delay in the clock's units, rounded up (never early), and capped at 100 years either way
/// so that `now + delay` cannot overflow (sleep(hours::max()) just means "forever"). Throws
/// std::invalid_argument for a floating-point delay that is NaN (asyncio.sleep raises
/// ValueError for it).
template <class Rep, class Period>
constexpr clock::duration to_clock_duration(std::chrono::duration<Rep, Period> delay) noexcept(
    !std::chrono::treat_as_floating_point_v<Rep>) {
  constexpr auto longest =
      std::chrono::duration_cast<clock::duration>(std::chrono::hours(24 * 365 * 100));
  if constexpr (std::chrono::treat_as_floating_point_v<Rep>) {
    if (delay.count() != delay.count()) {
      throw std::invalid_argument("eddy: a delay or timeout is NaN");
    }
  }
  if (std::chrono::duration<double>(delay) >= std::chrono::duration<double>(longest)) {
    return longest;
  }
  if (std::chrono::duration<double>(delay) <= -std::chrono::duration<double>(longest)) {
    return -longest;
  }
  return std::chrono::ceil<clock::duration>(delay);
}

}  // namespace detail

}  // namespace eddy
