// What "awaitable" means to eddy's generic entry points (create_task, gather, ...): how to
// find the awaiter of an expression, what awaiting it yields, and how to await it inside a
// coro of eddy's own.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"

namespace eddy {
template <class T>
class task;
template <class T>
class future;
}  // namespace eddy

namespace eddy::detail {

template <class T>
struct is_reference_wrapper : std::false_type {};
template <class T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

/// std::invoke(callable, args...), for callables that may return an eddy::coro. Marked a
/// coroutine wrapper: with EDDY_CORO_LIFETIME_CHECKS, clang requires that of every function
/// returning a coro, and std::invoke is not marked.
template <class Callable, class First, class... Rest>
EDDY_CORO_WRAPPER decltype(auto) call(Callable&& callable, First&& first, Rest&&... rest) {
  using plain = std::remove_cvref_t<Callable>;
  if constexpr (std::is_member_function_pointer_v<plain>) {
    using object = std::remove_cvref_t<First>;
    if constexpr (is_reference_wrapper<object>::value) {
      return (first.get().*callable)(std::forward<Rest>(rest)...);
    } else if constexpr (requires {
                           (std::forward<First>(first).*callable)(std::forward<Rest>(rest)...);
                         }) {
      return (std::forward<First>(first).*callable)(std::forward<Rest>(rest)...);
    } else {
      return ((*std::forward<First>(first)).*callable)(std::forward<Rest>(rest)...);
    }
  } else if constexpr (std::is_member_object_pointer_v<plain>) {
    return std::invoke(std::forward<Callable>(callable), std::forward<First>(first));
  } else {
    return std::forward<Callable>(callable)(std::forward<First>(first),
                                            std::forward<Rest>(rest)...);
  }
}

template <class Callable>
EDDY_CORO_WRAPPER decltype(auto) call(Callable&& callable) {
  return std::forward<Callable>(callable)();
}

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};
template <class T>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};
template <class T>
struct is_coro : std::false_type {};
template <class T>
struct is_coro<coro<T>> : std::true_type {};

/// The awaiter `co_await x` uses for x (its member operator co_await, or x itself).
template <class Awaitable>
decltype(auto) awaiter_of(Awaitable&& awaitable) {
  if constexpr (requires { std::forward<Awaitable>(awaitable).operator co_await(); }) {
    return std::forward<Awaitable>(awaitable).operator co_await();
  } else {
    return std::forward<Awaitable>(awaitable);
  }
}

/// Whether `co_await x` on an rvalue x is well-formed in an eddy coro (member operator
/// co_await, or the three await_* members). Free operator co_await is not looked for: eddy
/// declares none, and users' awaitables in the tutorials use members.
template <class Awaitable>
concept awaitable = requires(Awaitable&& awaitable) {
  awaiter_of(std::forward<Awaitable>(awaitable)).await_ready();
  awaiter_of(std::forward<Awaitable>(awaitable)).await_resume();
};

/// What `co_await x` yields for an rvalue awaitable x.
template <class Awaitable>
using await_result_t = decltype(awaiter_of(std::declval<Awaitable>()).await_resume());

/// Awaits `awaitable` (kept in this frame) and yields its value: any awaitable made a coro.
template <class Awaitable>
coro<std::remove_cvref_t<await_result_t<Awaitable>>> await_in_coro(Awaitable awaitable) {
  co_return co_await std::move(awaitable);
}

/// Awaits a task or future the caller shares and yields a copy of its value (moved only if
/// it cannot be copied), leaving the caller's handle as it was.
template <class Shared>
coro<typename Shared::value_type> await_shared(Shared shared) {
  if constexpr (std::is_void_v<typename Shared::value_type>) {
    co_await shared;
  } else if constexpr (std::is_copy_constructible_v<typename Shared::value_type>) {
    co_return co_await shared;
  } else {
    co_return co_await std::move(shared);
  }
}

/// The coro a new task runs to await `awaitable`: a coro itself, a shared task or future
/// awaited without taking its value, anything else kept in a frame of its own.
template <class Awaitable>
EDDY_DETAIL_OWNING_CORO_WRAPPER auto body_for(Awaitable&& awaitable) {
  using plain = std::remove_cvref_t<Awaitable>;
  static_assert(!is_coro<plain>::value || !std::is_lvalue_reference_v<Awaitable>,
                "a coro is consumed by what runs it: pass it with std::move(c)");
  if constexpr (is_coro<plain>::value) {
    return plain(std::forward<Awaitable>(awaitable));
  } else if constexpr (is_task<plain>::value || is_future<plain>::value) {
    return await_shared(plain(std::forward<Awaitable>(awaitable)));
  } else {
    return await_in_coro(plain(std::forward<Awaitable>(awaitable)));
  }
}

/// Calls `callable(args...)` and awaits what it returns, with the callable and the arguments
/// owned by this frame until that await has finished: a capturing lambda's captures stay
/// valid across every suspension of the coroutine it starts (as std::jthread keeps its
/// callable).
template <class Callable, class... Args>
coro<std::remove_cvref_t<await_result_t<std::invoke_result_t<Callable&, Args&...>>>> invoke_owning(
    Callable callable, Args... args) {
  co_return co_await detail::call(callable, args...);
}

/// A callable that, called with `Args` (stored by value and passed as lvalues), returns
/// something to await: what create_task(f, args...) and the task group's take.
template <class Callable, class... Args>
concept coroutine_callable =
    std::is_invocable_v<std::decay_t<Callable>&, std::unwrap_ref_decay_t<Args>&...> &&
    awaitable<std::invoke_result_t<std::decay_t<Callable>&, std::unwrap_ref_decay_t<Args>&...>>;

/// The coro a new task runs for create_task(callable, args...): both owned by its frame.
template <class Callable, class... Args>
EDDY_DETAIL_OWNING_CORO_WRAPPER auto body_for_call(Callable&& callable, Args&&... args) {
  return invoke_owning<std::decay_t<Callable>, std::decay_t<Args>...>(
      std::forward<Callable>(callable), std::forward<Args>(args)...);
}

template <class>
inline constexpr bool always_false = false;

/// What create_task(x) accepts as one argument: an awaitable that is not an lvalue coro.
template <class Awaitable>
concept task_awaitable = !is_coro<std::remove_cvref_t<Awaitable>>::value && awaitable<Awaitable>;

/// What create_task(callable, args...) accepts: a callable that is not itself awaitable.
template <class Callable, class... Args>
concept task_callable = coroutine_callable<Callable, Args...> && !awaitable<Callable>;

}  // namespace eddy::detail
