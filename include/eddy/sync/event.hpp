// eddy::event: a flag tasks can wait for (asyncio.Event).
#pragma once

#include <coroutine>

#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"

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

  [[nodiscard]] bool is_set() const noexcept { return set_; }

  /// Sets the flag and wakes every waiting task (they resume in the order they started
  /// waiting). Does nothing if already set. In debug mode throws std::runtime_error when called
  /// from a thread other than the loop's while tasks wait (use call_soon_threadsafe).
  void set() {
    if (set_) {
      return;
    }
    if (!waiters_.empty()) {
      binding_.check_thread("event.set()");
    }
    set_ = true;
    waiters_.wake_all(detail::sync_waiter::state::granted);
  }

  /// Clears the flag: later wait()s block until the next set(). Tasks already woken by a set()
  /// still return from their wait.
  void clear() noexcept { set_ = false; }

  class wait_awaiter;

  /// `co_await ev.wait()`: returns at once if the flag is set (no suspension, no cancellation
  /// check), else waits until set() is called. Yields nothing. Throws std::logic_error outside
  /// a task and std::runtime_error for an event bound to another loop.
  ///
  /// Cancel safety: cancelled while waiting, the task leaves the waiters and throws
  /// cancelled_error; cancelled after set() woke it but before it ran, it also throws
  /// cancelled_error (as asyncio). Nothing is lost: the flag is not consumed.
  [[nodiscard]] inline wait_awaiter wait() noexcept;

 private:
  detail::sync_waiter_list waiters_;
  detail::sync_loop_binding binding_;
  bool set_ = false;
};

class [[nodiscard]] event::wait_awaiter : public detail::sync_waiter {
 public:
  explicit wait_awaiter(event& target) noexcept : event_(&target) {}

  bool await_ready() const noexcept { return event_->set_; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("event.wait()");
    event_->binding_.bind(*task_, "event.wait()");
    return suspend_in(event_->waiters_, awaiting);
  }

  void await_resume() {
    if (task_ != nullptr) {
      task_->end_wait(state_ == state::cancelled);
    }
  }

 private:
  event* event_;
};

inline event::wait_awaiter event::wait() noexcept { return wait_awaiter(*this); }

}  // namespace eddy
