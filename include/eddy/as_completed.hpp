// eddy::as_completed: results in the order they complete (asyncio.as_completed).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "eddy/detail/array_allocator.hpp"
#include "eddy/detail/awaitable_child.hpp"
#include "eddy/duration_arg.hpp"
#include "eddy/errors.hpp"
#include "eddy/time.hpp"

namespace eddy {

namespace detail {

/// Shared by an as_completed object and the awaits of its next(): the children, the order in
/// which they finished, and the one task waiting for the next of them.
template <class Child>
class completion_order final : timer_node, wait_base {
 public:
  [[nodiscard]] std::string describe_wait() const override { return "as_completed"; }

  completion_order(std::vector<Child> children, std::vector<bool> owned,
                   std::optional<clock::duration> limit)
      : children_(std::move(children)), owned_(std::move(owned)), links_(children_.size()) {
    for (std::size_t index = 0; index < children_.size(); ++index) {
      links_[index].owner = this;
      links_[index].index = index;
      links_[index].on_done = &child_done;
      if (children_[index].state()->done()) {
        finished_.push_back(index);
      } else {
        children_[index].state()->add_done_link(links_[index]);
      }
    }
    if (limit && finished_.size() < children_.size()) {
      loop_ = &children_.front().state()->loop();
      deadline = loop_->now() + *limit;
      fire = &expired;
      loop_->add_timer(*this);
    }
  }
  completion_order(const completion_order&) = delete;
  completion_order& operator=(const completion_order&) = delete;
  ~completion_order() {
    for (std::size_t index = 0; index < links_.size(); ++index) {
      children_[index].state()->remove_done_link(links_[index]);
    }
    if (loop_ != nullptr) {
      loop_->remove_timer(*this);
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return children_.size(); }
  [[nodiscard]] std::size_t remaining() const noexcept { return children_.size() - handed_out_; }

  /// next() (YieldsChild false: the value) and next_done() (true: the finished task or future).
  template <bool YieldsChild>
  class [[nodiscard]] next_awaiter {
   public:
    explicit next_awaiter(completion_order& order) noexcept : order_(order) {}
    bool await_ready() const {
      if (order_.remaining() == 0) {
        throw std::out_of_range("as_completed: every result has been taken");
      }
      return !order_.finished_.empty() || order_.timed_out_;
    }
    bool await_suspend(std::coroutine_handle<> awaiting) {
      task_ = &task_base::running("as_completed next()");
      if (order_.waiter_ != nullptr) {
        throw std::logic_error("as_completed: another task is already waiting for the next result");
      }
      if (!task_->begin_wait(awaiting, &order_)) {
        return false;
      }
      order_.waiter_ = task_;
      return true;
    }
    decltype(auto) await_resume() {
      if (task_ != nullptr) {
        bool cancelled = order_.waiter_cancelled_;
        order_.waiter_cancelled_ = false;
        order_.waiter_ = nullptr;
        task_->end_wait(cancelled);
      }
      if (order_.finished_.empty()) {
        ++order_.handed_out_;  // as asyncio: each awaitable left over yields one TimeoutError
        throw timeout_error("as_completed: timed out");
      }
      std::size_t index = order_.finished_.front();
      order_.finished_.pop_front();
      ++order_.handed_out_;
      Child& child = order_.children_[index];
      if constexpr (YieldsChild) {
        return Child(child);  // its failure is now the caller's to retrieve, as in asyncio
      } else {
        child.state()->rethrow_if_unsuccessful("as_completed");
        return take_value(child, order_.owned_[index]);
      }
    }

   private:
    completion_order& order_;
    task_base* task_ = nullptr;
  };

 private:
  struct child_link : done_link {
    completion_order* owner = nullptr;
    std::size_t index = 0;
  };

  void wake_waiter() noexcept {
    if (waiter_ != nullptr) {
      task_base* waiter = waiter_;
      waiter_ = nullptr;
      waiter->wake();
    }
  }

  static void child_done(done_link& link, future_base&) noexcept {
    auto& owner_link = static_cast<child_link&>(link);
    owner_link.owner->finished_.push_back(owner_link.index);
    owner_link.owner->wake_waiter();
  }

  static void expired(timer_node& node) noexcept {
    auto& self = static_cast<completion_order&>(node);
    self.timed_out_ = true;
    // asyncio's _on_timeout: what has not finished by now is never delivered, even if it
    // finishes before the next next().
    for (std::size_t index = 0; index < self.links_.size(); ++index) {
      self.children_[index].state()->remove_done_link(self.links_[index]);
    }
    self.wake_waiter();
  }

  bool cancel_wait(task_base& waiter) noexcept override {
    if (waiter_ != &waiter) {
      return false;
    }
    waiter_cancelled_ = true;
    wake_waiter();
    return true;
  }

  std::vector<Child> children_;
  std::vector<bool> owned_;
  array_vector<child_link> links_;
  std::deque<std::size_t> finished_;  ///< indexes, in completion order, not yet handed out
  std::size_t handed_out_ = 0;
  task_base* waiter_ = nullptr;
  loop_core* loop_ = nullptr;
  bool timed_out_ = false;
  bool waiter_cancelled_ = false;
};

}  // namespace detail

/// The results of several awaitables in the order they complete (asyncio.as_completed):
///
///     auto results = eddy::as_completed(std::move(tasks), 5s);
///     for (std::size_t i = 0; i < results.size(); ++i) {
///       int value = co_await results.next();  // or throws what that awaitable threw
///     }
///
/// or, to know which one finished, `eddy::task<int> done = co_await results.next_done();`.
///
/// Coroutines are scheduled as tasks at once. Once the timeout (measured from the call) has
/// passed, next() still delivers what finished before it, and then throws timeout_error once
/// for each awaitable left over, even one that finishes later (asyncio); the awaitables are
/// not cancelled. One task at a time may wait in next() (std::logic_error otherwise).
///
/// Cancel safety: cancelling a task waiting in next() or next_done() ends that wait with
/// cancelled_error; nothing is lost (the next result is still there for a later next() or
/// next_done()), and the awaitables are not cancelled.
template <class Child>
class as_completed_results {
 public:
  as_completed_results(std::vector<Child> children, std::vector<bool> owned,
                       std::optional<clock::duration> limit)
      : order_(std::make_unique<detail::completion_order<Child>>(std::move(children),
                                                                 std::move(owned), limit)) {}

  /// How many results there are in all.
  [[nodiscard]] std::size_t size() const noexcept { return order_->size(); }
  /// How many have not been taken with next() or next_done() yet.
  [[nodiscard]] std::size_t remaining() const noexcept { return order_->remaining(); }
  /// Awaits the next result to complete. Throws std::out_of_range when all have been taken.
  [[nodiscard]] auto next() { return typename order_type::template next_awaiter<false>(*order_); }

  /// Awaits the next awaitable to complete and yields it, done, as the task (or future) it
  /// is: the one given, or the task made for a coroutine (asyncio 3.13's `async for`, which
  /// yields the original tasks so that each result can be matched to its source). Nothing is
  /// rethrown: ask the task for its result() or exception(). Throws timeout_error and
  /// std::out_of_range as next() does; next() and next_done() take from the same order.
  [[nodiscard]] auto next_done() {
    return typename order_type::template next_awaiter<true>(*order_);
  }

 private:
  using order_type = detail::completion_order<Child>;
  std::unique_ptr<order_type> order_;
};

/// as_completed over a range of awaitables (an rvalue range's elements are moved from). A task
/// or future given more than once counts once (asyncio takes a set): size() is the number of
/// distinct ones. Throws invalid_state_error for an empty task or future handle in it (the
/// coroutines before it are scheduled already), std::invalid_argument for a task or future of
/// another loop, std::runtime_error for a coroutine with no running loop.
template <class Range>
[[nodiscard]] auto as_completed(Range&& awaitables,
                                std::optional<duration_arg> timeout = std::nullopt) {
  using element = decltype(*std::begin(awaitables));
  using awaitable = std::conditional_t<std::is_lvalue_reference_v<Range>, element,
                                       std::remove_reference_t<element>&&>;
  using child = detail::child_t<awaitable>;
  std::vector<child> children;
  std::vector<bool> owned;
  for (auto&& each : awaitables) {
    children.push_back(detail::to_child(static_cast<awaitable>(each)));
    detail::require_child(children.back(), "as_completed");
    owned.push_back(detail::child_is_owned<awaitable>);
  }
  if (!children.empty()) {
    detail::require_loop(children, detail::composition_loop(children), "as_completed");
  }
  detail::drop_duplicates(children, &owned);
  return as_completed_results<child>(std::move(children), std::move(owned), timeout);
}

}  // namespace eddy
