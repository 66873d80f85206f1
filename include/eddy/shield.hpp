// eddy::shield: protect an awaitable from the cancellation of whoever awaits it (asyncio.shield).
#pragma once

#include <string>
#include <utility>

#include "eddy/detail/awaitable_child.hpp"
#include "eddy/future.hpp"

namespace eddy {

namespace detail {

/// The outer future of a shield: a copy of the inner outcome, cancelled on its own.
template <class Child>
class shield_state final : public future_state<typename Child::value_type> {
  using base = future_state<typename Child::value_type>;

 public:
  shield_state(loop_core& loop, Child inner, bool owned)
      : base(loop), inner_(std::move(inner)), owned_(owned) {
    link_.owner = this;
    link_.on_done = &inner_done;
    if (inner_.state()->done()) {
      copy_outcome();
    } else {
      inner_.state()->add_done_link(link_);
    }
  }
  ~shield_state() override { inner_.state()->remove_done_link(link_); }

  /// Cancels the shield only; the inner work runs on.
  bool cancel(std::string message) override {
    bool cancelled = base::cancel(std::move(message));
    if (cancelled) {
      inner_.state()->remove_done_link(link_);
    }
    return cancelled;
  }

 private:
  static void inner_done(done_link& link, future_base&) noexcept {
    static_cast<shield_state*>(static_cast<future_link&>(link).owner)->copy_outcome();
  }

  void copy_outcome() noexcept {
    future_base& inner = *inner_.state();
    if (this->done()) {
      inner.mark_exception_retrieved();
      return;
    }
    try {
      switch (inner.state()) {
        case future_base::status::cancelled:
          base::cancel(inner.cancel_message());
          break;
        case future_base::status::failed:
          this->set_exception(inner.exception());
          break;
        default:
          if constexpr (std::is_void_v<typename Child::value_type>) {
            this->set_result();
          } else {
            this->set_result(take_value(inner_, owned_));
          }
      }
    } catch (...) {
      if (!this->done()) {
        this->set_exception(std::current_exception());
      }
    }
  }

  Child inner_;
  bool owned_;
  future_link link_;
};

}  // namespace detail

/// Runs `awaitable` (scheduled as a task if it is a coroutine) and returns a future of its
/// outcome that can be cancelled without cancelling it (asyncio.shield). Throws
/// invalid_state_error for an empty task or future handle, and std::runtime_error when a
/// coroutine is given with no running loop (it must become a task).
///
/// Cancel safety: cancelling the task that awaits the shield cancels only the shield: the
/// await throws cancelled_error at once and the inner work runs to completion (the loop keeps
/// it alive). Cancelling the inner work itself makes the shield end cancelled.
template <class Awaitable>
[[nodiscard]] auto shield(Awaitable&& awaitable) {
  using child = detail::child_t<Awaitable>;
  using value_type = typename child::value_type;
  constexpr bool owned = detail::child_is_owned<Awaitable>;
  child inner = detail::to_child(std::forward<Awaitable>(awaitable));
  detail::require_child(inner, "shield");
  detail::loop_core& loop = inner.state()->loop();
  return future<value_type>(detail::state_ref<detail::future_state<value_type>>::adopt(
      new detail::shield_state<child>(loop, std::move(inner), owned)));
}

}  // namespace eddy
