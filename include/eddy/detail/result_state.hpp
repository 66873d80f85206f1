// Typed result storage shared by futures and tasks, and the awaiter that waits on either.
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

/// Storage for a value whose presence the owner tracks (a future's status says "finished"),
/// so it costs no engaged flag. The owner calls destroy() exactly once if it emplaced.
template <class T>
class result_slot {
 public:
  result_slot() noexcept {}
  result_slot(const result_slot&) = delete;
  result_slot& operator=(const result_slot&) = delete;
  ~result_slot() {}

  template <class... Args>
  void emplace(Args&&... args) {
    std::construct_at(&value_, std::forward<Args>(args)...);
  }
  T& get() noexcept { return value_; }
  void destroy() noexcept { std::destroy_at(&value_); }

 private:
  union {
    T value_;
  };
};

/// Whether a finished owner must call destroy() at all (a compile-time answer spares a test of
/// the owner's status on every destruction).
template <class T>
inline constexpr bool result_needs_destroy = !std::is_void_v<T> && !std::is_trivially_destructible_v<T>;

template <>
class result_slot<void> {
 public:
  void emplace() noexcept {}
  void get() noexcept {}
  void destroy() noexcept {}
};

/// The awaiter for `co_await future` and `co_await task`. State is future_state<T> or
/// task_state<T>; with MoveResult the value is moved out (awaiting an rvalue handle).
///
/// Done already: yields at once, no suspension (as asyncio). Otherwise the awaiting task waits
/// for completion; if it is cancelled meanwhile, the awaited future/task is cancelled with the
/// same message (asyncio's fut_waiter.cancel()), and the await then yields whatever that
/// future/task ends with: a task that swallows its cancellation still delivers its value.
template <class State, bool MoveResult>
class join_awaiter final : wait_base, done_link {
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

  bool await_ready() const {
    if (!state_) {
      throw invalid_state_error("co_await on an empty task or future handle");
    }
    return state_->done();
  }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    waiter_ = &task_base::running("co_await on a task or future");
    if (static_cast<future_base*>(waiter_) == static_cast<future_base*>(state_.get())) {
      throw std::logic_error("a task cannot await itself (" + waiter_->get_name() + ")");
    }
    if (!waiter_->begin_wait(awaiting, this)) {
      return false;
    }
    on_done = &woken;
    state_->add_done_link(*this);
    return true;
  }

  result_type await_resume() {
    if (waiter_ != nullptr) {
      waiter_->end_wait(false);
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
    static_cast<join_awaiter&>(link).waiter_->wake();
  }

  bool cancel_wait(task_base& waiter) noexcept override {
    try {
      return state_->cancel(waiter.cancel_message());
    } catch (...) {  // only a failed string copy can get here
      return state_->cancel(std::string());
    }
  }

  state_ref<State> state_;
  task_base* waiter_ = nullptr;
};

/// A done callback added by the user: scheduled on the ready queue when the future completes
/// (asyncio runs done callbacks with call_soon, never inside set_result).
class user_done_callback : public done_link, public ready_node, public recycled {
 public:
  user_done_callback(const user_done_callback&) = delete;
  user_done_callback& operator=(const user_done_callback&) = delete;
  virtual ~user_done_callback() { release_context(context_); }

  /// Links a new callback to `state`, or schedules it at once if state is done.
  static std::uintptr_t attach(future_base& state, user_done_callback* callback) noexcept {
    callback->loop_of_callback_ = &state.loop();
    if (state.done()) {
      state.loop().schedule(*callback);
    } else {
      state.add_done_link(*callback);
    }
    return reinterpret_cast<std::uintptr_t>(static_cast<done_link*>(callback));
  }

  /// Removes a callback that has not been scheduled yet; returns how many were removed (0/1).
  static std::size_t detach(future_base& state, std::uintptr_t id) noexcept {
    auto* link = reinterpret_cast<done_link*>(id);
    if (id == 0 || !state.has_done_link(*link)) {
      return 0;
    }
    state.remove_done_link(*link);
    delete static_cast<user_done_callback*>(link);
    return 1;
  }

 protected:
  /// Throws std::bad_alloc if the current context cannot be copied.
  user_done_callback() : context_(capture_context()) {
    on_done = [](done_link& link, future_base& state) noexcept {
      state.loop().schedule(static_cast<user_done_callback&>(link));
    };
    run = [](ready_node& node) noexcept {
      auto& self = static_cast<user_done_callback&>(node);
      self.invoke_and_report();
      delete &self;
    };
  }

  virtual void invoke() = 0;
  virtual std::string owner_name() const = 0;

 private:
  void invoke_and_report() noexcept;

  loop_core* loop_of_callback_ = nullptr;
  /// The context add_done_callback was called in (a copy; null: empty): the callback runs
  /// there, as asyncio's done callbacks do.
  context_cell* context_;
};

template <class Handle, class Callback>
class typed_done_callback final : public user_done_callback {
 public:
  typed_done_callback(Handle handle, Callback callback)
      : handle_(std::move(handle)), callback_(std::move(callback)) {}

 private:
  void invoke() override {
    if constexpr (std::is_invocable_v<Callback&, Handle&>) {
      std::invoke(callback_, handle_);
    } else {
      std::invoke(callback_);
    }
  }
  std::string owner_name() const override { return handle_.state()->describe(); }

  Handle handle_;
  Callback callback_;
};

}  // namespace eddy::detail
