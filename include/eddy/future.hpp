// eddy::future<T>: a result that will be set later (asyncio.Future).
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/detail/done_callback.hpp"
#include "eddy/detail/join_awaiter.hpp"
#include "eddy/detail/result_slot.hpp"

namespace eddy {

class event_loop;

namespace detail {

template <class T>
class future_state : public future_base {
 public:
  using value_type = T;

  explicit future_state(loop_core& loop) noexcept : future_base(loop, false) {}
  ~future_state() override {
    if (state() == status::finished) {
      result_.destroy();
    }
  }

  template <class... Args>
  void set_result(Args&&... args) {
    require_pending("set_result");
    result_.emplace(std::forward<Args>(args)...);
    complete(status::finished);
  }

  decltype(auto) value() noexcept { return result_.get(); }

 private:
  result_slot<T> result_;
};

/// The loop a new future belongs to: the running one (throws if there is none).
loop_core& loop_for_new_future();

}  // namespace detail

/// A result that someone will set later; awaitable by any number of tasks (asyncio.Future).
///
/// A handle: copies share one state. Belongs to one loop and is used on that loop's thread
/// only, like everything in asyncio: its reference count is not atomic, so do not copy,
/// destroy or touch a handle on another thread (to set a result from another thread, post a
/// callback with call_soon_threadsafe that refers to a handle the loop thread owns).
/// Supports void and move-only T.
///
/// Cancel safety: a task awaiting a future that is cancelled while it waits cancels the
/// future (as asyncio does) and its await throws cancelled_error.
template <class T = void>
class future {
 public:
  using value_type = T;
  using state_type = detail::future_state<T>;

  /// A pending future on the running loop (asyncio.Future()). Throws std::runtime_error when
  /// no loop is running on this thread.
  future() : future(detail::loop_for_new_future()) {}
  /// A pending future on `loop` (loop.create_future()).
  explicit future(event_loop& loop) : future(detail::core_of(loop)) {}
  /// A pending future on a loop's core (the library's spelling).
  explicit future(detail::loop_core& loop)
      : state_(detail::state_ref<state_type>::adopt(new state_type(loop))) {}
  /// Wraps an existing state (used by gather, shield...).
  explicit future(detail::state_ref<state_type> state) noexcept : state_(std::move(state)) {}

  /// Sets the result and wakes every waiter. Throws invalid_state_error if already done.
  template <class... Args>
  void set_result(Args&&... args) {
    live()->set_result(std::forward<Args>(args)...);
  }
  /// Fails the future. Throws invalid_state_error if already done.
  void set_exception(std::exception_ptr exception) { live()->set_exception(std::move(exception)); }
  template <class Exception>
  void set_exception(Exception&& exception) {
    set_exception(std::make_exception_ptr(std::forward<Exception>(exception)));
  }
  /// Cancels a pending future; returns false if it was already done.
  bool cancel(std::string message = {}) { return live()->cancel(std::move(message)); }

  [[nodiscard]] bool done() const { return live()->done(); }
  [[nodiscard]] bool cancelled() const { return live()->cancelled(); }

  /// The value (a reference into the shared state). Throws invalid_state_error while pending,
  /// cancelled_error if cancelled, the stored exception if failed.
  decltype(auto) result() {
    live()->rethrow_if_unsuccessful("result()");
    return live()->value();
  }
  /// The stored exception, or null on success. Throws invalid_state_error while pending and
  /// cancelled_error if cancelled.
  [[nodiscard]] std::exception_ptr exception() { return live()->exception(); }

  /// Calls `callback(future&)` (or `callback()`) through the loop once the future is done.
  /// Returns an id for remove_done_callback.
  template <class Callback>
  std::uintptr_t add_done_callback(Callback callback) {
    return detail::user_done_callback::attach(
        *live(), new detail::typed_done_callback<future, Callback>(*this, std::move(callback)));
  }
  /// Removes a callback that has not been scheduled yet. Returns the number removed (0 or 1).
  std::size_t remove_done_callback(std::uintptr_t id) {
    return detail::user_done_callback::detach(*live(), id);
  }

  /// Waits for the result; an lvalue future yields a reference, an rvalue one moves it out.
  /// (and the handle it was awaited through is left empty, as a moved-from handle).
  auto operator co_await() & noexcept {
    return detail::join_awaiter<state_type, false>(state_.get());
  }
  auto operator co_await() && noexcept {
    return detail::join_awaiter<state_type, true>(std::move(state_));
  }

  [[nodiscard]] state_type* state() const noexcept { return state_.get(); }
  friend bool operator==(const future& a, const future& b) noexcept { return a.state_ == b.state_; }

 private:
  state_type* live() const { return detail::require_state(state_.get()); }

  detail::state_ref<state_type> state_;
};

}  // namespace eddy
