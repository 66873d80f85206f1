// Turning "any awaitable" into a task or future whose completion can be watched: what gather,
// wait, shield, timeout and as_completed build on (asyncio's ensure_future).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/detail/awaitable_traits.hpp"
#include "eddy/future.hpp"
#include "eddy/task.hpp"

namespace eddy::detail {

/// Throws invalid_state_error for an empty task or future handle passed to `what` (a moved-from
/// or default-constructed one): every composition function checks its arguments with it.
template <class Child>
void require_child(const Child& child, const char* what) {
  if (child.state() == nullptr) {
    throw invalid_state_error(std::string(what) +
                              ": an argument is an empty task or future handle");
  }
}

template <class Child>
void require_children(const std::vector<Child>& children, const char* what) {
  for (const Child& child : children) {
    require_child(child, what);
  }
}

/// The loop a composition's children must all belong to: the running one if there is one,
/// else the first child's.
template <class Child>
const loop_core& composition_loop(const std::vector<Child>& children) {
  return running_loop_on_thread != nullptr ? *running_loop_on_thread
                                           : children.front().state()->loop();
}

/// Throws std::invalid_argument if `child` belongs to another loop than `loop` (asyncio's
/// ValueError for futures tied to different loops): its completion would be reported on that
/// loop's thread, where nothing here may run.
template <class Child>
void require_loop(const Child& child, const loop_core& loop, const char* what) {
  if (&child.state()->loop() != &loop) {
    throw std::invalid_argument(std::string(what) +
                                ": a task or future belongs to a different event loop");
  }
}

template <class Child>
void require_loop(const std::vector<Child>& children, const loop_core& loop, const char* what) {
  for (const Child& child : children) {
    require_loop(child, loop, what);
  }
}

/// Keeps the first of each task or future given more than once, in order (asyncio's wait and
/// as_completed take a set). `owned`, if given, is a parallel vector thinned the same way.
template <class Child>
void drop_duplicates(std::vector<Child>& children, std::vector<bool>* owned = nullptr) {
  constexpr std::size_t scan_limit = 16;  // below this, comparing pairs beats hashing
  std::unordered_set<const future_base*> seen;
  std::size_t kept = 0;
  for (std::size_t index = 0; index < children.size(); ++index) {
    const future_base* state = children[index].state();
    bool repeated = false;
    if (children.size() <= scan_limit) {
      for (std::size_t earlier = 0; earlier < kept && !repeated; ++earlier) {
        repeated = children[earlier].state() == state;
      }
    } else {
      repeated = !seen.insert(state).second;
    }
    if (repeated) {
      continue;
    }
    if (kept != index) {
      children[kept] = std::move(children[index]);
      if (owned != nullptr) {
        (*owned)[kept] = (*owned)[index];
      }
    }
    ++kept;
  }
  children.erase(children.begin() + static_cast<std::ptrdiff_t>(kept), children.end());
  if (owned != nullptr) {
    owned->resize(kept);
  }
}

/// A task or future for `awaitable`: tasks and futures as they are, coros scheduled as tasks,
/// anything else awaited inside a new task.
template <class Awaitable>
auto to_child(Awaitable&& awaitable) {
  using plain = std::remove_cvref_t<Awaitable>;
  static_assert(!is_coro<plain>::value || !std::is_lvalue_reference_v<Awaitable>,
                "a coro is consumed by what awaits it: pass it with std::move(c)");
  if constexpr (is_task<plain>::value || is_future<plain>::value) {
    return plain(std::forward<Awaitable>(awaitable));
  } else if constexpr (is_coro<plain>::value) {
    // An rvalue (an lvalue has already failed the static_assert; the cast keeps that the only
    // error the compiler prints).
    return create_task(static_cast<plain&&>(awaitable));
  } else {
    return create_task(await_in_coro(plain(std::forward<Awaitable>(awaitable))));
  }
}

template <class Awaitable>
using child_t = decltype(to_child(std::declval<Awaitable>()));

/// Whether to_child made the child (so its value may be moved out rather than copied).
template <class Awaitable>
inline constexpr bool child_is_owned = !is_task<std::remove_cvref_t<Awaitable>>::value &&
                                       !is_future<std::remove_cvref_t<Awaitable>>::value;

/// A value as stored in gather's results: void becomes std::monostate.
template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Takes a finished child's value: moved out of a child eddy made, copied from one the caller
/// shares (moved if it cannot be copied).
template <class Child>
value_or_monostate<typename Child::value_type> take_value(Child& child, bool owned) {
  using T = typename Child::value_type;
  if constexpr (std::is_void_v<T>) {
    static_cast<void>(owned);
    return {};
  } else if constexpr (std::is_copy_constructible_v<T>) {
    if (owned) {
      return std::move(child.state()->value());
    }
    return child.state()->value();
  } else {
    static_cast<void>(owned);
    return std::move(child.state()->value());
  }
}

/// The exception a finished, unsuccessful child ends with (cancelled_error for a cancelled one).
inline std::exception_ptr failure_of(future_base& child) {
  if (child.cancelled()) {
    return std::make_exception_ptr(cancelled_error(child.cancel_message()));
  }
  return child.exception();
}

}  // namespace eddy::detail
