// What every eddy coroutine frame keeps for call graphs (eddy/call_graph.hpp): where it is
// suspended, and which coroutine it is awaiting.
#pragma once

#include <coroutine>
#include <source_location>
#include <utility>

namespace eddy::detail {

/// Part of every coro<T>'s promise. Written by the promise's await_transform at each
/// `co_await`: one pointer store for `where`, and for a coro awaited in place, two more for the
/// link down to it and its removal when it returns. A task's call stack is the chain of these
/// from the task's own coroutine down to the frame that is running or suspended.
struct frame_record {
  /// The co_await this frame is suspended in, or the last one it passed while it runs. Empty
  /// (line 0) before the frame's first co_await.
  std::source_location where{};
  /// The coro this frame awaits in place (`co_await fetch()`), while that coro has not
  /// returned; null otherwise.
  frame_record* awaiting = nullptr;
};

/// Debug mode's "coroutine 'fetch' was never awaited": called when a coro that never ran is
/// destroyed; reports it, with where its body is, to the exception handler of the loop running
/// on this thread if that loop is in debug mode (out of line and cold; nothing otherwise).
/// A coro dropped while an exception unwinds is not reported. Never throws.
void report_never_awaited(const frame_record& frame) noexcept;

template <class Awaitable>
concept has_member_co_await =
    requires(Awaitable&& awaitable) { std::forward<Awaitable>(awaitable).operator co_await(); };
template <class Awaitable>
concept has_free_co_await =
    requires(Awaitable&& awaitable) { operator co_await(std::forward<Awaitable>(awaitable)); };

/// What coro_promise::await_transform returns: the awaitable as written, by reference. A
/// wrapper rather than the reference itself because GCC 12 copies an awaiter that
/// await_transform returns by reference, and eddy's awaiters cannot be copied or moved (the
/// kernel or a wait list holds their address). The awaitable is a temporary of the co_await's
/// full expression or a named object, so it outlives the wrapper.
template <class Awaitable>
class written_awaitable {
 public:
  explicit written_awaitable(Awaitable&& awaitable) noexcept
      : awaitable_(std::forward<Awaitable>(awaitable)) {}

  decltype(auto) operator co_await() &&
    requires has_member_co_await<Awaitable>
  {
    return std::forward<Awaitable>(awaitable_).operator co_await();
  }
  decltype(auto) operator co_await() &&
      requires(!has_member_co_await<Awaitable> && has_free_co_await<Awaitable>) {
        return operator co_await(std::forward<Awaitable>(awaitable_));
      }

      // An awaiter itself: the co_await runs on it, an lvalue as the language has it.
      decltype(auto) await_ready()
        requires(!has_member_co_await<Awaitable> && !has_free_co_await<Awaitable>)
  {
    return awaitable_.await_ready();
  }
  template <class Promise>
  decltype(auto) await_suspend(std::coroutine_handle<Promise> awaiting) {
    return awaitable_.await_suspend(awaiting);
  }
  decltype(auto) await_resume() { return awaitable_.await_resume(); }

 private:
  Awaitable&& awaitable_;
};

}  // namespace eddy::detail
