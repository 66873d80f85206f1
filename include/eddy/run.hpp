// eddy::run and eddy::runner: the entry point of an eddy program (asyncio.run, asyncio.Runner).
#pragma once

#include <optional>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/loop.hpp"
#include "eddy/loop_options.hpp"

namespace eddy {

/// Owns a loop for running coroutines from synchronous code (asyncio.Runner).
///
/// The loop is made on the first run() (or get_loop()). close() (and the destructor) cancels
/// every task still pending, runs the loop until they have all finished, reports any of them
/// that failed with something other than cancellation, and closes the loop.
class runner {
 public:
  explicit runner(loop_options options = {}) : options_(options) {}
  ~runner() { close(); }
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  /// Runs `main` as a task until it is done and returns its value or rethrows its exception.
  /// Can be called again for another coroutine on the same loop. Throws std::runtime_error if
  /// called while a loop runs on this thread or after close().
  template <class T>
  T run(coro<T> main) {
    check_can_run();
    event_loop& loop = get_loop();
    return loop.run_until_complete(loop.create_task(std::move(main)));
  }

  /// The loop, created on first use with the runner's options.
  event_loop& get_loop();

  /// Cancels and finishes leftover tasks, then closes the loop. Idempotent; never throws.
  void close() noexcept;

 private:
  void check_can_run() const;

  loop_options options_;
  std::optional<event_loop> loop_;
  bool closed_ = false;
};

/// Runs `main` on a new loop and returns its value or rethrows its exception (asyncio.run).
/// When main returns, tasks still pending are cancelled and waited for, then the loop is
/// closed. Throws std::runtime_error if a loop is already running on this thread.
template <class T>
T run(coro<T> main, loop_options options = {}) {
  runner scope(options);
  return scope.run(std::move(main));
}

}  // namespace eddy
