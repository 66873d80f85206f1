// eddy::invoke: start a coroutine lambda without the dangling-capture trap.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"

namespace eddy {

namespace detail {
template <class Callable, class... Args>
using invoke_coro_t = std::invoke_result_t<Callable&, Args&...>;

template <class Callable, class... Args>
invoke_coro_t<Callable, Args...> invoke_owning(Callable callable, Args... args) {
  // `callable` and `args` live in this frame until the inner coroutine has finished, so the
  // lambda's captures stay valid across every suspension.
  co_return co_await std::invoke(callable, args...);
}
}  // namespace detail

/// Calls a coroutine lambda (or any callable returning eddy::coro<T>) so that the callable and
/// the arguments are kept alive, by value, for the whole life of the coroutine it starts:
///
///     eddy::create_task(eddy::invoke([name] () -> eddy::coro<void> { ... use name ... }));
///
/// Without it, `create_task([name]() -> eddy::coro<void> {...}())` reads `name` from a lambda
/// object destroyed at the end of that statement (docs/coroutine-lifetimes.md). Arguments are
/// copied or moved in; pass std::ref(x) to share an object that outlives the coroutine.
/// Throws only what copying or moving them throws (std::bad_alloc for the frame); the
/// callable itself runs when the returned coro is first awaited, and its exceptions come out
/// of that await.
template <class Callable, class... Args>
  requires std::is_invocable_v<std::decay_t<Callable>&, std::unwrap_ref_decay_t<Args>&...>
[[nodiscard]] auto invoke(Callable&& callable, Args&&... args) {
  return detail::invoke_owning<std::decay_t<Callable>, std::decay_t<Args>...>(
      std::forward<Callable>(callable), std::forward<Args>(args)...);
}

}  // namespace eddy
