// eddy::semaphore and eddy::bounded_semaphore: a counter of permits tasks wait for
// (asyncio.Semaphore, asyncio.BoundedSemaphore).
#pragma once

#include <coroutine>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy {

/// A semaphore for tasks of one event loop (asyncio.Semaphore): value() permits; acquire()
/// takes one, waiting while there are none; release() gives one back. Not thread-safe (as
/// asyncio); debug mode reports use from another thread.
///
/// ```
/// eddy::semaphore slots(5);
/// auto held = co_await slots.scoped();   // async with sem: at most 5 tasks in here
/// ```
///
/// Fairness: waiters are served first come, first served. release() hands the permit directly
/// to the longest waiter (value() stays 0), so a task arriving later cannot take it first.
///
/// Destroying a semaphore while tasks wait in it leaves them suspended until they are cancelled.
class semaphore {
 public:
  /// What scoped() yields: releases one permit when destroyed.
  using guard = detail::release_guard<semaphore>;

  /// Throws std::invalid_argument if `value` is negative.
  explicit semaphore(std::ptrdiff_t value = 1) : semaphore(value, "semaphore") {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Permits available now.
  [[nodiscard]] std::size_t value() const noexcept { return value_; }
  /// Whether acquire() would have to wait (no permit is available).
  [[nodiscard]] bool locked() const noexcept { return value_ == 0; }
  /// Tasks waiting in acquire() (asyncio's len(sem._waiters), shown in its repr).
  [[nodiscard]] std::size_t waiter_count() const noexcept { return waiters_.size(); }

  /// Takes a permit if one is available, without waiting. Returns whether it did. (An eddy
  /// addition; asyncio has none.)
  [[nodiscard]] bool try_acquire() noexcept {
    if (value_ == 0) {
      return false;
    }
    --value_;
    return true;
  }

  /// Gives a permit back: the longest waiter gets it and is scheduled, or value() grows by
  /// one. A bounded_semaphore throws std::logic_error when this would exceed its initial value.
  /// In debug mode throws std::runtime_error when called from a thread other than the loop's
  /// while tasks wait.
  void release() {
    if (value_ >= bound_) {
      throw std::logic_error("bounded_semaphore.release(): released too many times (the value " +
                             std::to_string(value_) + " is already the initial value " +
                             std::to_string(bound_) + ")");
    }
    pass_on("semaphore.release()");
  }

  class acquire_awaiter;
  class scoped_awaiter;

  /// `co_await sem.acquire()`: takes a permit, waiting for one if none is available.
  ///
  /// With a permit available it returns at once: no suspension, no cancellation check (as
  /// asyncio). Otherwise the task waits at the back of the queue until a release() hands it a
  /// permit. Yields nothing. Throws std::logic_error outside a task and std::runtime_error for
  /// a semaphore bound to another loop.
  ///
  /// Cancel safety: cancelled while waiting, the task leaves the queue without a permit.
  /// Cancelled just after a permit was handed to it (before it ran), it passes the permit on to
  /// the next waiter (or back to the count) and throws cancelled_error: no permit is lost.
  [[nodiscard]] inline acquire_awaiter acquire() noexcept;

  /// `auto held = co_await sem.scoped()`: acquire(), yielding a guard that releases the permit
  /// on scope exit. Same waiting and cancel safety as acquire().
  [[nodiscard]] inline scoped_awaiter scoped() noexcept;

 protected:
  semaphore(std::ptrdiff_t value, const char* kind) {
    if (value < 0) {
      throw std::invalid_argument(std::string(kind) + ": the initial value must be >= 0, got " +
                                  std::to_string(value));
    }
    value_ = static_cast<std::size_t>(value);
  }

  /// Unbounded unless a bounded_semaphore sets it to the initial value.
  std::size_t bound_ = std::numeric_limits<std::size_t>::max();

 private:
  /// A permit is being given back (release, or a cancelled waiter that was handed one).
  void pass_on(const char* what) {
    if (waiters_.empty()) {
      ++value_;
      return;
    }
    binding_.check_thread(what);
    waiters_.front().wake_with(detail::sync_waiter::state::granted);
  }

  /// Invariant: waiters_ is non-empty only while value_ == 0 (release hands over directly).
  detail::sync_waiter_list waiters_;
  detail::sync_loop_binding binding_;
  std::size_t value_ = 0;
};

/// A semaphore whose release() throws std::logic_error when it would raise the value above the
/// initial value (asyncio.BoundedSemaphore): catches releasing more than was acquired.
class bounded_semaphore : public semaphore {
 public:
  /// Throws std::invalid_argument if `value` is negative.
  explicit bounded_semaphore(std::ptrdiff_t value = 1) : semaphore(value, "bounded_semaphore") {
    bound_ = static_cast<std::size_t>(value);
  }
};

class [[nodiscard]] semaphore::acquire_awaiter : public detail::sync_waiter {
 public:
  explicit acquire_awaiter(semaphore& target) noexcept : semaphore_(&target) {}

  /// Side-effect free (the permit is taken in await_resume).
  bool await_ready() const noexcept { return semaphore_->value_ > 0; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("semaphore.acquire()");
    semaphore_->binding_.bind(*task_, "semaphore.acquire()");
    return suspend_in(semaphore_->waiters_, awaiting);
  }

  void await_resume() {
    if (task_ == nullptr) {
      --semaphore_->value_;  // available in await_ready, and nothing ran since
      return;
    }
    if (state_ == state::granted && task_->cancel_pending()) {
      semaphore_->pass_on("semaphore.acquire()");  // handed a permit, but cancelled first
    }
    task_->end_wait(state_ == state::cancelled);
  }

 protected:
  semaphore* semaphore_;
};

class [[nodiscard]] semaphore::scoped_awaiter : public semaphore::acquire_awaiter {
 public:
  using acquire_awaiter::acquire_awaiter;

  guard await_resume() {
    acquire_awaiter::await_resume();
    return guard(*semaphore_);
  }
};

inline semaphore::acquire_awaiter semaphore::acquire() noexcept { return acquire_awaiter(*this); }
inline semaphore::scoped_awaiter semaphore::scoped() noexcept { return scoped_awaiter(*this); }

}  // namespace eddy
