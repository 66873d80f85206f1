// eddy::lock: a mutual exclusion lock for tasks (asyncio.Lock).
#pragma once

#include <coroutine>
#include <cstddef>
#include <stdexcept>

#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy {

class condition;

/// A lock for tasks of one event loop (asyncio.Lock). Not owned by a task: any task may release
/// it. Not thread-safe (as asyncio); debug mode reports use from another thread.
///
/// ```
/// eddy::lock lk;
/// {
///   auto held = co_await lk.scoped();   // async with lock:
///   ...                                 // released when `held` goes out of scope
/// }
/// ```
///
/// Fairness: waiters are served strictly first come, first served. release() hands the lock
/// directly to the longest waiter, so locked() stays true and no other task can slip in before
/// that waiter runs.
///
/// Destroying a lock while tasks wait in it leaves them suspended until they are cancelled
/// (their await then throws cancelled_error without touching the dead lock).
class lock {
 public:
  /// What scoped() yields: releases the lock when destroyed.
  using guard = detail::release_guard<lock>;

  lock() noexcept = default;
  lock(const lock&) = delete;
  lock& operator=(const lock&) = delete;

  /// Whether the lock is held (or has been handed to a waiter that has not resumed yet).
  [[nodiscard]] bool locked() const noexcept { return locked_; }
  /// Tasks waiting in acquire() (asyncio's len(lock._waiters), shown in its repr).
  [[nodiscard]] std::size_t waiter_count() const noexcept { return waiters_.size(); }

  /// Takes the lock if it is free, without waiting. Returns whether it did. (An eddy addition;
  /// asyncio has none.)
  [[nodiscard]] bool try_acquire() noexcept {
    if (locked_) {
      return false;
    }
    locked_ = true;
    return true;
  }

  /// Releases the lock. If tasks are waiting, the longest waiter now holds it and is scheduled
  /// to resume. Throws std::runtime_error if the lock is not held ("lock.release(): the lock is
  /// not acquired"), and, in debug mode, when called from a thread other than the loop's.
  void release() {
    if (!locked_) {
      throw std::runtime_error("lock.release(): the lock is not acquired");
    }
    pass_on("lock.release()");
  }

  class acquire_awaiter;
  class scoped_awaiter;

  /// `co_await lk.acquire()`: takes the lock, waiting for it if it is held.
  ///
  /// A free lock is taken at once: no suspension, no loop iteration and no cancellation check
  /// (as asyncio). Otherwise the task waits at the back of the queue; release() resumes it
  /// through the loop, holding the lock. Yields nothing. Throws std::logic_error outside a task
  /// and std::runtime_error for a lock bound to another loop.
  ///
  /// Cancel safety: cancelled while waiting, the task leaves the queue and never holds the
  /// lock. Cancelled just after the lock was handed to it (before it ran), it passes the lock
  /// on to the next waiter (or frees it) and throws cancelled_error: the lock is never lost
  /// (CPython's rule).
  [[nodiscard]] inline acquire_awaiter acquire() noexcept;

  /// `auto held = co_await lk.scoped()`: acquire(), yielding a guard that releases on scope
  /// exit. Same waiting and cancel safety as acquire().
  [[nodiscard]] inline scoped_awaiter scoped() noexcept;

 private:
  friend class condition;

  /// The lock is being given up (release, or a cancelled waiter that was handed it): the
  /// longest waiter gets it, or it becomes free.
  void pass_on(const char* what) {
    if (waiters_.empty()) {
      locked_ = false;
      return;
    }
    binding_.check_thread(what);
    waiters_.front().wake_with(detail::sync_waiter::state::granted);
  }

  /// Invariant: waiters_ is non-empty only while locked_ (release hands over directly).
  detail::sync_waiter_list waiters_;
  detail::sync_loop_binding binding_;
  bool locked_ = false;
};

class [[nodiscard]] lock::acquire_awaiter : public detail::sync_waiter {
 public:
  explicit acquire_awaiter(lock& target) noexcept : lock_(&target) {}

  /// Side-effect free (the lock is taken in await_resume), so a compiler that evaluates it
  /// more than once cannot take the lock twice.
  bool await_ready() const noexcept { return !lock_->locked_; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("lock.acquire()");
    lock_->binding_.bind(*task_, "lock.acquire()");
    return suspend_in(lock_->waiters_, awaiting);
  }

  void await_resume() {
    if (task_ == nullptr) {
      lock_->locked_ = true;  // free in await_ready, and nothing ran since
      return;
    }
    if (state_ == state::granted && task_->cancel_pending()) {
      lock_->pass_on("lock.acquire()");  // handed the lock, but cancelled before running
    }
    task_->end_wait(state_ == state::cancelled);
  }

 protected:
  lock* lock_;
};

class [[nodiscard]] lock::scoped_awaiter : public lock::acquire_awaiter {
 public:
  using acquire_awaiter::acquire_awaiter;

  guard await_resume() {
    acquire_awaiter::await_resume();
    return guard(*lock_);
  }
};

inline lock::acquire_awaiter lock::acquire() noexcept { return acquire_awaiter(*this); }
inline lock::scoped_awaiter lock::scoped() noexcept { return scoped_awaiter(*this); }

}  // namespace eddy
