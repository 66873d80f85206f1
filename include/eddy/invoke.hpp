// eddy::invoke: start a coroutine lambda without the dangling-capture trap.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/detail/awaitable_traits.hpp"

namespace eddy {

/// Calls a coroutine lambda (or any callable returning an awaitable) so that the callable and
/// the arguments are kept alive, by value, for the whole life of the coroutine it starts:
///
///     auto greeting = eddy::invoke([name] () -> eddy::coro<void> { ... use name ... });
///
/// create_task(f, args...) does the same for a task (and is the spelling to prefer there).
/// Without either, `create_task([name]() -> eddy::coro<void> {...}())` reads `name` from a
/// lambda object destroyed at the end of that statement (docs/coroutine-lifetimes.md).
/// Arguments are copied or moved in; pass std::ref(x) to share an object that outlives the
/// coroutine.
/// On GCC 12, do not write the capturing lambda inside a co_await (`co_await
/// eddy::invoke([name] ...)`): GCC 12 destroys that closure twice (docs/coroutine-lifetimes.md,
/// trap 5). eddy cannot refuse it here without refusing the safe `auto c = eddy::invoke(...)`;
/// pass the captures as arguments instead.
/// Throws only what copying or moving them throws (std::bad_alloc for the frame); the
/// callable itself runs when the returned coro is first awaited, and its exceptions come out
/// of that await.
template <class Callable, class... Args>
  requires detail::coroutine_callable<Callable, Args...>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] auto invoke(Callable&& callable, Args&&... args) {
  return detail::invoke_owning<std::decay_t<Callable>, std::decay_t<Args>...>(
      std::forward<Callable>(callable), std::forward<Args>(args)...);
}

}  // namespace eddy
