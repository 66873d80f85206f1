// runner: asyncio.Runner's life cycle.
#include "eddy/run.hpp"

#include <stdexcept>

namespace eddy {

event_loop& runner::get_loop() {
  if (closed_) {
    throw std::runtime_error("runner: already closed");
  }
  if (!loop_) {
    loop_.emplace(options_);
  }
  return *loop_;
}

void runner::check_can_run() const {
  if (detail::running_loop_on_thread != nullptr) {
    throw std::runtime_error("eddy::run() cannot be called from a running event loop");
  }
  if (closed_) {
    throw std::runtime_error("runner: already closed");
  }
}

runner::interrupt_scope::interrupt_scope(runner& owner, any_task main_task) : owner_(owner) {
  installed_ = detail::install_interrupt_handler(*owner.loop_, [&owner, main_task]() mutable {
    ++owner.interrupt_count_;
    if (!main_task.done()) {
      main_task.cancel();
    }
  });
}

runner::interrupt_scope::~interrupt_scope() {
  if (installed_) {
    detail::remove_interrupt_handler(*owner_.loop_);
  }
}

void runner::throw_if_interrupted(any_task main_task) {
  if (interrupt_count_ > 0 && main_task.uncancel() == 0) {
    throw keyboard_interrupt();
  }
}

void runner::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (!loop_) {
    return;
  }
  event_loop& loop = *loop_;
  try {
    // asyncio's _cancel_all_tasks: cancel what is left, let it finish, report real failures.
    std::vector<any_task> leftovers = loop.pending_tasks();
    if (!leftovers.empty()) {
      for (any_task& task : leftovers) {
        task.cancel();
      }
      future<void> all_finished = loop.create_future<void>();
      std::size_t remaining = leftovers.size();
      for (any_task& task : leftovers) {
        task.add_done_callback([&remaining, all_finished]() mutable {
          if (--remaining == 0) {
            all_finished.set_result();
          }
        });
      }
      loop.run_until_complete(all_finished);
      for (any_task& task : leftovers) {
        if (task.done() && !task.cancelled() && task.exception()) {
          loop.call_exception_handler({"unhandled exception during eddy::run() shutdown",
                                       task.exception(), task.get_name()});
        }
      }
    }
  } catch (...) {
    loop.call_exception_handler(
        {"error while cancelling leftover tasks in eddy::run()", std::current_exception(), {}});
  }
  try {
    // asyncio's shutdown_default_executor: the loop runs while the workers finish.
    if (!loop.is_closed()) {
      loop.run_until_complete(loop.shutdown_default_executor());
    }
  } catch (...) {
    loop.call_exception_handler(
        {"error while shutting down the default executor", std::current_exception(), {}});
  }
  try {
    loop.close();
  } catch (...) {
    loop.call_exception_handler({"error while closing the loop", std::current_exception(), {}});
  }
  loop_.reset();
}

}  // namespace eddy
