// Out-of-line parts of futures, tasks and callbacks: reports of errors nobody retrieved.
#include <cstdio>
#include <stdexcept>

#include "describe.hpp"
#include "eddy/loop.hpp"

namespace eddy::detail {

namespace {

/// Sends a report to the loop's handler if the loop still exists, else to stderr.
void report(loop_core* loop, const exception_context& context) noexcept {
  if (loop_core::is_live(loop)) {
    loop->call_exception_handler(context);
    return;
  }
  try {
    std::string text = "eddy: " + context.message;
    if (!context.task_name.empty()) {
      text += "\n  task: " + context.task_name;
    }
    if (context.exception) {
      text += "\n  exception: " + describe_exception(context.exception);
    }
    text += '\n';
    std::fputs(text.c_str(), stderr);
  } catch (...) {
    std::fputs("eddy: an error was lost while being reported\n", stderr);
  }
}

}  // namespace

void future_base::report_if_unretrieved(const std::string& name) noexcept {
  if (status_ != status::failed || exception_retrieved_) {
    return;
  }
  exception_retrieved_ = true;  // once
  try {
    report(loop_, {is_task_ ? "Task exception was never retrieved"
                            : "Future exception was never retrieved",
                   rare_->exception, name});
  } catch (...) {
    report(loop_, {"Task exception was never retrieved", rare_->exception, {}});
  }
}

void future_base::rethrow_unsuccessful(const char* operation) {
  switch (status_) {
    case status::pending:
      throw invalid_state_error(std::string(operation) + ": the result is not set yet");
    case status::cancelled:
      throw cancelled_error(cancel_message());
    case status::failed:
      exception_retrieved_ = true;
      std::rethrow_exception(rare_->exception);
    case status::finished:
      break;
  }
  throw std::logic_error("rethrow_unsuccessful: the future finished");
}

void future_base::report_unretrieved_future() noexcept { report_if_unretrieved("Future"); }

void task_base::report_unretrieved_task() noexcept {
  // Here, not in ~future_base: a base destructor would not see the task's name.
  try {
    report_if_unretrieved(get_name());
  } catch (...) {
    report_if_unretrieved("Task");
  }
}

void user_done_callback::invoke_and_report() noexcept {
  if (loop_of_callback_->is_closed_for_callbacks()) {
    return;
  }
  context_scope in_context(context_);
  try {
    invoke();
  } catch (...) {
    std::string owner;
    try {
      owner = owner_name();
    } catch (...) {
    }
    loop_of_callback_->call_exception_handler(
        {"Exception in a done callback", std::current_exception(), owner});
  }
}

void callback_node::cancel() noexcept {
  if (cancelled_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  if (queued()) {
    // A timer on the heap: take it off now (loop thread only) rather than let it sit there
    // until its deadline.
    loop_->remove_timer(*this);
    release();  // the loop's reference
  }
}

void callback_node::run_callback(ready_node& node) noexcept {
  auto& self = static_cast<callback_node&>(node);
  if (!self.cancelled() && !self.loop_->is_closed_for_callbacks()) {
    context_scope in_context(self.context_);
    try {
      self.invoke();
    } catch (...) {
      self.loop_->call_exception_handler({"Exception in callback", std::current_exception(), {}});
    }
  }
  self.release();  // the loop's reference
}

}  // namespace eddy::detail
