// join_awaiter: what `co_await future` and `co_await task` wait with.
#pragma once

#include <coroutine>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

/// The awaiter for `co_await future` and `co_await task`. State is future_state<T> or
/// task_state<T>; with MoveResult the value is moved out (awaiting an rvalue handle).
///
/// Done already: yields at once, no suspension (as asyncio). Otherwise the awaiting task waits
/// for completion; if it is cancelled meanwhile, the awaited future/task is cancelled with the
/// same message (asyncio's fut_waiter.cancel()), and the await then yields whatever that
/// future/task ends with: a task that swallows its cancellation still delivers its value.
template <class State, bool MoveResult>
class join_awaiter final : wait_base, task_link {
  using value_type = typename State::value_type;
  using result_type = std::conditional_t<MoveResult || std::is_void_v<value_type>, value_type,
                                         std::add_lvalue_reference_t<value_type>>;

 public:
  /// Holds a reference: the awaited future or task stays alive while a task waits for it, even
  /// if every other handle is dropped (asyncio's waiting task refers to it too).
  explicit join_awaiter(State* state) noexcept : state_(state) {}
  /// Takes the handle's own reference (awaiting an rvalue handle, which is left empty).
  explicit join_awaiter(state_ref<State>&& state) noexcept : state_(std::move(state)) {}
  join_awaiter(const join_awaiter&) = delete;
  join_awaiter& operator=(const join_awaiter&) = delete;
  ~join_awaiter() {
    if (state_) {
      state_->remove_done_link(*this);
    }
  }

  [[nodiscard]] std::string describe_wait() const override {
    return state_->is_task() ? "task '" + state_->describe() + "'" : "future";
  }

  bool await_ready() const {
    if (!state_) {
      throw invalid_state_error("co_await on an empty task or future handle");
    }
    return state_->done();
  }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    waiter = &task_base::running("co_await on a task or future");
    if (static_cast<future_base*>(waiter) == static_cast<future_base*>(state_.get())) {
      throw std::logic_error("a task cannot await itself (" + waiter->get_name() + ")");
    }
    if (!waiter->begin_wait(awaiting, this)) {
      return false;
    }
    on_done = &woken;
    state_->add_done_link(*this);
    return true;
  }

  result_type await_resume() {
    if (waiter != nullptr) {
      if (waiter->cancel_pending() && state_->done()) [[unlikely]] {
        // The cancellation wins, but the outcome was delivered: asyncio's Task.__wakeup reads
        // future.result() before it throws CancelledError in, so the exception counts as seen.
        state_->mark_exception_retrieved();
      }
      waiter->end_wait(false);
    }
    state_->rethrow_if_unsuccessful("co_await");
    if constexpr (MoveResult && !std::is_void_v<value_type>) {
      return std::move(state_->value());
    } else {
      return state_->value();
    }
  }

 private:
  static void woken(done_link& link, future_base&) noexcept {
    static_cast<join_awaiter&>(link).waiter->wake();
  }

  bool cancel_wait(task_base& waiter) noexcept override {
    try {
      return state_->cancel(waiter.cancel_message());
    } catch (...) {  // only a failed string copy can get here
      return state_->cancel(std::string());
    }
  }

  state_ref<State> state_;
};

}  // namespace eddy::detail
