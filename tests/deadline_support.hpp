// Helpers shared by timeout_test.cpp and wait_for_test.cpp.
//
// Deadlines use wide ratios so a loaded machine cannot flip an outcome: what must time out
// sleeps 10 s against a 20 ms limit; what must not completes through a future against 10 s.
#pragma once

#include <chrono>
#include <exception>
#include <thread>

#include "eddy/coro.hpp"
#include "eddy/errors.hpp"
#include "eddy/future.hpp"
#include "eddy/loop_options.hpp"
#include "eddy/time.hpp"

namespace eddy_test::deadlines {

using namespace std::chrono_literals;

inline constexpr auto short_limit = 20ms;  // a limit that must pass
inline constexpr auto long_sleep = 10s;    // work that must not finish in time
inline constexpr auto long_limit = 10s;    // a limit that must not pass

/// For scenarios whose meaning depends on the order of several deadlines: on the virtual
/// clock they fire exactly, in order, however loaded the machine is.
inline const eddy::loop_options virtual_time{.virtual_time = eddy::virtual_clock{}};

template <class T>
eddy::coro<T> value_of(eddy::future<T> source) {
  co_return co_await source;
}

inline eddy::coro<void> sleep_long() { co_await eddy::sleep(long_sleep); }

/// Blocks the loop's thread for `delay` (a busy loop, as CPython's tests use time.sleep), then
/// sets `target`'s result.
inline eddy::coro<void> block_then_set(eddy::future<int> target, std::chrono::milliseconds delay,
                                       int value) {
  std::this_thread::sleep_for(delay);
  target.set_result(value);
  co_return;
}

/// Sleeps long; when cancelled, records it, awaits some cleanup (after the catch block: C++
/// cannot co_await inside one), records that the cleanup finished and rethrows.
inline eddy::coro<int> sleep_with_cleanup(bool* cancel_seen, bool* cleanup_done) {
  std::exception_ptr cancellation;
  try {
    co_await eddy::sleep(long_sleep);
  } catch (const eddy::cancelled_error&) {
    *cancel_seen = true;
    cancellation = std::current_exception();
  }
  if (cancellation) {
    co_await eddy::sleep(1ms);
    co_await eddy::sleep(0s);
    *cleanup_done = true;
    std::rethrow_exception(cancellation);
  }
  co_return 1;
}

}  // namespace eddy_test::deadlines
