// eddy::event: a flag tasks can wait for (asyncio.Event).
#pragma once

#include <cstddef>

#include "eddy/detail/event_state.hpp"

namespace eddy {

/// A flag, initially clear, that tasks of one event loop wait for (asyncio.Event). set() wakes
/// every waiter; wait() on a set event returns at once. Not thread-safe (as asyncio); debug
/// mode reports set() from another thread while tasks wait.
///
/// ```
/// eddy::event ready;
/// auto waiter = eddy::create_task(wait_then_print(ready));   // co_await ready.wait();
/// ready.set();
/// ```
///
/// Destroying an event while tasks wait in it leaves them suspended until they are cancelled.
class event {
 public:
  event() noexcept = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  [[nodiscard]] bool is_set() const noexcept { return state_.is_set(); }
  /// Tasks waiting in wait() (asyncio's len(event._waiters), shown in its repr).
  [[nodiscard]] std::size_t waiter_count() const noexcept { return state_.waiter_count(); }

  /// Sets the flag and wakes every waiting task (they resume in the order they started
  /// waiting). Does nothing if already set. In debug mode throws std::runtime_error when called
  /// from a thread other than the loop's while tasks wait (use call_soon_threadsafe).
  void set() { state_.set(); }

  /// Clears the flag: later wait()s block until the next set(). Tasks already woken by a set()
  /// still return from their wait.
  void clear() noexcept { state_.clear(); }

  /// What wait() returns.
  using wait_awaiter = detail::event_state::wait_awaiter;

  /// `co_await ev.wait()`: returns at once if the flag is set (no suspension, no cancellation
  /// check), else waits until set() is called. Yields nothing. Throws std::logic_error outside
  /// a task and std::runtime_error for an event bound to another loop.
  ///
  /// Cancel safety: cancelled while waiting, the task leaves the waiters and throws
  /// cancelled_error; cancelled after set() woke it but before it ran, it also throws
  /// cancelled_error (as asyncio). Nothing is lost: the flag is not consumed.
  [[nodiscard]] wait_awaiter wait() noexcept { return state_.wait(); }

 private:
  detail::event_state state_;
};

}  // namespace eddy
