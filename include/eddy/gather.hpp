// eddy::gather: run awaitables concurrently and collect their results (asyncio.gather).
#pragma once

#include <array>
#include <cstddef>
#include <exception>
#include <iterator>
#include <ranges>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/detail/array_allocator.hpp"
#include "eddy/detail/awaitable_child.hpp"
#include "eddy/future.hpp"
#include "eddy/result.hpp"

namespace eddy {

/// Tag for gather's return_exceptions form: `gather(return_exceptions, a, b)`.
struct return_exceptions_t {
  explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

/// The gathering future (asyncio's _GatheringFuture): completes when every child has, or at the
/// first failure; cancelling it cancels every child.
template <class Result, class Children, bool ReturnExceptions>
class gather_state final : public future_state<Result> {
  using base = future_state<Result>;

 public:
  gather_state(loop_core& loop, Children children, std::vector<bool> owned)
      : base(loop), children_(std::move(children)), owned_(std::move(owned)) {
    links_.resize(size());
    if (size() == 0) {
      finish();
      return;
    }
    this->add_ref();  // each_child below may complete us synchronously: stay alive through it
    std::size_t index = 0;
    each_child([&](auto& child) {
      child_link& link = links_[index];
      link.owner = this;
      link.index = index;
      link.on_done = &child_done;
      ++index;
      if (child.state()->done()) {
        child_done(link, *child.state());
      } else {
        child.state()->add_done_link(link);
      }
    });
    this->release();
  }

  ~gather_state() override {
    // Only children still running are touched: a finished child's state is cold memory by
    // now, and child_done() already did what it needed.
    std::size_t index = 0;
    each_child([&](auto& child) {
      child_link& link = links_[index++];
      if (link.linked) {
        child.state()->remove_done_link(link);
        // Nobody can retrieve its failure through this gather any more: asyncio marks it
        // retrieved when it completes, so a late failure is not logged.
        child.state()->mark_exception_retrieved();
      }
    });
  }

  /// Cancels every child still running; returns whether any was. The gather then ends with
  /// cancelled_error once a child reports its cancellation (asyncio semantics).
  bool cancel(std::string message) override {
    if (this->done()) {
      return false;
    }
    bool any = false;
    each_child([&](auto& child) {
      if (child.cancel(message)) {
        any = true;
      }
    });
    if (any) {
      cancel_requested_ = true;
      cancel_message_ = std::move(message);
    }
    return any;
  }

 private:
  struct child_link : done_link {
    gather_state* owner = nullptr;
    std::size_t index = 0;
  };

  template <class Visit>
  void each_child(Visit&& visit) {
    if constexpr (requires { children_.begin(); }) {
      for (auto& child : children_) {
        visit(child);
      }
    } else {
      std::apply([&](auto&... child) { (visit(child), ...); }, children_);
    }
  }

  [[nodiscard]] std::size_t size() const noexcept {
    if constexpr (requires { children_.size(); }) {
      return children_.size();
    } else {
      return std::tuple_size_v<Children>;
    }
  }

  static void child_done(done_link& link, future_base& child) noexcept {
    auto& self = *static_cast<child_link&>(link).owner;
    // asyncio's gather retrieves every child's exception (raising it, returning it, or, once
    // the gather is done, consuming it), so a child's failure is never logged.
    child.mark_exception_retrieved();
    if (self.done()) {
      return;
    }
    if constexpr (!ReturnExceptions) {
      if (child.state() != future_base::status::finished) {
        if (child.cancelled()) {
          // asyncio: the gather fails with CancelledError; it is not itself cancelled.
          self.set_exception(std::make_exception_ptr(cancelled_error(child.cancel_message())));
        } else {
          self.set_exception(child.exception());
        }
        return;
      }
    }
    if (++self.finished_ == self.size()) {
      self.finish();
    }
  }

  void finish() noexcept {
    if (cancel_requested_) {
      this->set_exception(std::make_exception_ptr(cancelled_error(std::move(cancel_message_))));
      return;
    }
    try {
      this->set_result(collect());
    } catch (...) {
      this->set_exception(std::current_exception());
    }
  }

  template <class Child>
  auto outcome_of(Child& child, std::size_t index) {
    if constexpr (ReturnExceptions) {
      using outcome = result<typename Child::value_type>;
      if (child.state()->state() != future_base::status::finished) {
        return outcome::failure(failure_of(*child.state()));
      }
      return outcome::success(take_value(child, owned_[index]));
    } else {
      return take_value(child, owned_[index]);
    }
  }

  Result collect() {
    if constexpr (requires { children_.begin(); }) {
      Result values;
      values.reserve(children_.size());
      std::size_t index = 0;
      for (auto& child : children_) {
        values.push_back(outcome_of(child, index++));
      }
      return values;
    } else {
      return [&]<std::size_t... Index>(std::index_sequence<Index...>) {
        return Result(outcome_of(std::get<Index>(children_), Index)...);
      }(std::make_index_sequence<std::tuple_size_v<Children>>());
    }
  }

  Children children_;
  std::vector<bool> owned_;
  array_vector<child_link> links_;
  std::size_t finished_ = 0;
  bool cancel_requested_ = false;
  std::string cancel_message_;
};

/// Throws invalid_state_error for an empty task or future handle among gather's arguments.
template <class Child>
void require_child(const Child& child) {
  if (child.state() == nullptr) {
    throw invalid_state_error("gather: an argument is an empty task or future handle");
  }
}

template <class Child>
void require_children(const std::vector<Child>& children) {
  for (const Child& child : children) {
    require_child(child);
  }
}

template <bool ReturnExceptions, class Child>
using gathered_t = std::conditional_t<ReturnExceptions, result<typename Child::value_type>,
                                      value_or_monostate<typename Child::value_type>>;

template <bool ReturnExceptions, class... Awaitables>
auto gather_variadic(Awaitables&&... awaitables) {
  using children = std::tuple<child_t<Awaitables>...>;
  using result_type = std::tuple<gathered_t<ReturnExceptions, child_t<Awaitables>>...>;
  using state = gather_state<result_type, children, ReturnExceptions>;
  std::vector<bool> owned{child_is_owned<Awaitables>...};
  children made{to_child(std::forward<Awaitables>(awaitables))...};  // braces: left to right
  std::apply([](auto&... child) { (require_child(child), ...); }, made);
  loop_core& loop = loop_for_new_future();
  return future<result_type>(state_ref<future_state<result_type>>::adopt(
      new state(loop, std::move(made), std::move(owned))));
}

template <bool ReturnExceptions, class Range>
auto gather_range(Range&& awaitables) {
  using element = decltype(*std::begin(awaitables));
  using awaitable = std::conditional_t<std::is_lvalue_reference_v<Range>, element,
                                       std::remove_reference_t<element>&&>;
  using child = child_t<awaitable>;
  using result_type = std::vector<gathered_t<ReturnExceptions, child>>;
  using state = gather_state<result_type, std::vector<child>, ReturnExceptions>;
  std::vector<child> made;
  if constexpr (!std::is_lvalue_reference_v<Range> && std::is_same_v<std::remove_cvref_t<Range>, std::vector<child>>) {
    made = std::move(awaitables);  // a vector of tasks (or futures) handed over whole
  } else {
    if constexpr (std::ranges::sized_range<Range>) {
      made.reserve(std::ranges::size(awaitables));
    }
    for (auto&& each : awaitables) {
      made.push_back(to_child(static_cast<awaitable>(each)));
    }
  }
  require_children(made);
  std::vector<bool> owned(made.size(), child_is_owned<awaitable>);
  loop_core& loop = loop_for_new_future();
  return future<result_type>(state_ref<future_state<result_type>>::adopt(
      new state(loop, std::move(made), std::move(owned))));
}

template <class T>
concept gather_range_argument = requires(T& range) {
  std::begin(range);
  std::end(range);
} && !requires(T& value) { value.operator co_await(); };

}  // namespace detail

/// Runs the awaitables concurrently and returns a future of their results, in argument order,
/// as a std::tuple (void results are std::monostate) (asyncio.gather).
///
/// Coroutines are scheduled as tasks at once (they run even if the gather is never awaited);
/// tasks and futures are used as they are. The first failure or cancellation of a child makes
/// the gather raise it; the other children are NOT cancelled and keep running. Cancelling the
/// gather (or the task awaiting it) cancels every child; the await then throws
/// cancelled_error. Must be called with a running loop (std::runtime_error otherwise).
///
/// Cancel safety: cancelling the awaiting task cancels every child, and the await throws
/// cancelled_error once a child has reported its cancellation.
template <class... Awaitables>
  requires(sizeof...(Awaitables) != 1 || !(detail::gather_range_argument<std::remove_reference_t<Awaitables>> && ...))
auto gather(Awaitables&&... awaitables) {
  return detail::gather_variadic<false>(std::forward<Awaitables>(awaitables)...);
}

/// As gather, but every child's outcome is reported as a value: a std::tuple of eddy::result.
/// Neither failure nor cancellation of a child ends the gather early.
template <class... Awaitables>
  requires(sizeof...(Awaitables) != 1 || !(detail::gather_range_argument<std::remove_reference_t<Awaitables>> && ...))
auto gather(return_exceptions_t, Awaitables&&... awaitables) {
  return detail::gather_variadic<true>(std::forward<Awaitables>(awaitables)...);
}

/// gather over a range (e.g. std::vector<eddy::task<int>>): a future of std::vector of the
/// results, in range order. An rvalue range's elements are moved from.
template <class Range>
  requires detail::gather_range_argument<std::remove_reference_t<Range>>
auto gather(Range&& awaitables) {
  return detail::gather_range<false>(std::forward<Range>(awaitables));
}

/// gather(return_exceptions, range): a future of std::vector<eddy::result<T>>.
template <class Range>
  requires detail::gather_range_argument<std::remove_reference_t<Range>>
auto gather(return_exceptions_t, Range&& awaitables) {
  return detail::gather_range<true>(std::forward<Range>(awaitables));
}

}  // namespace eddy
