// The clock every eddy deadline is measured on.
#pragma once

#include <chrono>

namespace eddy {

/// loop.time() and every deadline use the monotonic clock, as asyncio does.
using clock = std::chrono::steady_clock;

}  // namespace eddy
