// The clock every eddy deadline is measured on.
#pragma once

#include <chrono>

namespace eddy {

/// loop.time() and every deadline use the monotonic clock, as asyncio does.
using clock = std::chrono::steady_clock;

namespace detail {

/// A delay in the clock's units, rounded up (never early), and capped at 100 years so that
/// `now + delay` cannot overflow (sleep(hours::max()) just means "forever").
template <class Rep, class Period>
constexpr clock::duration to_clock_duration(std::chrono::duration<Rep, Period> delay) noexcept {
  constexpr auto longest = std::chrono::duration_cast<clock::duration>(std::chrono::hours(24 * 365 * 100));
  if (std::chrono::duration<double>(delay) >= std::chrono::duration<double>(longest)) {
    return longest;
  }
  return std::chrono::ceil<clock::duration>(delay);
}

}  // namespace detail

}  // namespace eddy
