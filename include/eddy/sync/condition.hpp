// eddy::condition: a condition variable for tasks (asyncio.Condition).
#pragma once

#include <coroutine>
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/detail/intrusive_list.hpp"
#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"
#include "eddy/sync/lock.hpp"

namespace eddy {

namespace detail {
/// A condition's wait awaiter as a member of the condition's notified list.
struct condition_notified_node {
  list_links<condition_notified_node> notified_links;
};
}  // namespace detail

/// A condition variable for tasks of one event loop (asyncio.Condition): tasks holding its lock
/// wait() until another task notify()s them. Uses its own lock, or shares an existing one.
/// Not thread-safe (as asyncio); debug mode reports use from another thread.
///
/// ```
/// eddy::condition cond;
/// {
///   auto held = co_await cond.scoped();                    // async with cond:
///   co_await cond.wait_for([&] { return !items.empty(); });
///   ...
/// }
/// ```
///
/// Ordering: notify(n) wakes the n longest waiters. A notified waiter joins the back of the
/// lock's queue at once, so it re-acquires the lock after the tasks already waiting for it and
/// before any task that starts waiting later.
///
/// Destroying a condition (or its lock) while tasks wait in it leaves them suspended until they
/// are cancelled. A task already notified and queued for a shared lock that outlives the
/// condition still gets that lock and returns; if it is cancelled meanwhile, its notification
/// has nobody left to go to.
class condition {
 public:
  using guard = detail::release_guard<condition>;

  /// A condition with its own lock.
  condition() noexcept : lock_(&own_lock_) {}
  /// A condition on `shared`, which must outlive it (asyncio.Condition(lock)).
  explicit condition(lock& shared) noexcept : lock_(&shared) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  inline ~condition();

  // --- the underlying lock (see eddy::lock) ----------------------------------------------
  [[nodiscard]] bool locked() const noexcept { return lock_->locked(); }
  /// Tasks waiting in wait() that no notify() has picked yet.
  [[nodiscard]] std::size_t waiter_count() const noexcept { return waiters_.size(); }
  [[nodiscard]] lock::acquire_awaiter acquire() noexcept { return lock_->acquire(); }
  [[nodiscard]] bool try_acquire() noexcept { return lock_->try_acquire(); }
  void release() { lock_->release(); }
  class scoped_awaiter;
  /// `auto held = co_await cond.scoped()`: acquires the lock; the guard releases it.
  [[nodiscard]] inline scoped_awaiter scoped() noexcept;

  class wait_awaiter;

  /// `co_await cond.wait()`: releases the lock, waits until notified, re-acquires the lock and
  /// returns. The caller must hold the lock: otherwise throws std::runtime_error
  /// ("condition.wait(): the lock is not acquired"). Always suspends. As with any condition
  /// variable, re-check the state after it returns (or use wait_for).
  ///
  /// Cancel safety: the lock is held again whenever wait() ends, normally or by
  /// cancelled_error: a cancelled waiter first queues for the lock, gets it, then throws. A
  /// notification that reached a waiter cancelled at the same moment is passed on to the next
  /// waiter, so no wake-up is lost. With a cancellation already pending, wait() throws at once
  /// without releasing the lock.
  [[nodiscard]] inline wait_awaiter wait();

  /// `co_await cond.wait_for(pred)`: waits until `pred()` is true and returns its final value;
  /// returns at once (no suspension) if it is already true. `pred` is called with the lock
  /// held, and kept by value in the coroutine frame. Same requirements and cancel safety as
  /// wait().
  template <class Predicate>
  [[nodiscard]] coro<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate);

  /// Wakes up to `n` of the tasks waiting in wait(), longest waiting first; each returns once
  /// it has re-acquired the lock (which the caller still holds). Throws std::runtime_error if
  /// the lock is not held ("condition.notify(): the lock is not acquired").
  void notify(std::size_t n = 1) {
    if (!lock_->locked()) {
      throw std::runtime_error("condition.notify(): the lock is not acquired");
    }
    notify_waiters(n, "condition.notify()");
  }

  /// Wakes every task waiting in wait(). Throws like notify().
  void notify_all() {
    if (!lock_->locked()) {
      throw std::runtime_error("condition.notify_all(): the lock is not acquired");
    }
    notify_waiters(waiters_.size(), "condition.notify_all()");
  }

 private:
  inline void notify_waiters(std::size_t n, const char* what);

  lock own_lock_;
  lock* lock_;
  detail::sync_waiter_list waiters_;  ///< tasks in wait() that have not been notified yet
  /// Notified, not yet returned (see wait_awaiter).
  detail::intrusive_list<detail::condition_notified_node,
                         &detail::condition_notified_node::notified_links>
      notified_;
  detail::sync_loop_binding binding_;
};

/// The awaiter of wait(). It moves through two lists: the condition's waiters, then (once
/// notified or cancelled) the lock's queue; it is woken only when it holds the lock again.
class [[nodiscard]] condition::wait_awaiter : public detail::sync_waiter,
                                              public detail::condition_notified_node {
 public:
  explicit wait_awaiter(condition& target) : condition_(&target) {}
  /// Before it is awaited only (as every sync awaiter): the new one starts unlinked.
  wait_awaiter(wait_awaiter&& other) noexcept
      : detail::sync_waiter(), detail::condition_notified_node(), condition_(other.condition_) {}
  wait_awaiter& operator=(wait_awaiter&&) = delete;
  ~wait_awaiter() { leave_notified(); }

  bool await_ready() const {
    if (!condition_->lock_->locked()) {
      throw std::runtime_error("condition.wait(): the lock is not acquired");
    }
    return false;
  }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("condition.wait()");
    condition_->binding_.bind(*task_, "condition.wait()");
    condition_->lock_->binding_.bind(*task_, "condition.wait()");
    if (!suspend_in(condition_->waiters_, awaiting)) {
      return false;  // a pending cancellation: throw at once, the lock still held
    }
    condition_->lock_->pass_on("condition.wait()");
    return true;
  }

  void await_resume() {
    const bool pass_on = state_ == state::granted && notified_ && task_->cancel_pending();
    leave_notified();
    if (pass_on && condition_ != nullptr) {
      // Notified, but cancelled before returning: hand the notification to someone else.
      condition_->notify_waiters(1, "condition.wait()");
    }
    task_->end_wait(state_ == state::cancelled);
  }

 private:
  friend class condition;

  // A notified waiter sits in the lock's queue, where the condition cannot see it, until it
  // returns; but it may then still need the condition (to pass its notification on). So the
  // condition also keeps its notified waiters in a list of their own, and its destructor tells
  // them it is gone (condition_ = nullptr) instead of leaving them a dangling pointer.
  void join_notified() noexcept {
    condition_->notified_.push_back(*this);
    in_notified_ = true;
  }

  void leave_notified() noexcept {
    if (!in_notified_) {
      return;
    }
    in_notified_ = false;
    if (condition_ == nullptr) {
      return;  // the condition is gone, and took its list with it
    }
    condition_->notified_.remove(*this);
  }

  /// Moves a waiter from the condition's list to the lock's queue (or hands it the lock if it
  /// is free). The task stays suspended until it holds the lock.
  void queue_for_lock() noexcept {
    lock& target = *condition_->lock_;
    condition_->waiters_.remove(*this);
    if (target.try_acquire()) {
      wake_with(state::granted);
    } else {
      target.waiters_.push_back(*this);
    }
  }

  /// Cancelled before notified: queue for the lock and deliver the cancellation once it is held
  /// (returning false leaves it pending on the task). Cancelled while queued for the lock: the
  /// same. Only the death of the condition or lock ends the wait without the lock.
  bool cancel_wait(detail::task_base& waiter) noexcept override {
    if (orphaned_) {
      return cancel_orphan(waiter);
    }
    if (state_ == state::waiting && !notified_ && !reacquiring_) {
      reacquiring_ = true;
      queue_for_lock();
    }
    return false;
  }

  condition* condition_;      ///< null once the condition is destroyed (see join_notified)
  bool in_notified_ = false;  ///< linked into the condition's notified waiters
  bool notified_ = false;     ///< notify() picked this waiter
  bool reacquiring_ = false;  ///< in the lock's queue (notified or cancelled)
};

class [[nodiscard]] condition::scoped_awaiter : public lock::acquire_awaiter {
 public:
  explicit scoped_awaiter(condition& target) noexcept
      : lock::acquire_awaiter(*target.lock_), condition_(&target) {}

  guard await_resume() {
    lock::acquire_awaiter::await_resume();
    return guard(*condition_);
  }

 private:
  condition* condition_;
};

inline condition::~condition() {
  for (detail::condition_notified_node* node = notified_.front(); node != nullptr;) {
    detail::condition_notified_node* next = notified_.next(*node);
    node->notified_links = {};
    static_cast<wait_awaiter*>(node)->condition_ = nullptr;
    node = next;
  }
}

inline condition::scoped_awaiter condition::scoped() noexcept { return scoped_awaiter(*this); }
inline condition::wait_awaiter condition::wait() { return wait_awaiter(*this); }

template <class Predicate>
coro<std::decay_t<std::invoke_result_t<Predicate&>>> condition::wait_for(Predicate predicate) {
  auto result = predicate();
  while (!result) {
    co_await wait();
    result = predicate();
  }
  co_return result;
}

inline void condition::notify_waiters(std::size_t n, const char* what) {
  if (n == 0 || waiters_.empty()) {
    return;
  }
  binding_.check_thread(what);
  while (n > 0 && !waiters_.empty()) {
    auto& waiter = static_cast<wait_awaiter&>(waiters_.front());
    waiter.notified_ = true;
    waiter.reacquiring_ = true;
    waiter.join_notified();
    waiter.queue_for_lock();
    --n;
  }
}

}  // namespace eddy
