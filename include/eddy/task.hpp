// eddy::task<T>: a coroutine scheduled on the loop (asyncio.Task).
#pragma once

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "eddy/context.hpp"
#include "eddy/coro.hpp"
#include "eddy/detail/awaitable_traits.hpp"
#include "eddy/detail/done_callback.hpp"
#include "eddy/detail/join_awaiter.hpp"
#include "eddy/detail/result_slot.hpp"
#include "eddy/optional_arg.hpp"

namespace eddy {

/// How create_task starts a task (asyncio.create_task's keyword arguments):
/// `eddy::create_task(work(), {.name = "fetch", .eager_start = true})`.
struct task_options {
  /// The task's name; unset or empty: "Task-<n>". (An optional_arg, so that the options may be
  /// written inside a co_await under GCC 12: see optional_arg.hpp.)
  optional_arg<std::string> name = std::nullopt;
  /// Run the coroutine at once, inside create_task, until it first suspends (asyncio 3.12's
  /// eager tasks): a coroutine that never suspends leaves the task done before create_task
  /// returns, without a loop turn. Unset: as the loop's eager_task_factory option says. Needs
  /// the loop to be running on this thread; otherwise the task is scheduled as usual.
  std::optional<bool> eager_start = std::nullopt;
  /// The context the task runs in (asyncio's `context=`): variables it sets are set in this
  /// context. Unset: a copy of the creator's current context.
  optional_arg<eddy::context> context = std::nullopt;
};

namespace detail {

template <class T>
class task_state final : public task_base {
 public:
  using value_type = T;
  using body_handle = std::coroutine_handle<coro_promise<T>>;

  /// Takes over `body`'s frame and starts it (see task_base::start), named `name` if not
  /// empty (before an eager first step, so the coroutine sees its name).
  static task_state* spawn(loop_core& loop, coro<T> body, bool eager, std::string* name = nullptr,
                           context_cell* context = nullptr) {
    body_handle handle = body.release();
    if (!handle) {
      throw invalid_state_error("create_task: the coro is empty (moved from or already awaited)");
    }
    auto* state = new task_state(loop, handle);
    try {
      if (name != nullptr && !name->empty()) {
        state->set_name(std::move(*name));
      }
      state->start(eager, context);
    } catch (...) {
      state->release();  // destroys the body too
      throw;
    }
    return state;
  }

  decltype(auto) value() noexcept { return result_.get(); }

  const frame_record* body_frame() const noexcept override {
    return body_ ? &body_handle::from_address(body_.address()).promise() : nullptr;
  }

  ~task_state() override {
    if constexpr (result_needs_destroy<T>) {
      if (state() == status::finished) {
        result_.destroy();
      }
    }
  }

 private:
  task_state(loop_core& loop, body_handle body) noexcept : task_base(loop, body) {}

  status collect_body_outcome() noexcept override {
    auto& promise = body_handle::from_address(body_.address()).promise();
    status outcome = status::finished;
    try {
      if constexpr (std::is_void_v<T>) {
        promise.get();
      } else {
        result_.emplace(promise.get());
      }
    } catch (const cancelled_error& cancellation) {
      set_cancel_message(cancellation.message());
      outcome = status::cancelled;
    } catch (...) {
      rare().exception = std::current_exception();
      outcome = status::failed;
    }
    remember_body_end(promise.where);
    body_.destroy();
    body_ = nullptr;
    return outcome;
  }

  result_slot<T> result_;
};

}  // namespace detail

/// A handle to a task of any result type: what current_task() and all_tasks() return.
///
/// Copies share the task. The loop keeps a running task alive, so dropping every handle does
/// not stop it (there is no "keep a reference to your task" pitfall). Loop-thread only.
class any_task {
 public:
  any_task() noexcept = default;
  explicit any_task(detail::task_base* state) noexcept : state_(state) {}

  /// Requests cancellation (see task<T>::cancel). Returns false if the task is done.
  bool cancel(std::string message = {}) { return live()->cancel(std::move(message)); }
  [[nodiscard]] bool done() const { return live()->done(); }
  [[nodiscard]] bool cancelled() const { return live()->cancelled(); }
  [[nodiscard]] std::uint32_t cancelling() const { return live()->cancelling(); }
  std::uint32_t uncancel() { return live()->uncancel(); }
  [[nodiscard]] std::exception_ptr exception() { return live()->exception(); }
  [[nodiscard]] std::string get_name() const { return live()->get_name(); }
  void set_name(std::string name) { live()->set_name(std::move(name)); }
  /// The context the task runs in (Task.get_context()). Throws std::bad_alloc.
  [[nodiscard]] context get_context() const {
    return context(detail::cell_ref(&live()->context()));
  }

  template <class Callback>
  std::uintptr_t add_done_callback(Callback callback) {
    return detail::user_done_callback::attach(
        *live(), new detail::typed_done_callback<any_task, Callback>(*this, std::move(callback)));
  }
  std::size_t remove_done_callback(std::uintptr_t id) {
    return detail::user_done_callback::detach(*live(), id);
  }

  explicit operator bool() const noexcept { return static_cast<bool>(state_); }
  [[nodiscard]] detail::task_base* state() const noexcept { return state_.get(); }
  friend bool operator==(const any_task& a, const any_task& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  detail::task_base* live() const { return detail::require_state(state_.get()); }

  detail::state_ref<detail::task_base> state_{nullptr};
};

/// A scheduled coroutine (asyncio.Task), made by create_task. Awaitable by any number of tasks.
///
/// The loop owns a running task: it runs to completion even if every handle is dropped.
/// Handles are shared and used on the loop's thread only.
///
/// Cancel safety of `co_await t`: if the awaiting task is cancelled, `t` is cancelled too
/// (asyncio semantics) and the await yields t's outcome once t has finished: cancelled_error
/// if t ended cancelled, t's value if t swallowed the cancellation.
template <class T = void>
class task {
 public:
  using value_type = T;
  using state_type = detail::task_state<T>;

  task() noexcept = default;
  explicit task(detail::state_ref<state_type> state) noexcept : state_(std::move(state)) {}

  /// Requests cancellation. A task suspended in an interruptible await gets cancelled_error
  /// thrown there; otherwise at its next await that would suspend. It may catch it, clean up
  /// (with more awaits) and rethrow; if it swallows it, it is not cancelled. Each call counts
  /// (cancelling()). Returns false if the task is already done.
  bool cancel(std::string message = {}) { return live()->cancel(std::move(message)); }
  [[nodiscard]] bool done() const { return live()->done(); }
  [[nodiscard]] bool cancelled() const { return live()->cancelled(); }
  /// Cancellation requests not withdrawn by uncancel().
  [[nodiscard]] std::uint32_t cancelling() const { return live()->cancelling(); }
  /// Withdraws one cancellation request; returns how many remain.
  std::uint32_t uncancel() { return live()->uncancel(); }

  /// The value (a reference into the shared state). Throws invalid_state_error while pending,
  /// cancelled_error if cancelled, the task's exception if it failed.
  decltype(auto) result() {
    live()->rethrow_if_unsuccessful("result()");
    return live()->value();
  }
  /// The task's exception, or null on success. Throws invalid_state_error while pending and
  /// cancelled_error if cancelled.
  [[nodiscard]] std::exception_ptr exception() { return live()->exception(); }

  /// "Task-N" unless set.
  [[nodiscard]] std::string get_name() const { return live()->get_name(); }
  void set_name(std::string name) { live()->set_name(std::move(name)); }
  /// The context the task runs in (Task.get_context()): a copy of its creator's, or the one
  /// given in task_options. Throws std::bad_alloc.
  [[nodiscard]] context get_context() const {
    return context(detail::cell_ref(&live()->context()));
  }

  /// Calls `callback(task&)` (or `callback()`) through the loop once the task is done.
  template <class Callback>
  std::uintptr_t add_done_callback(Callback callback) {
    return detail::user_done_callback::attach(
        *live(), new detail::typed_done_callback<task, Callback>(*this, std::move(callback)));
  }
  /// Removes a callback not yet scheduled; returns the number removed (0 or 1).
  std::size_t remove_done_callback(std::uintptr_t id) {
    return detail::user_done_callback::detach(*live(), id);
  }

  /// Waits for the task; an lvalue yields a reference to its value, an rvalue moves it out.
  /// (and the handle it was awaited through is left empty, as a moved-from handle).
  auto operator co_await() & noexcept {
    return detail::join_awaiter<state_type, false>(state_.get());
  }
  auto operator co_await() && noexcept {
    return detail::join_awaiter<state_type, true>(std::move(state_));
  }

  operator any_task() const noexcept { return any_task(state_.get()); }  // NOLINT: a task is a task
  explicit operator bool() const noexcept { return static_cast<bool>(state_); }
  [[nodiscard]] state_type* state() const noexcept { return state_.get(); }
  friend bool operator==(const task& a, const task& b) noexcept { return a.state_ == b.state_; }

 private:
  state_type* live() const { return detail::require_state(state_.get()); }

  detail::state_ref<state_type> state_;
};

namespace detail {
/// The loop create_task() schedules on: the running one (throws if there is none).
loop_core& loop_for_new_task();

template <class T>
task<T> spawn_task(loop_core& loop, coro<T> body) {
  loop.check_usable("create_task");
  return task<T>(state_ref<task_state<T>>::adopt(
      task_state<T>::spawn(loop, std::move(body), loop.eager_tasks())));
}

template <class T>
task<T> spawn_task(loop_core& loop, coro<T> body, std::string name) {
  loop.check_usable("create_task");
  return task<T>(state_ref<task_state<T>>::adopt(
      task_state<T>::spawn(loop, std::move(body), loop.eager_tasks(), &name)));
}

template <class T>
task<T> spawn_task(loop_core& loop, coro<T> body, task_options options) {
  loop.check_usable("create_task");
  const bool eager = options.eager_start.value_or(loop.eager_tasks());
  std::string name = options.name.has_value() ? std::move(*options.name) : std::string();
  context_cell* context = options.context.has_value() ? options.context->cell() : nullptr;
  return task<T>(state_ref<task_state<T>>::adopt(
      task_state<T>::spawn(loop, std::move(body), eager, &name, context)));
}
}  // namespace detail

namespace detail {
#ifdef EDDY_DETAIL_CORO_LIFETIME_CHECKS
/// With EDDY_CORO_LIFETIME_CHECKS, create_task takes its coro by value and marks it
/// [[clang::lifetimebound]]: the task then refers to what the coro refers to (a temporary
/// lambda, a temporary bound to a reference parameter), not to the coro itself.
template <class T>
using coro_sink = coro<T>;
#else
template <class T>
using coro_sink = coro<T>&&;
#endif

/// A task's name argument: a string, never a braced list (which is task_options: GCC 12 would
/// otherwise also try `{.name = "x", .eager_start = true}` as std::string("x", true)).
template <class Name>
concept task_name = std::convertible_to<Name, std::string>;
}  // namespace detail

/// Schedules `body` as a task on the running loop (asyncio.create_task). It starts when the
/// caller next suspends. Throws std::runtime_error when no loop is running on this thread and
/// invalid_state_error for an empty coro (moved from or already awaited).
template <class T, detail::task_name Name>
task<T> create_task(detail::coro_sink<T> body EDDY_DETAIL_LIFETIMEBOUND, Name&& name) {
  return detail::spawn_task(detail::loop_for_new_task(), std::move(body),
                            std::string(std::forward<Name>(name)));
}

/// As above, named "Task-<n>". (An overload rather than a default argument: the spawn hot
/// path then builds and destroys no std::string.)
template <class T>
task<T> create_task(detail::coro_sink<T> body EDDY_DETAIL_LIFETIMEBOUND) {
  return detail::spawn_task(detail::loop_for_new_task(), std::move(body));
}

/// As above, with a name and eager start: `create_task(work(), {.eager_start = true})`. An
/// eager task's coroutine runs inside this call, as the current task, until it first
/// suspends; what it throws there is the task's exception, not this call's.
template <class T>
task<T> create_task(detail::coro_sink<T> body EDDY_DETAIL_LIFETIMEBOUND, task_options options) {
  return detail::spawn_task(detail::loop_for_new_task(), std::move(body), std::move(options));
}

#ifndef EDDY_DETAIL_CORO_LIFETIME_CHECKS
/// A named coro is moved into its task: `create_task(std::move(c))`. (With
/// EDDY_CORO_LIFETIME_CHECKS the coro is taken by value, and a named one fails to copy.)
template <class T>
task<T> create_task(coro<T>& body, std::string name = {}) {
  static_assert(detail::always_false<T>,
                "create_task: a coro is consumed by its task: write create_task(std::move(c))");
  return create_task(std::move(body), std::move(name));
}
#endif

/// Schedules a task that awaits `awaitable` (a to_thread call, a future, a task, a shield, any
/// awaitable; asyncio.ensure_future): the task keeps the awaitable in its own frame and yields
/// what the await yields. A task or future is awaited without taking its value, so the
/// caller's handle still has it. Throws std::runtime_error when no loop is running.
template <class Awaitable>
  requires detail::task_awaitable<Awaitable>
auto create_task(Awaitable&& awaitable) {
  return create_task(detail::body_for(std::forward<Awaitable>(awaitable)));
}

/// As above, named.
template <class Awaitable, detail::task_name Name>
  requires detail::task_awaitable<Awaitable>
auto create_task(Awaitable&& awaitable, Name&& name) {
  return create_task(detail::body_for(std::forward<Awaitable>(awaitable)),
                     std::string(std::forward<Name>(name)));
}

/// As above, with task_options.
template <class Awaitable>
  requires detail::task_awaitable<Awaitable>
auto create_task(Awaitable&& awaitable, task_options options) {
  return create_task(detail::body_for(std::forward<Awaitable>(awaitable)), std::move(options));
}

/// Schedules `callable(args...)` as a task, where the callable returns a coro or any other
/// awaitable: `create_task([name]() -> coro<void> { ...use name... })`. The task owns a copy
/// (or the moved original) of the callable and of each argument until its coroutine has
/// finished, as std::jthread keeps its function, so a capturing lambda's captures stay valid
/// across every suspension; pass std::ref(x) to share an x that outlives the task. The
/// callable is called when the task first runs; what it throws comes out of the task. Name
/// the task with set_name(). Throws std::runtime_error when no loop is running.
template <class Callable, class... Args>
  requires detail::task_callable<Callable, Args...>
auto create_task(Callable&& callable, Args&&... args) {
  return create_task(
      detail::body_for_call(std::forward<Callable>(callable), std::forward<Args>(args)...));
}

/// A callable taking no arguments, with task_options:
/// `create_task([name]() -> coro<void> {...}, {.name = name, .eager_start = true})`.
template <class Callable>
  requires detail::task_callable<Callable>
auto create_task(Callable&& callable, task_options options) {
  return create_task(detail::body_for_call(std::forward<Callable>(callable)), std::move(options));
}

}  // namespace eddy
