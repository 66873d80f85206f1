// The clock and sleep().
#pragma once

#include <chrono>
#include <coroutine>
#include <type_traits>
#include <utility>

#include "eddy/detail/clock.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy {

namespace detail {

/// The awaiter of sleep(): a timer node in the sleeping task's frame (no allocation).
class [[nodiscard]] sleep_awaiter final : timer_node, wait_base {
 public:
  /// Until the sleep starts, `deadline` holds the delay (one field fewer per sleeping task).
  explicit sleep_awaiter(clock::duration delay) noexcept { deadline = clock::time_point(delay); }
  /// Movable until awaited (so a sleep can be handed to gather or wait_for); never after.
  sleep_awaiter(sleep_awaiter&& other) noexcept : timer_node(), wait_base() {
    deadline = other.deadline;
  }
  sleep_awaiter& operator=(sleep_awaiter&&) = delete;
  ~sleep_awaiter() {
    if (task_ != nullptr) {
      task_->loop().remove_timer(*this);
    }
  }

  bool await_ready() const noexcept { return false; }

  [[nodiscard]] std::string describe_wait() const override { return "sleep"; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("sleep()");
    if (deadline.time_since_epoch() <= clock::duration::zero()) {
      // A bare yield: back of the ready queue. Not interruptible (the task is already queued),
      // so a cancel arriving now is delivered when it resumes.
      if (!task_->begin_wait(awaiting, nullptr)) {
        return false;
      }
      task_->wake();
      return true;
    }
    return start_timer(awaiting);
  }

  void await_resume() { task_->end_wait(cancelled_); }

 private:
  /// The timed sleep's half of await_suspend, out of line so that a yield stays small.
  [[gnu::noinline]] bool start_timer(std::coroutine_handle<> awaiting) {
    if (!task_->begin_wait(awaiting, this)) {
      return false;
    }
    deadline = task_->loop().now() + deadline.time_since_epoch();
    fire = &expired;
    task_->loop().add_timer(*this);
    return true;
  }

  static void expired(timer_node& node) noexcept {
    static_cast<sleep_awaiter&>(node).task_->wake();
  }

  bool cancel_wait(task_base& waiter) noexcept override {
    if (!queued()) {
      return false;
    }
    waiter.loop().remove_timer(*this);
    cancelled_ = true;
    waiter.wake();
    return true;
  }

  task_base* task_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace detail

/// Suspends the calling task for `delay` (asyncio.sleep): any std::chrono duration, `0.5s`
/// and `1.5min` included, rounded up to the clock's nanoseconds. A delay of zero or less
/// yields: the task goes to the back of the ready queue and resumes in the next loop
/// iteration. Throws std::invalid_argument for a NaN floating-point delay.
///
/// Cancel safety: cancelling the sleeping task ends the sleep at once with cancelled_error;
/// nothing is lost.
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept(
    !std::chrono::treat_as_floating_point_v<Rep>) {
  return detail::sleep_awaiter(detail::to_clock_duration(delay));
}

/// sleep() for a plain number of seconds, as asyncio writes it: `co_await eddy::sleep(0.5);`.
/// Throws std::invalid_argument for NaN.
template <class Number>
  requires std::is_arithmetic_v<Number> && (!std::is_same_v<Number, bool>)
[[nodiscard]] detail::sleep_awaiter sleep(Number seconds) noexcept(std::is_integral_v<Number>) {
  if constexpr (std::is_integral_v<Number>) {
    return sleep(std::chrono::duration<long double>(static_cast<long double>(seconds)));
  } else {
    return sleep(std::chrono::duration<double>(seconds));
  }
}

}  // namespace eddy
