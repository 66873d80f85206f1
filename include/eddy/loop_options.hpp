// How an event loop is set up: which backend, and debug mode.
#pragma once

#include <optional>

namespace eddy {

/// Which completion backend a loop runs on.
enum class backend_kind {
  from_environment,  ///< EDDY_BACKEND=uring|epoll if set, else automatic (the default)
  automatic,         ///< io_uring when it starts and has the needed opcodes, else epoll
  uring,             ///< io_uring, or std::system_error if it cannot start (never a silent fallback)
  epoll,             ///< epoll; files go to the thread pool
};

/// Options for event_loop, runner and run() (asyncio.Runner's `debug`, plus the backend).
struct loop_options {
  backend_kind backend = backend_kind::from_environment;
  /// Debug mode (asyncio's): checks that loop methods are called from the loop's thread and
  /// reports callbacks and task steps slower than 100 ms. Unset: EDDY_DEBUG=1 turns it on.
  std::optional<bool> debug = std::nullopt;
};

}  // namespace eddy
