// eddy::gather: run awaitables concurrently and collect their results (asyncio.gather).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <limits>
#include <memory>
#include <ranges>
#include <stdexcept>
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

/// What a gather keeps of one child: its value (std::monostate for void), or with
/// return_exceptions its eddy::result.
template <bool ReturnExceptions, class Child>
using gathered_t = std::conditional_t<ReturnExceptions, result<typename Child::value_type>,
                                      value_or_monostate<typename Child::value_type>>;

/// One child's place in a gather: its link into the child's done list and, once the child has
/// finished, its outcome. The outcome is taken at completion, while the child's state is still
/// in cache, rather than in a pass over every child at the end; links never move, so the
/// array holding them is made at its final size.
template <class Gathered>
struct gather_link : gather_link_base {
  gather_link() noexcept {}  // NOLINT: the outcome stays unconstructed until the child finishes
  gather_link(const gather_link&) = delete;
  gather_link& operator=(const gather_link&) = delete;
  ~gather_link() {
    if (has_outcome) {
      std::destroy_at(&outcome);
    }
  }

  void store(Gathered&& value) {
    std::construct_at(&outcome, std::move(value));
    has_outcome = true;
  }

  union {
    Gathered outcome;
  };
};

/// The gathering future (asyncio's _GatheringFuture): completes when every child has, or at the
/// first failure; cancelling it cancels every child.
///
/// Children is a std::vector of tasks or futures (the range form, every child of one type) or a
/// std::tuple of them (the variadic form). Owned says whether gather made the children (so their
/// values may be moved out): a bool for the range form, a std::array<bool, N> for the tuple.
template <class Result, class Children, bool ReturnExceptions, auto Owned>
class gather_state final : public future_state<Result> {
  using base = future_state<Result>;
  static constexpr bool is_range = requires(Children& children) { children.begin(); };

  template <class Sequence>
  struct links_for;
  template <class Child>
  struct links_for<std::vector<Child>> {
    using type = array_vector<gather_link<gathered_t<ReturnExceptions, Child>>>;
    template <std::size_t>
    using link = gather_link<gathered_t<ReturnExceptions, Child>>;
  };
  template <class... Child>
  struct links_for<std::tuple<Child...>> {
    using type = std::tuple<gather_link<gathered_t<ReturnExceptions, Child>>...>;
    template <std::size_t I>
    using link = std::tuple_element_t<I, type>;
  };
  using links_type = typename links_for<Children>::type;
  template <std::size_t I>
  using link_type = typename links_for<Children>::template link<I>;

 public:
  gather_state(loop_core& loop, Children children)
      : base(loop), children_(std::move(children)), links_(make_links(children_)) {
    if (size() == 0) {
      finish();
      return;
    }
    this->add_ref();  // each_child below may complete us synchronously: stay alive through it
    each_child([&]<std::size_t I>(auto& child, auto& link, std::uint32_t index) {
      link.owner = this;
      link.index = index;
      link.on_done = &child_done<I>;
      if (child.state()->done()) {
        child_done<I>(link, *child.state());
      } else {
        child.state()->add_done_link(link);
      }
    });
    this->release();
  }

  ~gather_state() override {
    // Only children still running are touched: a finished child's state is cold memory by
    // now (or already gone), and child_done() already did what it needed.
    if (reported_ == size()) {
      return;
    }
    each_child([&]<std::size_t>(auto& child, auto& link, std::uint32_t) {
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
    each_child([&]<std::size_t>(auto& child, auto&, std::uint32_t) {
      if (child.state() != nullptr && child.cancel(message)) {
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
  static links_type make_links(const Children& children) {
    if constexpr (is_range) {
      return links_type(children.size());
    } else {
      return {};
    }
  }

  /// Calls visit.template operator()<I>(child, link, index) for each child: I is the tuple
  /// index (0 for the range form), index the child's position.
  template <class Visit>
  void each_child(Visit&& visit) {
    if constexpr (is_range) {
      for (std::uint32_t index = 0; index < children_.size(); ++index) {
        visit.template operator()<0>(children_[index], links_[index], index);
      }
    } else {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (visit.template operator()<I>(std::get<I>(children_), std::get<I>(links_),
                                      static_cast<std::uint32_t>(I)),
         ...);
      }(std::make_index_sequence<std::tuple_size_v<Children>>());
    }
  }

  [[nodiscard]] std::size_t size() const noexcept {
    if constexpr (is_range) {
      return children_.size();
    } else {
      return std::tuple_size_v<Children>;
    }
  }

  template <std::size_t I>
  auto& child_at(std::uint32_t index) noexcept {
    if constexpr (is_range) {
      return children_[index];
    } else {
      return std::get<I>(children_);
    }
  }

  template <std::size_t I>
  static constexpr bool owned() noexcept {
    if constexpr (is_range) {
      return Owned;
    } else {
      return Owned[I];
    }
  }

  template <std::size_t I>
  static void child_done(done_link& base_link, future_base& state) noexcept {
    auto& link = static_cast<link_type<I>&>(base_link);
    auto& self = *static_cast<gather_state*>(link.owner);  // a future_base* to a gather_state
    auto& child = self.template child_at<I>(link.index);
    // asyncio's gather retrieves every child's exception (raising it, returning it, or, once
    // the gather is done, consuming it), so a child's failure is never logged.
    state.mark_exception_retrieved();
    ++self.reported_;
    if (self.done()) {
      return;
    }
    if constexpr (!ReturnExceptions) {
      if (state.state() != future_base::status::finished) {
        if (state.cancelled()) {
          // asyncio: the gather fails with CancelledError; it is not itself cancelled.
          self.set_exception(std::make_exception_ptr(cancelled_error(state.cancel_message())));
        } else {
          self.set_exception(state.exception());
        }
        return;
      }
    }
    try {
      link.store(outcome_of<I>(child));
    } catch (...) {
      self.set_exception(std::current_exception());  // copying a shared child's value threw
      return;
    }
    if constexpr (is_task<std::remove_cvref_t<decltype(child)>>::value) {
      // The gather needs nothing more from a finished task: let it go now, while it is in
      // cache, instead of in the gather's destructor. (Tasks only: a task's finish holds the
      // loop's reference through its completion, a future's completion may not be so held.)
      child = {};
    }
    if (++self.finished_ == self.size()) {
      self.finish();
    }
  }

  template <std::size_t I, class Child>
  static auto outcome_of(Child& child) {
    if constexpr (ReturnExceptions) {
      using outcome = result<typename Child::value_type>;
      if (child.state()->state() != future_base::status::finished) {
        return outcome::failure(failure_of(*child.state()));
      }
      return outcome::success(take_value(child, owned<I>()));
    } else {
      return take_value(child, owned<I>());
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

  Result collect() {
    if constexpr (is_range) {
      Result values;
      values.reserve(links_.size());
      for (auto& link : links_) {
        values.push_back(std::move(link.outcome));
      }
      return values;
    } else {
      return std::apply([](auto&... link) { return Result(std::move(link.outcome)...); }, links_);
    }
  }

  Children children_;
  links_type links_;
  std::size_t finished_ = 0;  ///< children that finished with a value while the gather was pending
  std::size_t reported_ = 0;  ///< children whose completion reached child_done
  bool cancel_requested_ = false;
  std::string cancel_message_;
};

template <bool ReturnExceptions, class... Awaitables>
auto gather_variadic(Awaitables&&... awaitables) {
  using children = std::tuple<child_t<Awaitables>...>;
  using result_type = std::tuple<gathered_t<ReturnExceptions, child_t<Awaitables>>...>;
  using state =
      gather_state<result_type, children, ReturnExceptions,
                   std::array<bool, sizeof...(Awaitables)>{child_is_owned<Awaitables>...}>;
  children made{to_child(std::forward<Awaitables>(awaitables))...};  // braces: left to right
  std::apply([](auto&... child) { (require_child(child, "gather"), ...); }, made);
  loop_core& loop = loop_for_new_future();
  std::apply([&](auto&... child) { (require_loop(child, loop, "gather"), ...); }, made);
  return future<result_type>(
      state_ref<future_state<result_type>>::adopt(new state(loop, std::move(made))));
}

template <bool ReturnExceptions, class Range>
auto gather_range(Range&& awaitables) {
  using element = decltype(*std::begin(awaitables));
  using awaitable = std::conditional_t<std::is_lvalue_reference_v<Range>, element,
                                       std::remove_reference_t<element>&&>;
  using child = child_t<awaitable>;
  using result_type = std::vector<gathered_t<ReturnExceptions, child>>;
  using state =
      gather_state<result_type, std::vector<child>, ReturnExceptions, child_is_owned<awaitable>>;
  std::vector<child> made;
  if constexpr (!std::is_lvalue_reference_v<Range> &&
                std::is_same_v<std::remove_cvref_t<Range>, std::vector<child>>) {
    made = std::forward<Range>(awaitables);  // a vector of tasks (or futures) handed over whole
  } else {
    if constexpr (std::ranges::sized_range<Range>) {
      made.reserve(std::ranges::size(awaitables));
    }
    for (auto&& each : awaitables) {
      made.push_back(to_child(static_cast<awaitable>(each)));
    }
  }
  require_children(made, "gather");
  if (made.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("gather: more than 2^32 - 1 awaitables");
  }
  loop_core& loop = loop_for_new_future();
  require_loop(made, loop, "gather");
  return future<result_type>(
      state_ref<future_state<result_type>>::adopt(new state(loop, std::move(made))));
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
/// cancelled_error. Must be called with a running loop (std::runtime_error otherwise); a task
/// or future of another loop throws std::invalid_argument, an empty handle
/// invalid_state_error (coroutines before it are scheduled already).
///
/// Cancel safety: cancelling the awaiting task cancels every child, and the await throws
/// cancelled_error once a child has reported its cancellation.
template <class... Awaitables>
  requires(sizeof...(Awaitables) != 1 ||
           !(detail::gather_range_argument<std::remove_reference_t<Awaitables>> && ...))
auto gather(Awaitables&&... awaitables) {
  return detail::gather_variadic<false>(std::forward<Awaitables>(awaitables)...);
}

/// As gather, but every child's outcome is reported as a value: a std::tuple of eddy::result.
/// Neither failure nor cancellation of a child ends the gather early.
template <class... Awaitables>
  requires(sizeof...(Awaitables) != 1 ||
           !(detail::gather_range_argument<std::remove_reference_t<Awaitables>> && ...))
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
