// eddy::task_group: structured concurrency (asyncio.TaskGroup).
//
// Spelling. asyncio writes `async with asyncio.TaskGroup() as tg: tg.create_task(...)`. C++
// has no `async with`, and a destructor cannot wait for children, so the group is opened by
// a call that runs a body and always waits for the children when the body ends, normally or
// by an exception:
//
//     co_await eddy::with_task_group([&](eddy::task_group& group) -> eddy::coro<void> {
//       group.create_task(fetch("a"));
//       group.create_task(fetch("b"));
//       co_return;
//     });
//
// A task_group cannot be made any other way, so forgetting the final wait is impossible.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/detail/awaitable_traits.hpp"
#include "eddy/detail/gcc12.hpp"
#include "eddy/detail/intrusive_list.hpp"
#include "eddy/errors.hpp"
#include "eddy/future.hpp"
#include "eddy/task.hpp"

namespace eddy {

template <class Body>
auto with_task_group(Body&& body);

/// The group handed to a with_task_group body. Its create_task starts children; the group
/// waits for all of them when the body ends. The first child to fail cancels the others and
/// the body's task; every failure (and the body's own, if any) comes back together as one
/// exception_group. A cancellation of the task running the group from outside reaches the
/// children and is not swallowed. A fatal exception (is_fatal_exception: keyboard_interrupt),
/// from the body or a child, comes back on its own instead of in an exception_group.
class task_group {
 public:
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group();

  /// Starts `body` as a child task. Throws std::runtime_error once the group is shutting down
  /// (a child failed, or the body was cancelled) or has finished.
  template <class T>
  task<T> create_task(coro<T>&& body) {
    return create_task(std::move(body), task_options{});
  }
  /// Named.
  template <class T, detail::task_name Name>
  task<T> create_task(coro<T>&& body, Name&& name) {
    return create_task(std::move(body),
                       task_options{.name = std::string(std::forward<Name>(name))});
  }
  /// With a name and eager start (see eddy::task_options): `{.eager_start = true}`. A child that
  /// finishes (or fails) inside this call is looked at by the group from the next iteration,
  /// as any child that finished.
  template <class T>
  task<T> create_task(coro<T>&& body, task_options options) {
    check_open();
    task<T> child = detail::spawn_task(*loop_, std::move(body), std::move(options));
    adopt(child);
    return child;
  }
  /// A named coro is moved into its task: `group.create_task(std::move(c))`.
  template <class T>
  task<T> create_task(coro<T>& body, std::string name = {}) {
    static_assert(detail::always_false<T>,
                  "create_task: a coro is consumed by its task: write create_task(std::move(c))");
    return create_task(std::move(body), std::move(name));
  }
  /// A child task awaiting any awaitable (see eddy::create_task).
  template <class Awaitable>
    requires detail::task_awaitable<Awaitable>
  auto create_task(Awaitable&& awaitable) {
    check_open();
    return create_task(detail::body_for(std::forward<Awaitable>(awaitable)));
  }
  template <class Awaitable, detail::task_name Name>
    requires detail::task_awaitable<Awaitable>
  auto create_task(Awaitable&& awaitable, Name&& name) {
    check_open();
    return create_task(detail::body_for(std::forward<Awaitable>(awaitable)),
                       std::string(std::forward<Name>(name)));
  }
  template <class Awaitable>
    requires detail::task_awaitable<Awaitable>
  auto create_task(Awaitable&& awaitable, task_options options) {
    check_open();
    return create_task(detail::body_for(std::forward<Awaitable>(awaitable)), std::move(options));
  }
  /// A child task running `callable()` with task_options (see eddy::create_task).
  template <class Callable>
    requires detail::task_callable<Callable>
  auto create_task(Callable&& callable, task_options options) {
    check_open();
    return create_task(detail::body_for_call(std::forward<Callable>(callable)), std::move(options));
  }
  /// A child task running `callable(args...)`; the task owns the callable and the arguments
  /// until its coroutine has finished (see eddy::create_task). Throws as above.
  template <class Callable, class... Args>
    requires detail::task_callable<Callable, Args...>
  auto create_task(Callable&& callable, Args&&... args) {
    check_open();
    return create_task(
        detail::body_for_call(std::forward<Callable>(callable), std::forward<Args>(args)...));
  }

  /// How many children are still running.
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  template <class Body>
  friend auto with_task_group(Body&& body);

  /// A child: linked to its task's completion, then queued on the loop to be looked at (as
  /// asyncio runs TaskGroup._on_task_done with call_soon: siblings finishing in the same
  /// iteration are all seen before the group reacts).
  struct member : detail::task_link, detail::ready_node {
    task_group* group = nullptr;
    any_task task;
    detail::list_links<member> links;
  };

  task_group() = default;
  void enter();
  void check_open() const;
  void adopt(const any_task& child);
  static void child_done(detail::done_link& link, detail::future_base& state) noexcept;
  static void look_at_finished_child(detail::ready_node& node) noexcept;
  void forget(member& child) noexcept;
  void abort() noexcept;
  /// exit()'s end when a fatal exception came: reports the failures it displaces, settles the
  /// cancellation count, and rethrows it.
  [[noreturn]] void throw_fatal_error(const std::exception_ptr& body_failure);
  /// asyncio's TaskGroup.__aexit__: waits for the children, then throws what the group ends
  /// with (nothing, a cancellation, an exception_group, or a fatal exception).
  [[nodiscard]] coro<void> exit(std::exception_ptr body_failure);

  detail::loop_core* loop_ = nullptr;
  any_task parent_;
  detail::intrusive_list<member, &member::links> members_;  ///< newest first
  std::size_t count_ = 0;
  std::vector<std::exception_ptr> errors_;
  /// The first fatal exception (keyboard_interrupt) from the body or a child, or null: thrown by
  /// exit() instead of an exception_group (asyncio's TaskGroup._base_error).
  std::exception_ptr fatal_error_;
  std::optional<future<void>> all_finished_;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
};

namespace detail {
template <class Body>
using group_body_result_t = typename std::invoke_result_t<Body&, task_group&>::value_type;
}

/// Runs `body(group)` (a callable returning eddy::coro<R>) with a new task_group and yields
/// what the body returns once every child has finished. Throws exception_group when children
/// or the body failed, cancelled_error when the task was cancelled from outside, and
/// std::logic_error when awaited outside a task. A fatal exception (is_fatal_exception:
/// keyboard_interrupt) raised by the body or by a child cancels the other children like any
/// failure, but once they have finished it is rethrown itself, not in an exception_group; the
/// first one wins, and the failures it displaces are reported to the loop's exception
/// handler. The task_group& is valid until the await ends: a pointer kept past it dangles.
///
/// Cancel safety: a cancellation of the awaiting task cancels the body and every child, waits
/// for all of them to finish, and then throws cancelled_error.
///
/// The body is copied (an lvalue) or moved (an rvalue) into the await and lives until it ends.
/// On GCC 12, a lambda with captures written inside the co_await is refused at compile time
/// (docs/coroutine-lifetimes.md, trap 5): name it first and pass the name.
template <class Body>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] auto with_task_group(Body&& body) {
  static_assert(
      !detail::gcc12_destroys_twice<Body>,
      "eddy::with_task_group: GCC 12 destroys twice a lambda with captures created inside a "
      "co_await expression (docs/coroutine-lifetimes.md, trap 5). Name it first and pass the "
      "name: auto body = [name](eddy::task_group& g) -> eddy::coro<void> { ... }; "
      "co_await eddy::with_task_group(body);");
  using body_type = std::decay_t<Body>;
  using result_type = detail::group_body_result_t<body_type>;
  return [](body_type body) -> coro<result_type> {
    task_group group;
    group.enter();
    std::exception_ptr failure;
    if constexpr (std::is_void_v<result_type>) {
      try {
        co_await detail::call(body, group);
      } catch (...) {
        failure = std::current_exception();
      }
      co_await group.exit(failure);
      if (failure) {
        std::rethrow_exception(failure);
      }
    } else {
      std::optional<result_type> value;
      try {
        value.emplace(co_await detail::call(body, group));
      } catch (...) {
        failure = std::current_exception();
      }
      co_await group.exit(failure);
      if (failure) {
        std::rethrow_exception(failure);
      }
      co_return std::move(*value);
    }
  }(std::forward<Body>(body));
}

}  // namespace eddy
