// The untyped part of a task: the coroutine it drives, cancellation requests, naming, and the
// protocol every eddy awaitable follows to suspend a task and resume it.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/detail/context_state.hpp"
#include "eddy/detail/frame_record.hpp"
#include "eddy/detail/future_base.hpp"

namespace eddy::detail {

/// The current context's slot (never null; what it holds may be): a callback's or a
/// context::run's (current_context_slot), else the running task's, else the thread's own.
[[nodiscard]] context_cell*& current_context() noexcept;

/// A copy of the current context for something being scheduled (a task, a callback, a
/// to_thread call), adopted by the caller; null while no variable has a value there, which is
/// the spawn hot path: a few thread-local loads and compares. Throws std::bad_alloc.
[[nodiscard]] context_cell* capture_context();

/// The current context for writing: a slot still empty gets a new cell (the thread's own is
/// then released at thread exit). Throws std::bad_alloc.
[[nodiscard]] context_cell& current_context_for_writing();

class task_base : public future_base, public ready_node {
 public:
  /// Task.cancel(): asks the task to stop. If it is suspended in an interruptible wait, that
  /// wait ends and its co_await throws cancelled_error; otherwise the request is kept and the
  /// next co_await that would suspend throws instead. Returns false if the task is done.
  bool cancel(std::string message) override {
    if (done()) {
      return false;
    }
    ++cancel_requests_;
    set_cancel_message(std::move(message));
    if (waiting_ != nullptr && waiting_->cancel_wait(*this)) {
      return true;
    }
    must_cancel_ = true;
    return true;
  }

  /// Task.cancelling(): cancellation requests not yet withdrawn with uncancel().
  [[nodiscard]] std::uint32_t cancelling() const noexcept { return cancel_requests_; }

  /// Task.uncancel() (3.13 semantics): withdraws one request; when none is left, a request not
  /// yet delivered is dropped too. Returns the remaining count.
  std::uint32_t uncancel() noexcept {
    if (cancel_requests_ > 0) {
      --cancel_requests_;
      if (cancel_requests_ == 0) {
        must_cancel_ = false;
      }
    }
    return cancel_requests_;
  }

  [[nodiscard]] std::string get_name() const {
    return rare_ && rare_->has_name ? rare_->name : "Task-" + std::to_string(id_);
  }
  void set_name(std::string name) {
    rare().name = std::move(name);
    rare_->has_name = true;
  }
  [[nodiscard]] std::string describe() const override { return get_name(); }

  // --- the suspension protocol, used by every eddy awaitable -------------------------------

  /// Called from await_suspend. Records where to resume and what the task waits in. Returns
  /// false (do not suspend; await_resume will throw) when a cancellation is pending.
  [[nodiscard]] bool begin_wait(std::coroutine_handle<> resume_point, wait_base* wait) noexcept {
    if (must_cancel_) {
      return false;
    }
    resume_point_ = resume_point;
    waiting_ = wait;
    return true;
  }

  /// Called first thing in await_resume. Throws cancelled_error if the wait itself was
  /// cancelled, or if a cancellation arrived while the task was queued to resume.
  void end_wait(bool wait_was_cancelled) {
    waiting_ = nullptr;
    if (wait_was_cancelled || must_cancel_) {
      must_cancel_ = false;
      throw cancelled_error(cancel_message());
    }
  }

  /// Like end_wait, for a wait whose result must be delivered even though a cancellation came
  /// too late to stop it (I/O that moved bytes): the cancellation stays pending for the next
  /// await instead.
  void end_wait_keep_result() noexcept { waiting_ = nullptr; }

  /// Queues the task to resume at its recorded resume point. The wait is over: a cancel that
  /// arrives from now on is delivered when the task resumes.
  void wake() noexcept {
    waiting_ = nullptr;
    loop_->schedule(*this);
  }

  /// Whether a cancellation is waiting to be delivered at the next await.
  [[nodiscard]] bool cancel_pending() const noexcept { return must_cancel_; }
  void keep_cancel_pending() noexcept { must_cancel_ = true; }

  /// The task currently running on this thread; throws std::logic_error outside any task.
  static task_base& running(const char* what) {
    task_base* task = running_task_on_thread;
    if (task == nullptr) {
      throw std::logic_error(std::string(what) + " must be awaited inside an eddy task");
    }
    return *task;
  }

  /// For a closing loop: destroys the body of a task that will now never finish and drops the
  /// loop's reference. The task stays pending.
  void abandon() noexcept {
    waiting_ = nullptr;
    if (body_) {
      remember_body_end(body_frame()->where);
      body_.destroy();
      body_ = nullptr;
    }
    loop_->unregister_task(*this);
    release();
  }

  /// The context the task runs in (Task.get_context()): made now if the task has had none
  /// yet, since no variable had a value where it was created. Throws std::bad_alloc.
  [[nodiscard]] context_cell& context() {
    if (context_ == nullptr) {
      context_ = new context_cell();
    }
    return *context_;
  }

  /// The frame record of the task's own coroutine (the top of its call stack), or null once
  /// the body is gone (finished, or abandoned by a closing loop).
  [[nodiscard]] virtual const frame_record* body_frame() const noexcept = 0;

  /// Where the task's coroutine is: its body's frame record's `where` while the body exists,
  /// else where the body last was when it finished (empty if it never ran).
  [[nodiscard]] std::source_location coro_where() const noexcept {
    if (const frame_record* frame = body_frame()) {
      return frame->where;
    }
    return body_ended_ ? finished_at_ : std::source_location();
  }

  /// Whether the task's coroutine has run its first step.
  [[nodiscard]] bool started() const noexcept { return started_; }

  /// The innermost frame of the task's call stack: the coro it awaits in place, the coro that
  /// one awaits, and so on; the body's own frame if it awaits no coro. Null once the body is
  /// gone.
  [[nodiscard]] const frame_record* innermost_frame() const noexcept {
    const frame_record* frame = body_frame();
    while (frame != nullptr && frame->awaiting != nullptr) {
      frame = frame->awaiting;
    }
    return frame;
  }

  /// What the task waits in while suspended, or null (running, queued to run, or done).
  [[nodiscard]] const wait_base* waiting_in() const noexcept { return waiting_; }

  /// The task a ready node belongs to, or null if the node is something else.
  [[nodiscard]] static task_base* task_of(ready_node& node) noexcept {
    return node.run == &step ? static_cast<task_base*>(&node) : nullptr;
  }

 protected:
  task_base(loop_core& loop, std::coroutine_handle<> body) noexcept
      : future_base(loop, true), body_(body), resume_point_(body) {
    run = &step;
    id_ = next_id();
  }

  ~task_base() override {
    if (status_ == status::failed && !exception_retrieved_) [[unlikely]] {
      report_unretrieved_task();
    }
    if (body_) [[unlikely]] {
      body_.destroy();  // a task released while pending by a loop that never ran it
    }
    release_context(context_);
  }

  /// Registers with the loop and schedules the first step (asyncio's create_task). With
  /// `eager`, and the loop running on this thread, the first step runs now instead, inside the
  /// caller (3.12's eager tasks): the coroutine runs until it first suspends, as the current
  /// task, and a coroutine that finishes there leaves the task done before start() returns.
  /// The task runs in `given` (referenced once more) if not null, else in a copy of the
  /// current context (contextvars.copy_context, free while no variable has a value).
  /// Throws std::bad_alloc if the loop's task registry cannot grow or the context cannot be
  /// copied (nothing is scheduled then).
  void start(bool eager, context_cell* given = nullptr) {
    if (given != nullptr) [[unlikely]] {
      given->add_ref();
      context_ = given;
    } else {
      context_ = capture_context();
    }
    loop_->register_task(*this);
    add_ref();  // the loop's reference, dropped when the task finishes
    if (eager && running_loop_on_thread == loop_) [[unlikely]] {
      // The step runs in this task's context, not in a callback's or a context::run's that
      // may be current here.
      context_cell** outer_context = std::exchange(current_context_slot, nullptr);
      step(*this);
      current_context_slot = outer_context;
    } else {
      loop_->schedule(*this);
    }
  }

  /// The destructor's "Task exception was never retrieved" report (out of line: cold).
  void report_unretrieved_task() noexcept;

  /// Moves the finished body's outcome into the task and destroys the body's frame (calling
  /// remember_body_end first). Returns the task's final status.
  virtual status collect_body_outcome() noexcept = 0;

  /// Keeps where the finished body last was (its frame record's `where`), for coro_where():
  /// the resume point is spent, so its storage holds it.
  void remember_body_end(std::source_location ended_at) noexcept {
    std::construct_at(&finished_at_, ended_at);
    body_ended_ = true;
  }

  std::coroutine_handle<> body_;

 private:
  static void step(ready_node& node) noexcept {
    auto& task = static_cast<task_base&>(node);
    if (!task.body_ || task.loop_->is_closed_for_callbacks()) {
      return;  // abandoned by a closing loop
    }
    if (!task.started_ && task.must_cancel_) [[unlikely]] {
      task.cancel_before_start();
      return;
    }
    task.started_ = true;
    task_base* outer = std::exchange(running_task_on_thread, &task);
    task.resume_point_.resume();
    running_task_on_thread = outer;
    if (task.body_.done()) {
      task.finish_body();
    }
  }

  // step()'s less frequent parts, out of line so that a step that only resumes stays small.

  /// asyncio throws CancelledError into a coroutine that has not started: nothing of its body
  /// runs.
  [[gnu::noinline]] void cancel_before_start() noexcept {
    must_cancel_ = false;
    remember_body_end(body_frame()->where);
    body_.destroy();
    body_ = nullptr;
    finish(status::cancelled);
  }

  [[gnu::noinline]] void finish_body() noexcept { finish(collect_body_outcome()); }

  void finish(status final_status) noexcept {
    loop_->unregister_task(*this);
    complete(final_status);
    release();  // the loop's reference
  }

  /// Task ids are unique across threads (names "Task-<id>" as in Python), but an atomic
  /// increment per spawn costs more than the rest of the bookkeeping together, so each thread
  /// takes them from the shared counter in blocks. One thread spawning alone still counts
  /// 1, 2, 3, ...
  static std::uint64_t next_id() noexcept {
    struct id_block {
      std::uint64_t next = 0;
      std::uint64_t end = 0;
    };
    thread_local id_block block;
    if (block.next == block.end) {
      block.next = next_id_block_.fetch_add(id_block_size, std::memory_order_relaxed);
      block.end = block.next + id_block_size;
    }
    return ++block.next;
  }
  static constexpr std::uint64_t id_block_size = 1024;
  inline static std::atomic<std::uint64_t> next_id_block_{0};

  union {
    std::coroutine_handle<> resume_point_{};  ///< while the body exists
    std::source_location finished_at_;        ///< once it has finished (body_ended_)
  };
  wait_base* waiting_ = nullptr;
  context_cell* context_ = nullptr;  ///< null: empty so far (no variable had a value)

  friend context_cell*& current_context() noexcept;
  friend context_cell* capture_context();
  std::uint64_t id_ = 0;
  std::uint32_t cancel_requests_ = 0;

 public:
  /// Loop bookkeeping: where the loop's registry of pending tasks holds this one.
  std::uint32_t registry_slot = 0;

 private:
  bool must_cancel_ = false;
  bool started_ = false;
  bool body_ended_ = false;
};

inline context_cell*& current_context() noexcept {
  if (context_cell** slot = current_context_slot) [[unlikely]] {
    return *slot;
  }
  if (task_base* task = running_task_on_thread) [[likely]] {
    return task->context_;
  }
  return thread_context;
}

inline context_cell* capture_context() {
  // current_context() by value: loads, no address arithmetic for the thread's own slot.
  context_cell* cell;
  if (context_cell** slot = current_context_slot) [[unlikely]] {
    cell = *slot;
  } else if (task_base* task = running_task_on_thread) [[likely]] {
    cell = task->context_;
  } else {
    cell = thread_context;
  }
  if (cell == nullptr || cell->empty()) [[likely]] {
    return nullptr;
  }
  return cell->copy();
}

}  // namespace eddy::detail
