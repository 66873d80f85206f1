// Waiting on the loop for a call run on a worker: to_thread's awaiter, run_in_executor's future,
// and start_in_executor. The call itself is worker_call.hpp; the way back, loop_mailbox.hpp.
// Users never name anything here; see eddy/thread.hpp.
#pragma once

#include <coroutine>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/task_base.hpp"
#include "eddy/detail/worker_call.hpp"
#include "eddy/errors.hpp"
#include "eddy/future.hpp"

namespace eddy {
class thread_pool_executor;
}

namespace eddy::detail {

// --- waiting for a call on the loop -------------------------------------------------------

/// What `co_await to_thread(f, args...)` awaits. Lazy, like a coroutine: the call is made
/// when the awaiter suspends, so an awaiter that is never awaited runs nothing. Movable until
/// awaited (so it can be handed to gather or wait_for).
///
/// Cancel safety: cancelling the awaiting task ends the await at once with cancelled_error.
/// A call still queued never runs; a call already running finishes on its thread and its
/// result (or exception) is destroyed when it arrives.
template <class R>
class [[nodiscard]] to_thread_awaiter final : wait_base {
 public:
  to_thread_awaiter(worker_call<R>* call, thread_pool_executor* executor) noexcept
      : call_(call), executor_(executor) {}
  to_thread_awaiter(to_thread_awaiter&& other) noexcept
      : wait_base(), call_(std::exchange(other.call_, nullptr)), executor_(other.executor_) {}
  to_thread_awaiter& operator=(to_thread_awaiter&&) = delete;

  [[nodiscard]] std::string describe_wait() const override { return "to_thread call"; }
  ~to_thread_awaiter() {
    if (call_ != nullptr) {
      call_->abandon();
    }
  }

  bool await_ready() const {
    if (call_ == nullptr) {
      throw invalid_state_error("to_thread: this awaitable was moved from");
    }
    return false;
  }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("to_thread()");
    if (!task_->begin_wait(awaiting, this)) {
      return false;  // a cancellation is pending: nothing runs, await_resume throws it
    }
    try {
      call_->run_in(capture_context());
      call_->watch(this, &finished);
      call_->start(task_->loop(), executor_);
    } catch (...) {
      task_->end_wait_keep_result();
      start_error_ = std::current_exception();
      return false;
    }
    return true;
  }

  R await_resume() {
    task_->end_wait(cancelled_);
    if (start_error_) {
      std::rethrow_exception(start_error_);
    }
    return call_->take_result();
  }

 private:
  static void finished(void* owner, worker_call_base&) noexcept {
    static_cast<to_thread_awaiter*>(owner)->task_->wake();
  }

  bool cancel_wait(task_base& waiter) noexcept override {
    call_->stop_watching();
    cancelled_ = true;
    waiter.wake();
    return true;
  }

  worker_call<R>* call_;
  thread_pool_executor* executor_;  ///< null: the loop's default executor
  task_base* task_ = nullptr;
  std::exception_ptr start_error_;
  bool cancelled_ = false;
};

/// The future run_in_executor returns: settled from the call's outcome on the loop thread.
/// Cancelling it (directly, or by cancelling a task that awaits it) cancels a call that has
/// not started; a running call finishes on its thread and its outcome is dropped.
template <class R>
class executor_future_state final : public future_state<R> {
 public:
  executor_future_state(loop_core& loop, worker_call<R>* call) noexcept
      : future_state<R>(loop), call_(call) {
    call_->watch(this, &finished);
  }
  ~executor_future_state() override {
    if (call_ != nullptr) {
      call_->abandon();
    }
  }

  bool cancel(std::string message) override {
    if (!future_state<R>::cancel(std::move(message))) {
      return false;
    }
    if (call_ != nullptr) {
      std::exchange(call_, nullptr)->abandon();
    }
    return true;
  }

 private:
  static void finished(void* owner, worker_call_base&) noexcept {
    auto& self = *static_cast<executor_future_state*>(owner);
    worker_call<R>* call = std::exchange(self.call_, nullptr);
    self.settle_from(*call);
    call->abandon();
  }

  void settle_from(worker_call<R>& call) noexcept {
    try {
      if (call.discarded()) {
        future_state<R>::cancel("the executor was shut down before the call started");
      } else if (call.exception()) {
        this->set_exception(call.exception());
      } else if constexpr (std::is_void_v<R>) {
        this->set_result();
      } else {
        this->set_result(std::move(call.value()));
      }
    } catch (...) {
      // The value's move constructor threw (or the future was already settled by hand).
      if (!this->done()) {
        try {
          this->set_exception(std::current_exception());
        } catch (...) {
          future_state<R>::cancel({});
        }
      }
    }
  }

  worker_call<R>* call_;  ///< null once settled or cancelled
};

/// run_in_executor's body (event_loop::run_in_executor and eddy::run_in_executor).
template <class Function, class... Args>
future<thread_result_t<Function, Args...>> start_in_executor(loop_core& loop,
                                                             thread_pool_executor* executor,
                                                             Function&& function, Args&&... args) {
  using result_type = thread_result_t<Function, Args...>;
  loop.check_usable("run_in_executor");
  auto* call = new worker_call_for<Function, Args...>(std::forward<Function>(function),
                                                      std::forward<Args>(args)...);
  executor_future_state<result_type>* state = nullptr;
  try {
    state = new executor_future_state<result_type>(loop, call);
  } catch (...) {
    call->abandon();
    throw;
  }
  future<result_type> result(state_ref<future_state<result_type>>::adopt(state));
  call->start(loop, executor);  // throws: `result` goes, and with it the unstarted call
  return result;
}

}  // namespace eddy::detail
