// eddy::barrier: a fixed number of tasks meet before any goes on (asyncio.Barrier).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy {

/// Thrown by barrier::wait() when the barrier is aborted or reset while the task waits, or is
/// broken when it arrives (asyncio.BrokenBarrierError, a RuntimeError).
class broken_barrier_error : public std::runtime_error {
 public:
  explicit broken_barrier_error(const std::string& what) : std::runtime_error(what) {}
};

/// What a barrier is doing (asyncio's _BarrierState, shown in its repr).
enum class barrier_state : std::uint8_t {
  filling,    ///< tasks arrive and wait for the last one
  draining,   ///< tripped: the round's tasks are leaving wait(); new arrivals wait for the drain
  resetting,  ///< reset() with tasks inside: they leave with broken_barrier_error
  broken,     ///< abort(): every wait() fails until reset()
};

/// A barrier for `parties` tasks of one event loop (asyncio.Barrier): each wait() blocks until
/// `parties` tasks are waiting, then all of them go on. Reusable: after the tasks of one round
/// have left wait() (the barrier "drains"), the next round fills. Not thread-safe (as asyncio).
///
/// ```
/// eddy::barrier meeting(3);
/// std::size_t index = co_await meeting.wait();   // 0, 1 or 2: arrival order
/// ```
///
/// Ordering: arrival indices count from 0 in arrival order among the tasks that trip the
/// barrier together (a waiter cancelled before the trip takes no index, so they stay distinct).
/// A task arriving while the previous round drains (or a reset completes) waits; when the last
/// task has left, such arrivals are admitted first come, first served, each when its turn in
/// the loop comes (as asyncio's, which re-checks the state when the woken waiter runs): so a
/// reset() or a new arrival by the task that left last is seen before them.
///
/// Destroying a barrier while tasks wait in it leaves them suspended until they are cancelled.
class barrier {
 public:
  /// Throws std::invalid_argument if `parties` is less than 1.
  explicit barrier(std::ptrdiff_t parties) {
    if (parties < 1) {
      throw std::invalid_argument("barrier: parties must be >= 1, got " + std::to_string(parties));
    }
    parties_ = static_cast<std::size_t>(parties);
  }
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  class wait_awaiter;

  /// `co_await b.wait()`: waits until `parties()` tasks wait, then yields this task's arrival
  /// index (0 .. parties-1). The last arrival does not suspend. A task arriving while the
  /// previous round drains or a reset completes waits for that first. Throws
  /// broken_barrier_error if the barrier is broken (on arrival), or is aborted or reset while
  /// the task waits; std::logic_error outside a task.
  ///
  /// Cancel safety: cancelled while waiting for the others, the task leaves (n_waiting() drops
  /// by one) and throws cancelled_error; the barrier is not broken. Cancelled after the barrier
  /// tripped but before it ran, it throws cancelled_error; the trip stands for the others.
  [[nodiscard]] inline wait_awaiter wait() noexcept;

  /// Returns the barrier to its empty state. Tasks waiting in it get broken_barrier_error; the
  /// barrier fills again once they have all left. Not a coroutine, unlike asyncio's `await
  /// barrier.reset()`: it never needs to wait.
  inline void reset();

  /// Breaks the barrier: tasks waiting in it, and every later wait(), get broken_barrier_error
  /// until reset(). Not a coroutine, unlike asyncio's `await barrier.abort()`.
  inline void abort();

  /// Tasks needed to trip the barrier.
  [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
  /// Tasks waiting in the filling round (0 while draining or resetting).
  [[nodiscard]] std::size_t n_waiting() const noexcept {
    return state_ == phase::filling ? count_ : 0;
  }
  [[nodiscard]] bool broken() const noexcept { return state_ == phase::broken; }
  /// What the barrier is doing now.
  [[nodiscard]] barrier_state state() const noexcept { return state_; }

 private:
  using phase = barrier_state;

  inline void arrive(wait_awaiter& arrival, bool suspended);
  inline void leave();
  inline void admit(wait_awaiter& arrival);

  detail::sync_waiter_list filling_;    ///< arrived, waiting for the trip
  detail::sync_waiter_list blocked_;    ///< arrived while draining or resetting; not counted yet
  detail::sync_waiter_list admitting_;  ///< unblocked by the drain's end; admitted when they run
  detail::sync_loop_binding binding_;
  std::size_t parties_ = 1;
  std::size_t count_ = 0;  ///< tasks inside wait(): counted arrivals that have not left
  phase state_ = phase::filling;
};

class [[nodiscard]] barrier::wait_awaiter : public detail::sync_waiter, private detail::ready_node {
 public:
  explicit wait_awaiter(barrier& target) noexcept : barrier_(&target) {}

  /// Ready (no suspension) when the barrier is broken or this arrival completes the round.
  /// Side-effect free: the arrival happens in await_suspend or await_resume.
  bool await_ready() const {
    barrier_->binding_.check_thread("barrier.wait()");
    return barrier_->state_ == phase::broken ||
           (barrier_->state_ == phase::filling && barrier_->count_ + 1 == barrier_->parties_);
  }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("barrier.wait()");
    barrier_->binding_.bind(*task_, "barrier.wait()");
    const bool filling = barrier_->state_ == phase::filling;
    if (!suspend_in(filling ? barrier_->filling_ : barrier_->blocked_, awaiting)) {
      return false;  // a pending cancellation: never arrived
    }
    if (filling) {  // not the last arrival (await_ready said so): wait for the trip
      ++barrier_->count_;
      counted_ = true;
    }
    return true;
  }

  std::size_t await_resume() {
    if (task_ == nullptr) {  // did not suspend: broken, or this arrival trips the barrier
      if (barrier_->state_ == phase::broken) {
        throw broken_barrier_error("barrier.wait(): the barrier is broken (aborted)");
      }
      barrier_->arrive(*this, false);
      leave();
      return index_;
    }
    if (state_ == state::cancelled) {
      task_->end_wait(true);  // cancel_wait has already left the barrier
    }
    // Tripped, but aborted or reset before this task ran: broken too (as asyncio, which checks
    // the state when the waiter runs).
    const bool broken_since =
        barrier_->state_ == phase::broken || barrier_->state_ == phase::resetting;
    leave();  // idle (refused by a pending cancel), granted or closed
    task_->end_wait(false);
    if (state_ != state::granted || broken_since) {
      throw broken_barrier_error("barrier.wait(): the barrier was aborted or reset while waiting");
    }
    return index_;
  }

 private:
  friend class barrier;

  void leave() {
    if (counted_) {
      counted_ = false;
      barrier_->leave();
    }
  }

  /// Unblocked by the end of a drain: the arrival is made when this node's turn in the loop
  /// comes, FIFO with the tasks woken before it (the task stays suspended meanwhile).
  void schedule_admission() noexcept {
    run = &run_admission;
    task_->loop().schedule(*this);
  }

  /// Nothing to do if the wait ended meanwhile (cancelled, or aborted: the task is queued
  /// after this node, so its frame is still there), the barrier is gone, or the loop closed.
  static void run_admission(detail::ready_node& node) noexcept {
    auto& self = static_cast<wait_awaiter&>(node);
    if (self.state_ != state::waiting || self.orphaned_ ||
        self.task_->loop().is_closed_for_callbacks()) {
      return;
    }
    self.barrier_->admit(self);
  }

  bool cancel_wait(detail::task_base& waiter) noexcept override {
    if (orphaned_) {
      return cancel_orphan(waiter);
    }
    if (state_ != state::waiting) {
      return false;
    }
    wake_with(state::cancelled);
    if (counted_) {  // left before the trip: the round needs one more arrival
      counted_ = false;
      --barrier_->count_;
    }
    return true;
  }

  barrier* barrier_;
  std::size_t index_ = 0;  ///< given at the trip
  bool counted_ = false;   ///< holds a place in count_
};

inline barrier::wait_awaiter barrier::wait() noexcept { return wait_awaiter(*this); }

/// An arrival in the filling phase: waits for the trip (`suspended`: it is already suspended,
/// admitted from blocked_) or is the trip. In the filling phase every counted task waits in
/// filling_, so count_ == filling_.size(). Indices are given at the trip, in arrival order, so
/// they stay distinct even when a waiter was cancelled meanwhile.
inline void barrier::arrive(wait_awaiter& arrival, bool suspended) {
  ++count_;
  arrival.counted_ = true;
  if (count_ < parties_) {
    if (suspended) {
      filling_.push_back(arrival);
    }
    return;
  }
  state_ = phase::draining;
  std::size_t index = 0;
  while (!filling_.empty()) {
    auto& waiter = static_cast<wait_awaiter&>(filling_.front());
    waiter.index_ = index++;
    waiter.wake_with(detail::sync_waiter::state::granted);
  }
  arrival.index_ = index;
  if (suspended) {
    arrival.wake_with(detail::sync_waiter::state::granted);
  }
}

/// A counted task leaves wait(). The last one out ends a drain or reset, and the tasks that
/// arrived meanwhile are unblocked in order: each arrives when its turn in the loop comes.
inline void barrier::leave() {
  if (--count_ != 0) {
    return;
  }
  if (state_ == phase::draining || state_ == phase::resetting) {
    state_ = phase::filling;
  }
  while (!blocked_.empty()) {
    auto& arrival = static_cast<wait_awaiter&>(blocked_.front());
    blocked_.remove(arrival);
    admitting_.push_back(arrival);
    arrival.schedule_admission();
  }
}

/// An unblocked task's turn: it arrives if the barrier fills, and waits for the next drain or
/// reset to end if another round tripped (or a reset began) since it was unblocked.
inline void barrier::admit(wait_awaiter& arrival) {
  admitting_.remove(arrival);
  if (state_ == phase::filling) {
    arrive(arrival, true);
  } else {
    blocked_.push_back(arrival);  // never broken here: abort() woke every unblocked task
  }
}

inline void barrier::reset() {
  binding_.check_thread("barrier.reset()");
  if (count_ > 0) {
    state_ = phase::resetting;
    filling_.wake_all(detail::sync_waiter::state::closed);
  } else {
    state_ = phase::filling;  // nobody inside, so nobody is blocked either
  }
}

inline void barrier::abort() {
  binding_.check_thread("barrier.abort()");
  state_ = phase::broken;
  filling_.wake_all(detail::sync_waiter::state::closed);
  blocked_.wake_all(detail::sync_waiter::state::closed);
  admitting_.wake_all(detail::sync_waiter::state::closed);
}

}  // namespace eddy
