// eddy::wait: wait for tasks and futures without cancelling them (asyncio.wait).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/detail/array_allocator.hpp"
#include "eddy/detail/awaitable_child.hpp"
#include "eddy/duration_arg.hpp"
#include "eddy/time.hpp"

namespace eddy {

/// When wait() returns (asyncio.FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when { first_completed, first_exception, all_completed };

struct wait_options {
  /// How long to wait at most (any std::chrono duration: `{.timeout = 0.2s}`); none waits as
  /// long as it takes.
  std::optional<duration_arg> timeout = std::nullopt;
  return_when when = return_when::all_completed;
};

/// wait()'s answer: the tasks (or futures) that are done and those still pending, each in the
/// order they were given.
template <class Child>
struct wait_result {
  std::vector<Child> done;
  std::vector<Child> pending;
};

namespace detail {

/// Suspends until the return_when condition holds or the timeout passes.
template <class Child>
class [[nodiscard]] wait_awaiter final : timer_node, wait_base, ready_node {
 public:
  wait_awaiter(std::vector<Child>& children, wait_options options)
      : children_(children), options_(options), links_(children.size()) {}
  wait_awaiter(const wait_awaiter&) = delete;
  wait_awaiter& operator=(const wait_awaiter&) = delete;
  ~wait_awaiter() { stop_watching(); }

  bool await_ready() const noexcept { return satisfied(); }

  [[nodiscard]] std::string describe_wait() const override { return "wait()"; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("wait()");
    if (!task_->begin_wait(awaiting, this)) {
      return false;
    }
    for (std::size_t index = 0; index < children_.size(); ++index) {
      links_[index].owner = this;
      links_[index].waiter = task_;
      links_[index].on_done = &child_done;
      if (!children_[index].state()->done()) {
        children_[index].state()->add_done_link(links_[index]);
      }
    }
    if (options_.timeout) {
      deadline = task_->loop().now() + options_.timeout->get();
      fire = &timed_out;
      task_->loop().add_timer(*this);
    }
    return true;
  }

  void await_resume() {
    if (task_ != nullptr) {
      task_->end_wait(cancelled_);
    }
  }

 private:
  struct child_link : task_link {
    wait_awaiter* owner = nullptr;
  };

  [[nodiscard]] bool satisfied() const noexcept {
    bool all_done = true;
    for (const Child& child : children_) {
      const future_base& state = *child.state();
      if (!state.done()) {
        all_done = false;
        continue;
      }
      if (options_.when == return_when::first_completed) {
        return true;
      }
      if (options_.when == return_when::first_exception &&
          state.state() == future_base::status::failed) {
        return true;
      }
    }
    return all_done;
  }

  void stop_watching() noexcept {
    for (std::size_t index = 0; index < links_.size(); ++index) {
      children_[index].state()->remove_done_link(links_[index]);
    }
    if (task_ != nullptr) {
      task_->loop().remove_timer(*this);
    }
  }

  void finish() noexcept {
    stop_watching();
    task_->wake();
  }

  /// Satisfied by a child's completion: the task is woken from the next iteration (asyncio's
  /// done callback hop), so the children finishing in this one are seen as done too.
  static void child_done(done_link& link, future_base&) noexcept {
    wait_awaiter& self = *static_cast<child_link&>(link).owner;
    if (self.satisfied()) {
      self.stop_watching();
      self.wake_queued_ = true;
      self.run = &wake_after_hop;
      self.task_->loop().schedule(self);
    }
  }

  /// Until it runs, the task still waits here: a cancel is kept pending and thrown by
  /// await_resume. The frame cannot be gone: only a closing loop destroys a waiting task, and
  /// it runs (and so skips) this node first.
  static void wake_after_hop(ready_node& node) noexcept {
    auto& self = static_cast<wait_awaiter&>(node);
    if (!self.task_->loop().is_closed_for_callbacks()) {
      self.task_->wake();
    }
  }

  static void timed_out(timer_node& node) noexcept { static_cast<wait_awaiter&>(node).finish(); }

  bool cancel_wait(task_base&) noexcept override {
    if (wake_queued_) {
      return false;
    }
    cancelled_ = true;
    finish();
    return true;
  }

  std::vector<Child>& children_;
  wait_options options_;
  array_vector<child_link> links_;
  task_base* task_ = nullptr;
  bool cancelled_ = false;
  bool wake_queued_ = false;  ///< satisfied; wake_after_hop is scheduled
};

template <class Child>
coro<wait_result<Child>> wait_for_condition(std::vector<Child> children, wait_options options) {
  co_await wait_awaiter<Child>(children, options);
  wait_result<Child> answer;
  for (Child& child : children) {
    (child.state()->done() ? answer.done : answer.pending).push_back(std::move(child));
  }
  co_return answer;
}

}  // namespace detail

/// Waits until the tasks/futures in `awaitables` meet `options.when`, or the timeout passes,
/// and reports which are done and which are pending (asyncio.wait). Never raises on timeout
/// and never cancels anything. Only tasks and futures are accepted (as asyncio since 3.11):
/// make tasks of coroutines first. A task or future given twice is reported once (asyncio
/// takes a set); `done` and `pending` keep the order of first appearance.
///
/// When a task finishes and meets `options.when`, the waiting task resumes two loop iterations
/// later, as asyncio's (its done callback runs, then it wakes the waiter), so everything that
/// finished meanwhile is in `done` too. Throws std::invalid_argument for an empty range or a
/// task or future of another loop, invalid_state_error for an empty task or future handle in
/// it; awaiting it outside a task throws std::logic_error.
///
/// Cancel safety: cancelling the waiting task ends the wait with cancelled_error; the tasks
/// waited for are not touched.
template <class Range>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] auto wait(const Range& awaitables,
                                                        wait_options options = {}) {
  using child = std::remove_cvref_t<decltype(*std::begin(awaitables))>;
  constexpr bool accepted = detail::is_task<child>::value || detail::is_future<child>::value;
  static_assert(accepted,
                "eddy::wait takes tasks or futures; wrap coroutines with create_task first");
  if constexpr (accepted) {  // else only the static_assert is reported
    std::vector<child> children(std::begin(awaitables), std::end(awaitables));
    if (children.empty()) {
      throw std::invalid_argument("wait: the set of tasks and futures is empty");
    }
    detail::require_children(children, "wait");
    detail::require_loop(children, detail::composition_loop(children), "wait");
    detail::drop_duplicates(children);
    return detail::wait_for_condition(std::move(children), options);
  } else {
    return std::suspend_never{};
  }
}

}  // namespace eddy
