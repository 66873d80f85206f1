// What eddy's API does about GCC 12's coroutine bugs (docs/design-notes.md, "GCC 12").
//
// GCC 12.2, Debian 12's compiler, destroys twice a temporary created inside a co_await
// expression when that temporary is a class with a non-trivial destructor that is not made
// by a constructor of its own: a lambda closure with captures, or an aggregate. For a
// closure that captures a std::string, `co_await eddy::to_thread([path] {...})` frees the
// string twice. Only the caller's code can avoid this, so the functions that are usually
// awaited in the same expression refuse such an rvalue at compile time on GCC < 13, with a
// message that names the spelling to use instead. GCC 13 and clang are not affected.
#pragma once

#include <type_traits>

namespace eddy::detail {

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
inline constexpr bool gcc12_coroutine_temporaries = true;
#else
inline constexpr bool gcc12_coroutine_temporaries = false;
#endif

/// An awaiter or a type with its own operator co_await: a class with constructors of its own
/// (sleep(), a coro), never a closure.
template <class T>
concept member_awaitable = requires(T& value) { value.await_ready(); } ||
                           requires(T& value) { value.operator co_await(); };

/// A class made without a user-written constructor and whose destruction does work: an
/// aggregate, or a closure type with captures. Closures are neither default-constructible nor
/// assignable; of the classes that are neither, awaiters are the ones eddy's functions take.
template <class T>
inline constexpr bool built_without_constructor =
    std::is_class_v<T> && !std::is_trivially_destructible_v<T> &&
    (std::is_aggregate_v<T> ||
     (!std::is_default_constructible_v<T> && !std::is_copy_assignable_v<T> &&
      !std::is_move_assignable_v<T> && !member_awaitable<T>));

/// True when an argument of forwarding type `T` (a reference for an lvalue, the plain type for
/// an rvalue) is a temporary that GCC 12 would destroy twice if written inside a co_await.
/// Lvalues are never refused: the function copies them and the named original is unaffected.
template <class T>
inline constexpr bool gcc12_destroys_twice =
    gcc12_coroutine_temporaries && !std::is_lvalue_reference_v<T> &&
    built_without_constructor<std::remove_cvref_t<T>>;

/// Any of Ts.
template <class... Ts>
inline constexpr bool gcc12_destroys_any_twice = (gcc12_destroys_twice<Ts> || ...);

}  // namespace eddy::detail
