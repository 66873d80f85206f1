// The out-of-line half of detail/file_op.hpp: the thread-pool route of a file operation, and
// the endings every file operation shares (cancellation, errors, stray descriptors).
#include "eddy/detail/file_op.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

#include "backend/backend.hpp"
#include "backend/perform.hpp"
#include "eddy/detail/ref_counted.hpp"
#include "eddy/detail/thread_call.hpp"
#include "eddy/loop.hpp"

namespace eddy {

bool event_loop::native_file_ops() const noexcept { return backend_->supports_file_ops(); }

}  // namespace eddy

namespace eddy::detail {

bool native_file_ops_of(loop_core& loop) noexcept { return loop.public_loop().native_file_ops(); }

/// What the awaiter and the worker share on the thread-pool route. Heap-allocated with two
/// references (the awaiter, the worker's runner), because either may be gone first: the
/// awaiter of a call cancelled before it started, the runner once the call has run.
///
/// state_: queued -> running -> finished (the worker ran the call), or queued -> skipped (the
/// awaiter gave up first; the worker will not touch the io_op). The worker reads the io_op,
/// which lives in the awaiting frame, only between queued -> running and -> finished; the
/// frame is not resumed or destroyed in that window.
class pool_file_job : public ref_counted<pool_file_job, ref_counting::atomic> {
 public:
  /// Two references: the awaiter's and the worker's.
  explicit pool_file_job(const io_op& op) noexcept : ref_counted(2), op_(&op) {}

  /// Worker: performs the operation unless the awaiter skipped it.
  void run() noexcept {
    std::uint8_t expected = queued;
    if (!state_.compare_exchange_strong(expected, running, std::memory_order_acq_rel)) {
      return;
    }
    result_ = perform::file_op(*op_);
    state_.store(finished, std::memory_order_release);
    state_.notify_all();
  }

  /// Loop thread: keeps a call that has not started from ever starting. False if it has.
  bool skip() noexcept {
    std::uint8_t expected = queued;
    return state_.compare_exchange_strong(expected, skipped, std::memory_order_acq_rel);
  }

  /// Loop thread, when the frame must go: blocks while a worker runs the call.
  void wait_until_not_running() noexcept { state_.wait(running, std::memory_order_acquire); }

  [[nodiscard]] bool ran() const noexcept {
    return state_.load(std::memory_order_acquire) == finished;
  }
  [[nodiscard]] std::int64_t result() const noexcept { return result_; }

 private:
  enum : std::uint8_t { queued, running, finished, skipped };

  const io_op* op_;
  std::int64_t result_ = -ECANCELED;
  std::atomic<std::uint8_t> state_{queued};
};

namespace {

/// The function the executor calls: runs the job, and holds the runner's reference to it
/// (released where the runner is destroyed: on the worker after the call, or on the loop
/// thread if the call is dropped before it starts).
class pool_file_runner {
 public:
  explicit pool_file_runner(pool_file_job* job) noexcept : job_(job) {}
  pool_file_runner(pool_file_runner&& other) noexcept : job_(std::exchange(other.job_, nullptr)) {}
  pool_file_runner(const pool_file_runner&) = delete;
  pool_file_runner& operator=(const pool_file_runner&) = delete;
  pool_file_runner& operator=(pool_file_runner&&) = delete;
  ~pool_file_runner() {
    if (job_ != nullptr) {
      job_->release();
    }
  }

  void operator()() noexcept { job_->run(); }

 private:
  pool_file_job* job_;
};

using pool_file_call = worker_call_of<void, pool_file_runner>;

}  // namespace

bool file_awaiter_base::start_on_pool() {
  auto* job = new pool_file_job(*this);
  pool_file_call* call = nullptr;
  try {
    call = new pool_file_call(pool_file_runner(job));  // the runner owns one reference
  } catch (...) {
    job->release();
    job->release();
    throw;
  }
  try {
    call->watch(this, &pool_call_delivered);
    call->start(waiting_task().loop(), nullptr);
  } catch (...) {
    // The default executor is shut down: nothing runs. The error is thrown from await_resume.
    call->abandon();
    job->release();
    waiting_task().end_wait_keep_result();
    start_error_ = std::current_exception();
    return false;
  }
  pool_call_ = call;
  pool_job_ = job;
  return true;
}

void file_awaiter_base::pool_call_delivered(void* owner, worker_call_base& call) noexcept {
  auto& self = *static_cast<file_awaiter_base*>(owner);
  if (call.discarded()) {
    self.executor_dropped_ = true;
    self.result = -ECANCELED;
  } else {
    self.result = self.pool_job_->result();
  }
  self.let_go_of_pool_call();
  self.resume();
}

void file_awaiter_base::let_go_of_pool_call() noexcept {
  std::exchange(pool_call_, nullptr)->abandon();
  std::exchange(pool_job_, nullptr)->release();
}

bool file_awaiter_base::cancel_wait(task_base& waiter) noexcept {
  if (pool_call_ == nullptr) {
    return io_wait::cancel_wait(waiter);  // io_uring's route (or nothing in flight)
  }
  if (cancel_requested()) {
    return false;
  }
  note_cancel_requested();
  if (pool_job_->skip()) {
    // No worker has it, and none ever will touch this frame: resume now.
    let_go_of_pool_call();
    result = -ECANCELED;
    resume();
  }
  // Otherwise a worker is running it: the task resumes when its outcome is delivered.
  return true;
}

file_awaiter_base::~file_awaiter_base() {
  // An io_uring operation still in flight stops the process in ~kernel_op.
  if (pool_call_ != nullptr) {
    // A closing loop destroys the frame of a task whose call is still on the pool. A worker
    // running it may be writing into this frame: wait for it (the kernel-side equivalent is
    // the loop's drain of io_uring operations).
    if (!pool_job_->skip()) {
      pool_job_->wait_until_not_running();
      if (pool_job_->ran()) {
        result = pool_job_->result();
      }
    }
    let_go_of_pool_call();
  }
  if (result_is_descriptor_ && started() && !settled_ && result >= 0) {
    // An open that completed but whose task never resumed to take the descriptor.
    (void)perform::close(static_cast<int>(result));
  }
}

std::int64_t file_awaiter_base::settle_file() {
  settled_ = true;
  if (start_error_) {
    std::rethrow_exception(start_error_);  // the wait already ended in await_suspend
  }
  const std::int64_t outcome = settle(result);  // throws when a cancellation took effect
  if (executor_dropped_) {
    throw cancelled_error("the executor was shut down before the file operation started");
  }
  return outcome;
}

int file_open_awaiter::await_resume() {
  // A cancelled open that completed anyway: the descriptor would have no owner, so close it
  // and let the cancellation take effect.
  const bool cancelled_late = cancel_requested() && result >= 0;
  if (cancelled_late) {
    (void)perform::close(static_cast<int>(result));
    result = -ECANCELED;
  }
  const std::int64_t outcome = settle_file();
  if (outcome < 0) {
    throw std::system_error(static_cast<int>(-outcome), std::system_category(),
                            "open_file '" + path_ + "'");
  }
  return static_cast<int>(outcome);
}

void file_close_awaiter::await_resume() {
  if (result == -ECANCELED) {
    // Never ran (cancelled first): the descriptor is still open, and no one else has it.
    (void)perform::close(fd);
  }
  finish();
}

}  // namespace eddy::detail
