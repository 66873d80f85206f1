// How an event loop is set up: which backend, debug mode, and (for tests) a virtual clock.
#pragma once

#include <chrono>
#include <optional>

#include "eddy/duration_arg.hpp"

namespace eddy {

/// Which completion backend a loop runs on.
enum class backend_kind {
  from_environment,  ///< EDDY_BACKEND=uring|epoll if set, else automatic (the default)
  automatic,         ///< io_uring when it starts and has the needed opcodes, else epoll
  uring,  ///< io_uring, or std::system_error if it cannot start (never a silent fallback)
  epoll,  ///< epoll; files go to the thread pool
};

/// A loop clock for tests, in the spirit of CPython's test loop and trio's MockClock with
/// autojump: time stands still while the loop has work, and when it has none it jumps to the
/// next deadline, so `sleep(1h)` returns at once with loop.time() one hour later and timeouts
/// fire in a fixed order however loaded the machine is.
///
/// Precisely: loop.time() starts at the real monotonic time the loop was made (rounded up to a
/// whole millisecond) and changes only by jumps. When nothing is ready to run and a timer is
/// pending, the loop first waits up to `jump_after_idle` of real time for the I/O operations
/// and thread calls it has in flight, if any, as it always would; if none came back, its clock
/// jumps to the earliest timer's deadline (to the timer wheel's 1 ms tick: a 1.5 ms sleep ends
/// at +2 ms) and those timers fire. With no timer pending, or none within 50 years of the
/// loop's start (sleep(hours::max()) means forever), the loop blocks for I/O as usual.
/// With the default 0, a wait on real I/O or on a thread that has a timeout sees the timeout
/// first unless the result has already arrived: give such tests a patience of some
/// milliseconds (a loop with nothing in flight still jumps at once). Every eddy deadline
/// (sleep, call_later, wait_for, timeout, wait, as_completed) is on the loop's clock;
/// std::chrono::steady_clock::now() is not.
struct virtual_clock {
  /// How long an idle loop waits, in real time, for I/O or a thread before it jumps.
  duration_arg jump_after_idle;
};

/// Options for event_loop, runner and run() (asyncio.Runner's `debug`, plus the backend).
struct loop_options {
  backend_kind backend = backend_kind::from_environment;
  /// Debug mode (asyncio's): checks that loop methods are called from the loop's thread and
  /// reports callbacks and task steps slower than 100 ms. Unset: EDDY_DEBUG=1 turns it on.
  std::optional<bool> debug = std::nullopt;
  /// Unset: loop.time() is the monotonic clock. Set: the loop runs on a virtual clock (see
  /// virtual_clock). Throws std::invalid_argument from the loop's constructor if
  /// jump_after_idle is negative.
  std::optional<virtual_clock> virtual_time = std::nullopt;
  /// asyncio's `loop.set_task_factory(asyncio.eager_task_factory)`: every create_task on this
  /// loop starts its task eagerly (see task_options::eager_start), unless the call says
  /// `.eager_start = false`. Unset: EDDY_EAGER_TASKS=1 turns it on (the test suite runs the
  /// task group and gather tests both ways with it).
  std::optional<bool> eager_task_factory = std::nullopt;
  /// A signal that makes the loop print every task (dump_tasks, eddy/call_graph.hpp) to
  /// stderr at its next iteration, so that a hung program can be looked into without a
  /// debugger: `.dump_signal = SIGUSR1`, then `kill -USR1 <pid>`. Installed by the loop's
  /// constructor through add_signal_handler, which throws what add_signal_handler throws (a
  /// number that is not a signal, a signal another loop handles); 0 installs nothing.
  /// Unset: EDDY_DUMP_SIGNAL in the environment names the signal (SIGUSR1, USR1 or 10); a
  /// value that names no signal, or a signal another loop already handles, leaves the loop
  /// without a dump signal (the first says so on stderr).
  std::optional<int> dump_signal = std::nullopt;
};

}  // namespace eddy
