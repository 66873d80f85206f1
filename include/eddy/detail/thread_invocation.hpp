// What a call handed to another thread carries: the function and its arguments, owned by the
// call, and how its outcome is recorded (the thread bridge, eddy/thread.hpp).
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eddy/detail/result_slot.hpp"

namespace eddy::detail {

// --- the types a call works with ----------------------------------------------------------

/// `function(args...)` can run on another thread: both are copied or moved into the call (as
/// std::thread does) and invoked there as rvalues.
template <class Function, class... Args>
concept thread_callable = std::is_constructible_v<std::decay_t<Function>, Function> &&
                          (std::is_constructible_v<std::decay_t<Args>, Args> && ...) &&
                          std::is_invocable_v<std::decay_t<Function>, std::decay_t<Args>...>;

/// What to_thread / run_in_executor / submit yield: the function's result, by value (a result
/// returned by reference is copied on the worker thread, so nothing refers into its frame).
template <class Function, class... Args>
using thread_result_t =
    std::remove_cvref_t<std::invoke_result_t<std::decay_t<Function>, std::decay_t<Args>...>>;

/// The function and its arguments, owned by a call until it has run. std::reference_wrapper
/// arguments stay wrappers (they convert to T& at the call), as with std::thread.
template <class Function, class... Args>
class stored_invocation {
 public:
  template <class F, class... A>
  explicit stored_invocation(F&& function, A&&... args)
      : parts_(std::in_place, std::forward<F>(function), std::forward<A>(args)...) {}

  /// Invokes it once, as rvalues.
  decltype(auto) operator()() {
    return std::apply(
        [](Function&& function, Args&&... args) -> decltype(auto) {
          return std::invoke(std::move(function), std::move(args)...);
        },
        std::move(*parts_));
  }
  /// Destroys the function and the arguments (idempotent).
  void reset() noexcept { parts_.reset(); }

 private:
  std::optional<std::tuple<Function, Args...>> parts_;
};

/// Runs `invocation` on the worker, records its value or exception, then destroys the
/// callable and its arguments there, before anyone is told the outcome.
template <class R, class Function, class... Args>
void run_and_record(stored_invocation<Function, Args...>& invocation, result_slot<R>& value,
                    bool& has_value, std::exception_ptr& exception) noexcept {
  try {
    if constexpr (std::is_void_v<R>) {
      invocation();
    } else {
      value.emplace(invocation());
      has_value = true;
    }
  } catch (...) {
    exception = std::current_exception();
  }
  invocation.reset();
}

}  // namespace eddy::detail
