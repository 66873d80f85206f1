// eddy::run and eddy::runner: the entry point of an eddy program (asyncio.run, asyncio.Runner).
#pragma once

#include <optional>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "eddy/loop_options.hpp"
#include "eddy/task.hpp"

namespace eddy {

// keyboard_interrupt, what run() throws after a Ctrl-C, is in errors.hpp (included above)
// with the other exception types.

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
  ///
  /// Ctrl-C (asyncio.Runner's behaviour): on the main thread, while SIGINT has its default
  /// disposition, the first SIGINT during run() cancels the main task, so its try/catch blocks
  /// and destructors run. If the task then ends cancelled, run() throws keyboard_interrupt
  /// instead of cancelled_error; if it swallows the cancellation, run() returns normally. A
  /// second SIGINT restores the default disposition and ends the process at once. SIGINT gets
  /// its default disposition back when run() returns.
  template <class T>
  T run(coro<T> main) {
    check_can_run();
    event_loop& loop = get_loop();
    task<T> main_task = loop.create_task(std::move(main));
    interrupt_scope interrupts(*this, main_task);
    try {
      return loop.run_until_complete(main_task);
    } catch (const cancelled_error&) {
      throw_if_interrupted(main_task);
      throw;
    }
  }

  /// The loop, created on first use with the runner's options.
  event_loop& get_loop();

  /// Cancels and finishes leftover tasks, then closes the loop. Idempotent; never throws.
  void close() noexcept;

 private:
  void check_can_run() const;

  /// Ctrl-C handling for one run() (src/runner.cpp).
  class interrupt_scope {
   public:
    interrupt_scope(runner& owner, any_task main_task);
    ~interrupt_scope();
    interrupt_scope(const interrupt_scope&) = delete;
    interrupt_scope& operator=(const interrupt_scope&) = delete;

   private:
    runner& owner_;
    bool installed_ = false;
  };
  /// Throws keyboard_interrupt when a Ctrl-C cancelled `main_task` and nothing else did.
  void throw_if_interrupted(any_task main_task);

  loop_options options_;
  std::optional<event_loop> loop_;
  bool closed_ = false;
  int interrupt_count_ = 0;  ///< SIGINTs seen during run() (asyncio.Runner._interrupt_count)
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
