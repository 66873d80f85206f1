// timeout_scope: asyncio.Timeout's state machine.
#include "eddy/timeout.hpp"

#include <stdexcept>

namespace eddy {

void timeout_scope::enter(detail::timeout_scope_key) {
  task_ = current_task();
  if (!task_) {
    throw std::logic_error("timeout() must be awaited inside an eddy task");
  }
  cancelling_on_entry_ = task_.cancelling();
  state_ = state::entered;
  arm();
}

void timeout_scope::reschedule(std::optional<clock::time_point> when) {
  if (state_ != state::entered) {
    throw std::logic_error(state_ == state::created
                               ? "timeout_scope::reschedule: the scope has not started"
                               : "timeout_scope::reschedule: the scope has expired or ended");
  }
  when_ = when;
  arm();
}

void timeout_scope::arm() {
  timer_.cancel();
  timer_ = handle();
  if (!when_) {
    return;
  }
  event_loop& loop = get_running_loop();
  if (*when_ <= loop.time()) {
    // Already due: asyncio uses call_soon, so the expiry runs before a task that only yields.
    timer_ = loop.call_soon([this] { on_deadline(); });
  } else {
    timer_ = loop.call_at(*when_, [this] { on_deadline(); });
  }
}

void timeout_scope::on_deadline() {
  task_.cancel();
  state_ = state::expiring;
}

void timeout_scope::exit(detail::timeout_scope_key, std::exception_ptr failure) {
  timer_.cancel();
  if (state_ == state::expiring) {
    state_ = state::expired;
    if (task_.uncancel() <= cancelling_on_entry_ && failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const cancelled_error&) {
        std::throw_with_nested(timeout_error("timed out"));  // "raise TimeoutError from exc"
      } catch (...) {
      }
    }
  } else if (state_ == state::entered) {
    state_ = state::exited;
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

}  // namespace eddy
