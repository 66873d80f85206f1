// A task waiting for an operation the kernel holds: DESIGN.md §6's cancellation, written once.
// Every awaiter that suspends a task on the kernel is an io_wait on a kernel_op
// (detail/kernel_op.hpp): socket and datagram operations, file operations, the stream receive
// path, multishot accept.
//
// The rules it enforces:
//  - cancelling a waiting task asks the kernel to stop, and the task resumes only when the
//    original completion arrives (the kernel never writes into a freed frame);
//  - a result that arrived before the cancel took effect is not lost: it is delivered, and the
//    cancellation is thrown at the task's next await instead (or it stays where it is kept,
//    such as a stream's buffer, and the await throws cancelled_error).
#pragma once

#include <coroutine>
#include <cstdint>
#include <system_error>

#include "eddy/detail/kernel_op.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

/// A task suspended until one kernel_op completes. The awaiter that derives from it starts
/// the operation with wait_for() (after begin()), the operation's handler calls resume(), and
/// await_resume ends the wait with one of the settle functions, which apply §6's rules.
///
/// A cancel of the task asks the kernel to stop the operation and keeps the task suspended
/// until the completion arrives. Where the waiter owns nothing the kernel uses (a multishot
/// operation feeding a buffer or a queue), an override of cancel_wait lets it go at once with
/// leave_now().
class io_wait : public wait_base {
 public:
  io_wait(const io_wait&) = delete;
  io_wait& operator=(const io_wait&) = delete;

  [[nodiscard]] std::string describe_wait() const override { return what_; }

 protected:
  /// `what` names the operation in errors ("sock_recv", "file::read").
  explicit io_wait(const char* what) noexcept : what_(what) {}
  ~io_wait() = default;

  /// The first half of await_suspend: the running task becomes the waiter. False when a
  /// cancellation is pending: nothing may be started, and the settle functions throw it.
  /// Throws std::logic_error outside a task.
  [[nodiscard]] bool begin(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running(what_);
    if (!task_->begin_wait(awaiting, this)) {
      return false;
    }
    started_ = true;
    return true;
  }

  /// The second half: starts `op` and makes it the operation a cancel stops. Returns whether
  /// the task suspends (false: it completed at once). If the start throws, the wait is over
  /// and the exception propagates from the await.
  [[nodiscard]] bool wait_for(kernel_op& op) {
    stops_on_cancel(op);
    try {
      return !op.start(task_->loop());
    } catch (...) {
      task_->end_wait_keep_result();
      throw;
    }
  }

  /// await_suspend for the usual awaiter: begin(), then wait_for(op).
  [[nodiscard]] bool suspend_on(std::coroutine_handle<> awaiting, kernel_op& op) {
    return begin(awaiting) && wait_for(op);
  }

  /// Makes `op`, started by the caller, the operation a cancel of this wait stops.
  void stops_on_cancel(kernel_op& op) noexcept { op_ = &op; }

  /// The operation completed: the task resumes.
  void resume() noexcept { task_->wake(); }

  /// Ends the wait for an operation whose result must not be lost, and returns `result`
  /// (>= 0, or -errno). Throws cancelled_error when the cancellation was pending before the
  /// start or took effect (a negative result after a cancel). A result that arrived despite
  /// the cancel is returned, and the cancellation is delivered at the task's next await.
  std::int64_t settle(std::int64_t result) {
    if (!started_) {
      task_->end_wait(false);  // a cancellation was pending: throws
    }
    if (cancel_requested_ && result < 0) {
      task_->end_wait(true);  // the cancel took effect: throws cancelled_error
    }
    task_->end_wait_keep_result();
    if (cancel_requested_) {
      task_->keep_cancel_pending();
    }
    return result;
  }

  /// settle(), turning a failure into std::system_error(errno, what).
  std::int64_t settle_or_throw(std::int64_t result) {
    const std::int64_t outcome = settle(result);
    if (outcome < 0) {
      throw_system_error(outcome);
    }
    return outcome;
  }

  /// Throws std::system_error(-outcome, what) for a failed operation's result.
  [[noreturn]] void throw_system_error(std::int64_t outcome) const {
    throw std::system_error(static_cast<int>(-outcome), std::system_category(), what_);
  }

  /// Ends a wait whose result is kept elsewhere (bytes received into a stream's buffer, a
  /// queue of accepted descriptors): throws cancelled_error when the task was cancelled,
  /// whatever arrived.
  void settle_kept_elsewhere() { task_->end_wait(cancel_requested_ || !started_); }

  /// The default cancel: ask the kernel to stop; the task resumes with the completion. False
  /// when the operation is not in flight (its result is already on the way).
  bool cancel_wait(task_base& /*waiter*/) noexcept override {
    if (cancel_requested_ || op_ == nullptr || !op_->in_flight()) {
      return false;
    }
    cancel_requested_ = true;
    op_->cancel();
    return true;
  }

  /// For a cancel_wait override whose waiter owns nothing the kernel uses: the task resumes
  /// now, and the settle functions see the cancel. Returns what cancel_wait returns.
  bool leave_now() noexcept {
    if (cancel_requested_) {
      return false;
    }
    cancel_requested_ = true;
    task_->wake();
    return true;
  }

  /// For a cancel_wait override that stops the operation its own way (a thread-pool call).
  void note_cancel_requested() noexcept { cancel_requested_ = true; }

  [[nodiscard]] bool began() const noexcept { return task_ != nullptr; }
  [[nodiscard]] bool started() const noexcept { return started_; }
  [[nodiscard]] bool cancel_requested() const noexcept { return cancel_requested_; }
  [[nodiscard]] task_base& waiting_task() const noexcept { return *task_; }
  [[nodiscard]] const char* what() const noexcept { return what_; }

 private:
  const char* what_;
  task_base* task_ = nullptr;
  kernel_op* op_ = nullptr;  ///< what a cancel stops
  bool started_ = false;     ///< begin() succeeded
  bool cancel_requested_ = false;
};

}  // namespace eddy::detail
