// A flag that tasks wait for: the mechanism under eddy::event (sync/event.hpp), and under
// what the lower layers wait for (a child process's exit), which cannot include a feature
// header.
#pragma once

#include <coroutine>
#include <cstddef>

#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

/// See eddy::event for the semantics, cancel safety and errors.
class event_state {
 public:
  event_state() noexcept = default;
  event_state(const event_state&) = delete;
  event_state& operator=(const event_state&) = delete;

  [[nodiscard]] bool is_set() const noexcept { return set_; }
  [[nodiscard]] std::size_t waiter_count() const noexcept { return waiters_.size(); }

  void set() {
    if (set_) {
      return;
    }
    if (!waiters_.empty()) {
      binding_.check_thread("event.set()");
    }
    set_ = true;
    waiters_.wake_all(sync_waiter::state::granted);
  }

  void clear() noexcept { set_ = false; }

  class [[nodiscard]] wait_awaiter : public sync_waiter {
   public:
    explicit wait_awaiter(event_state& target) noexcept : event_(&target) {}

    bool await_ready() const noexcept { return event_->set_; }

    bool await_suspend(std::coroutine_handle<> awaiting) {
      task_ = &task_base::running("event.wait()");
      event_->binding_.bind(*task_, "event.wait()");
      return suspend_in(event_->waiters_, awaiting);
    }

    void await_resume() {
      if (task_ != nullptr) {
        task_->end_wait(state_ == state::cancelled);
      }
    }

   private:
    event_state* event_;
  };

  [[nodiscard]] wait_awaiter wait() noexcept { return wait_awaiter(*this); }

 private:
  sync_waiter_list waiters_;
  sync_loop_binding binding_;
  bool set_ = false;
};

}  // namespace eddy::detail
