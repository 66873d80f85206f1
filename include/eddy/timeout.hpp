// eddy::timeout, timeout_at, wait_for: deadlines for awaits (asyncio.timeout, asyncio.wait_for).
//
// Spelling. asyncio writes `async with asyncio.timeout(10): ...`; C++ has no `async with`
// (a destructor cannot await, and cannot turn the exception in flight into another). So the
// scope is a call that takes the body: `co_await eddy::timeout(10s, work())` for one awaitable,
// or `co_await eddy::timeout(10s, [&](eddy::timeout_scope& scope) -> eddy::coro<T> { ... })`
// for several awaits that share the deadline and may reschedule it. Leaving the body always
// runs the scope's exit logic, which is what makes nesting and the cancel/uncancel accounting
// right; it cannot be forgotten.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/detail/awaitable_child.hpp"
#include "eddy/detail/gcc12.hpp"
#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "eddy/task.hpp"
#include "eddy/wait.hpp"

namespace eddy {

namespace detail {
/// The key to timeout_scope's driving members, which eddy::timeout / timeout_at alone use: a
/// detail type keeps them out of the public API (the passkey idiom).
struct timeout_scope_key {
  explicit timeout_scope_key() = default;
};
}  // namespace detail

/// The deadline of one timeout() body (asyncio.Timeout). Handed to a body that asks for it.
///
/// Implemented as CPython 3.11+ does: at the deadline the task running the body is cancelled;
/// when the body ends, if that cancellation was ours and no other cancel request is pending
/// (Task.uncancel() reaches the count seen on entry), the resulting cancelled_error becomes
/// timeout_error. An outer cancel is never turned into a timeout, and nested scopes expiring
/// in either order each convert only their own expiry.
class timeout_scope {
 public:
  /// The deadline on the loop's clock, or none (waits forever).
  [[nodiscard]] std::optional<clock::time_point> when() const noexcept { return when_; }

  /// Moves the deadline (none: no deadline). Throws std::logic_error once the deadline has
  /// expired or the body has ended.
  void reschedule(std::optional<clock::time_point> when);

  /// Whether the deadline passed and the body was cancelled because of it.
  [[nodiscard]] bool expired() const noexcept {
    return state_ == state::expiring || state_ == state::expired;
  }

  timeout_scope(const timeout_scope&) = delete;
  timeout_scope& operator=(const timeout_scope&) = delete;
  ~timeout_scope() { timer_.cancel(); }

  // Driven by eddy::timeout / timeout_at, which alone hold the key.
  timeout_scope(detail::timeout_scope_key, std::optional<clock::time_point> when) noexcept
      : when_(when) {}
  void enter(detail::timeout_scope_key);
  /// Rethrows `failure`, or timeout_error in its place when the failure is this scope's own
  /// expiry.
  void exit(detail::timeout_scope_key, std::exception_ptr failure);

 private:
  /// created → entered → (expiring →) expired | exited
  enum class state : unsigned char { created, entered, expiring, expired, exited };

  void arm();
  void on_deadline();

  std::optional<clock::time_point> when_;
  any_task task_;
  std::uint32_t cancelling_on_entry_ = 0;
  handle timer_;  ///< a timer, or a call_soon for a deadline already passed
  state state_ = state::created;
};

namespace detail {

/// Whether awaiting `child` must leave its value where it is: a task or future the caller
/// still shares (awaited as an lvalue, so its value is copied, as asyncio leaves a task's
/// result in place), unless the value cannot be copied.
template <class Child>
constexpr bool keeps_shared_value() {
  if constexpr (is_task<Child>::value || is_future<Child>::value) {
    using T = typename Child::value_type;
    return std::is_void_v<T> || std::is_copy_constructible_v<T>;
  } else {
    return false;
  }
}

template <class Body>
EDDY_DETAIL_OWNING_CORO_WRAPPER decltype(auto) start_body(Body& body, timeout_scope& scope) {
  if constexpr (std::is_invocable_v<Body&, timeout_scope&>) {
    return detail::call(body, scope);
  } else {
    static_cast<void>(scope);
    if constexpr (keeps_shared_value<Body>()) {
      return (body);  // an lvalue: awaiting it copies the value out
    } else {
      return std::move(body);
    }
  }
}

template <class Body>
using timeout_body_awaitable_t =
    decltype(start_body(std::declval<Body&>(), std::declval<timeout_scope&>()));

template <class Body>
using timeout_result_t = std::remove_cvref_t<await_result_t<timeout_body_awaitable_t<Body>>>;

/// GCC 12 destroys twice a lambda with captures written inside the co_await of timeout(...)
/// (detail/gcc12.hpp); says so at compile time.
template <class Body>
constexpr void refuse_gcc12_temporary_body() {
  static_assert(
      !gcc12_destroys_twice<Body>,
      "eddy::timeout / timeout_at: GCC 12 destroys twice a lambda with captures created inside a "
      "co_await expression (docs/coroutine-lifetimes.md, trap 5). Name it first and pass the name: "
      "auto body = [name](eddy::timeout_scope& scope) -> eddy::coro<void> { ... }; "
      "co_await eddy::timeout(1s, body);");
}

/// Runs body under a timeout_scope expiring at `when`, or, given `delay`, `delay` after the
/// first await (asyncio.wait_for is a coroutine: its clock starts when it starts running).
template <class Body>
coro<timeout_result_t<Body>> run_with_deadline(std::optional<clock::time_point> when, Body body,
                                               std::optional<clock::duration> delay = {}) {
  using result_type = timeout_result_t<Body>;
  if (delay) {
    when = loop_now() + *delay;
  }
  const timeout_scope_key key;
  timeout_scope scope(key, when);
  scope.enter(key);
  std::exception_ptr failure;
  if constexpr (std::is_void_v<result_type>) {
    try {
      co_await start_body(body, scope);
    } catch (...) {
      failure = std::current_exception();
    }
    scope.exit(key, failure);
  } else {
    std::optional<result_type> value;
    try {
      value.emplace(co_await start_body(body, scope));
    } catch (...) {
      failure = std::current_exception();
    }
    scope.exit(key, failure);
    co_return std::move(*value);
  }
}

}  // namespace detail

/// Runs `body` with a deadline at `when` on the loop's clock (asyncio.timeout_at); none means
/// no deadline. `body` is an awaitable (a coro, task, future...) or a callable taking
/// `timeout_scope&` and returning one. Yields the body's value; throws timeout_error if the
/// deadline expired and cancelled the body, and otherwise whatever the body throws; awaiting
/// it outside a task throws std::logic_error. A task or future body the caller shares keeps
/// its value (copied out, or moved if it cannot be copied).
///
/// Cancel safety: an outside cancellation of the awaiting task reaches the body and comes out
/// as cancelled_error, never as timeout_error. On expiry the body is cancelled and the await
/// ends only once the body has finished (its cleanup awaits run first).
///
/// On GCC 12, a callable body that is a lambda with captures written inside the co_await is
/// refused at compile time (docs/coroutine-lifetimes.md, trap 5): name it first.
template <class Body>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] coro<detail::timeout_result_t<std::decay_t<Body>>>
timeout_at(std::optional<clock::time_point> when, Body&& body) {
  detail::refuse_gcc12_temporary_body<Body>();
  return detail::run_with_deadline<std::decay_t<Body>>(when, std::forward<Body>(body));
}

/// timeout_at(now + delay, body) (asyncio.timeout).
template <class Rep, class Period, class Body>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] coro<detail::timeout_result_t<std::decay_t<Body>>>
timeout(std::chrono::duration<Rep, Period> delay, Body&& body) {
  detail::refuse_gcc12_temporary_body<Body>();
  const clock::time_point when = detail::loop_now() + detail::to_clock_duration(delay);
  return detail::run_with_deadline<std::decay_t<Body>>(std::optional(when),
                                                       std::forward<Body>(body));
}

/// A body with no deadline (asyncio.timeout(None)); the scope can be rescheduled later.
template <class Body>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] coro<detail::timeout_result_t<std::decay_t<Body>>>
timeout(std::nullopt_t, Body&& body) {
  detail::refuse_gcc12_temporary_body<Body>();
  return detail::run_with_deadline<std::decay_t<Body>>(std::nullopt, std::forward<Body>(body));
}

namespace detail {

/// asyncio.wait_for with a timeout <= 0: a child already done delivers; any other is
/// cancelled at once, waited for until it has really finished, and reported as a timeout
/// (unless it swallowed the cancellation and returned a value).
template <bool Owned, class Child>
coro<typename Child::value_type> cancel_and_wait(Child child) {
  require_child(child, "wait_for");
  if (!child.state()->done()) {
    child.cancel();
    std::vector<Child> just_this{child};
    co_await wait(just_this);
    if (child.state()->cancelled()) {
      // As every other timeout: "raise TimeoutError from exc", the child's cancelled_error.
      std::exception_ptr cancellation;
      try {
        co_await child;
      } catch (const cancelled_error&) {
        cancellation = std::current_exception();
      }
      try {
        std::rethrow_exception(cancellation);
      } catch (const cancelled_error&) {
        std::throw_with_nested(timeout_error("wait_for: timed out"));
      }
    }
  }
  if constexpr (!Owned && keeps_shared_value<Child>()) {
    co_return co_await child;  // the caller's task or future keeps its value
  } else {
    co_return co_await std::move(child);
  }
}

}  // namespace detail

/// Waits for `awaitable` for at most `delay` (asyncio.wait_for): its value, or, once the delay
/// has passed, cancels it, waits until it has actually finished, and throws timeout_error. If
/// it finishes in the same moment the deadline passes, its value is kept. A delay <= 0 still
/// delivers an awaitable that is already done. The delay counts from the first await of the
/// returned coro (as asyncio's coroutine wait_for), not from the call. A task or future the
/// caller shares keeps its value (it is copied out, or moved if it cannot be copied).
/// Awaiting it throws invalid_state_error for an empty task or future handle, and
/// std::logic_error outside a task.
///
/// Cancel safety: cancelling the awaiting task cancels the awaitable and throws
/// cancelled_error (never timeout_error) once it has finished.
template <class Awaitable, class Rep, class Period>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] auto wait_for(
    Awaitable awaitable, std::chrono::duration<Rep, Period> delay)
    -> coro<std::remove_cvref_t<detail::await_result_t<Awaitable>>> {
  if (delay <= std::chrono::duration<Rep, Period>::zero()) {
    return detail::cancel_and_wait<detail::child_is_owned<Awaitable>>(
        detail::to_child(std::move(awaitable)));
  }
  return detail::run_with_deadline(std::nullopt, std::move(awaitable),
                                   std::optional(detail::to_clock_duration(delay)));
}

/// wait_for with no limit: just awaits it (asyncio.wait_for(aw, None)).
template <class Awaitable>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] auto wait_for(Awaitable awaitable, std::nullopt_t) {
  return timeout(std::nullopt, std::move(awaitable));
}

}  // namespace eddy
