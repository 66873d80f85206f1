// The shared state behind eddy::concurrent_future (Python's concurrent.futures.Future), and
// the two things that fill one in: a call submitted to a thread pool, and a coroutine run on
// a loop for another thread (run_coroutine_threadsafe).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/detail/loop_mailbox.hpp"
#include "eddy/detail/ref_counted.hpp"
#include "eddy/detail/result_slot.hpp"
#include "eddy/detail/thread_invocation.hpp"
#include "eddy/detail/thread_work.hpp"
#include "eddy/errors.hpp"
#include "eddy/task.hpp"

namespace eddy::detail {

/// Thread-safe: every member may be called from any thread. The reference count is atomic.
class concurrent_state_base : public ref_counted<concurrent_state_base, ref_counting::atomic> {
 public:
  /// pending -> running (an executor started the call) -> finished | failed; pending ->
  /// cancelled. Never changes again once finished, failed or cancelled. Written under mutex_,
  /// readable without it.
  enum class status : std::uint8_t { pending, running, finished, failed, cancelled };

  [[nodiscard]] status state() const noexcept { return status_.load(std::memory_order_acquire); }
  [[nodiscard]] bool done() const noexcept {
    status now = state();
    return now == status::finished || now == status::failed || now == status::cancelled;
  }

  /// Python's Future.cancel(): false if the call is running or done; otherwise the state
  /// becomes cancelled (waiters wake) and true.
  bool cancel() {
    {
      std::lock_guard guard(mutex_);
      status now = status_.load(std::memory_order_relaxed);
      if (now == status::cancelled) {
        return true;
      }
      if (now != status::pending) {
        return false;
      }
      status_.store(status::cancelled, std::memory_order_release);
    }
    done_.notify_all();
    on_cancelled();
    return true;
  }

  /// Blocks until done.
  void wait() const {
    if (done()) {
      return;
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return done(); });
  }

  /// Blocks until done or `deadline`; returns whether it is done.
  template <class Clock, class Duration>
  bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) const {
    if (done()) {
      return true;
    }
    std::unique_lock lock(mutex_);
    return done_.wait_until(lock, deadline, [this] { return done(); });
  }

  /// Waits, then throws what get() would throw for a cancelled or failed state.
  void wait_and_rethrow() const {
    wait();
    switch (state()) {
      case status::cancelled:
        throw cancelled_error();
      case status::failed:
        std::rethrow_exception(exception_);
      default:
        return;
    }
  }

  /// Waits; null if it succeeded, the exception if it failed; cancelled_error if cancelled.
  [[nodiscard]] std::exception_ptr exception() const {
    wait();
    if (state() == status::cancelled) {
      throw cancelled_error();
    }
    return state() == status::failed ? exception_ : nullptr;
  }

 protected:
  friend class ref_counted<concurrent_state_base, ref_counting::atomic>;
  concurrent_state_base() noexcept = default;
  virtual ~concurrent_state_base() = default;

  /// Python's set_running_or_notify_cancel(): false if cancelled (the call must not run).
  bool set_running() noexcept {
    std::lock_guard guard(mutex_);
    if (status_.load(std::memory_order_relaxed) == status::cancelled) {
      return false;
    }
    status_.store(status::running, std::memory_order_release);
    return true;
  }

  /// Makes `final_status` visible (the value or exception_ is already stored) unless the
  /// state was cancelled meanwhile; returns whether it was taken.
  bool publish(status final_status) noexcept {
    {
      std::lock_guard guard(mutex_);
      status now = status_.load(std::memory_order_relaxed);
      if (now != status::pending && now != status::running) {
        return false;
      }
      status_.store(final_status, std::memory_order_release);
    }
    done_.notify_all();
    return true;
  }

  /// Called once, after cancel() succeeded, on the thread that cancelled.
  virtual void on_cancelled() noexcept {}

  std::exception_ptr exception_;  ///< set before publish(failed)

 private:
  std::atomic<status> status_{status::pending};
  mutable std::mutex mutex_;
  mutable std::condition_variable done_;
};

template <class T>
class concurrent_state : public concurrent_state_base {
 public:
  using value_type = T;

  /// After wait(): the stored value (finished states only).
  decltype(auto) value() noexcept { return value_.get(); }

 protected:
  ~concurrent_state() override {
    if (has_value_) {
      value_.destroy();
    }
  }

  /// Stores the value and publishes it; the value is destroyed at once if the state was
  /// cancelled meanwhile (Python drops it too).
  template <class... Value>
  void settle_value(Value&&... value) {
    value_.emplace(std::forward<Value>(value)...);
    has_value_ = true;
    if (!publish(status::finished)) {
      value_.destroy();
      has_value_ = false;
    }
  }
  void settle_exception(std::exception_ptr exception) noexcept {
    exception_ = std::move(exception);
    publish(status::failed);
  }

  result_slot<T> value_;
  bool has_value_ = false;  ///< written only by the single producer, read after done
};

/// An owning reference to a concurrent state: state_ref, whose counting is the state's own
/// (atomic here).
template <class State>
using concurrent_ref = state_ref<State>;

/// thread_pool_executor::submit's item: the concurrent state and the queue node in one block.
/// References: the futures, plus one for the executor until the item is done with.
template <class R, class Function, class... Args>
class pool_call final : public concurrent_state<R>, public thread_work {
 public:
  template <class F, class... A>
  explicit pool_call(F&& function, A&&... args)
      : invocation_(std::forward<F>(function), std::forward<A>(args)...) {
    this->add_ref();  // the executor's
    execute = &run_on_worker;
    publish = &publish_outcome;
    discard = &drop_unrun;
  }

 private:
  static bool run_on_worker(thread_work& work) noexcept {
    auto& self = static_cast<pool_call&>(work);
    if (!self.set_running()) {
      self.invocation_.reset();
      self.release();
      return false;
    }
    // The function and arguments are gone before the outcome is published: when get()
    // returns, nothing of the call is left.
    run_and_record<R>(self.invocation_, self.value_, self.has_value_, self.exception_);
    return true;  // then publish_outcome
  }

  static void publish_outcome(thread_work& work) noexcept {
    auto& self = static_cast<pool_call&>(work);
    self.concurrent_state_base::publish(self.exception_ ? concurrent_state_base::status::failed
                                                        : concurrent_state_base::status::finished);
    self.release();
  }

  static void drop_unrun(thread_work& work) noexcept {
    auto& self = static_cast<pool_call&>(work);
    try {
      self.cancel();
    } catch (...) {  // a failed lock: the state stays pending, nothing else can be done
    }
    self.invocation_.reset();
    self.release();
  }

  stored_invocation<Function, Args...> invocation_;
};

/// run_coroutine_threadsafe's state: starts the coroutine as a task on the loop (through the
/// loop's mailbox, so the loop need not outlive the caller's future), copies its outcome back,
/// and forwards a cancel() from any thread to the task.
template <class T>
class coroutine_call final : public concurrent_state<T> {
 public:
  /// The task will start in a copy of the submitting thread's context (asyncio's task gets
  /// that of the call_soon_threadsafe handle that creates it).
  coroutine_call(coro<T> body, loop_core& loop)
      : body_(std::move(body)),
        loop_(&loop),
        mailbox_(&mailbox_of(loop)),
        context_(capture_context()) {
    mailbox_->add_ref();
    start_mail_.owner = this;
    start_mail_.deliver = &start_on_loop;
    cancel_mail_.owner = this;
    cancel_mail_.deliver = &cancel_on_loop;
  }

  /// Hands the coroutine to the loop. Throws std::runtime_error if the loop is closed.
  void post_start() {
    this->add_ref();  // the start message's
    if (!mailbox_->post(start_mail_)) {
      this->release();
      throw std::runtime_error("run_coroutine_threadsafe: the event loop is closed");
    }
  }

 private:
  struct message : mail_node {
    coroutine_call* owner = nullptr;
  };

  ~coroutine_call() override {
    mailbox_->release();
    release_context(context_);
  }

  /// Loop thread, or (loop closed) the thread that found out.
  static void start_on_loop(mail_node& node, bool loop_open) noexcept {
    coroutine_call& self = *static_cast<message&>(node).owner;
    if (loop_open && !self.done()) {
      try {
        context_scope in_context(self.context_);
        task<void> started = spawn_task(
            *self.loop_, settle_from(std::move(self.body_), concurrent_ref<coroutine_call>(&self)));
        self.task_ = started.state();
      } catch (...) {
        self.settle_exception(std::current_exception());
      }
    } else {
      self.settle_cancelled();
    }
    self.body_ = coro<T>();
    self.release();
  }

  static void cancel_on_loop(mail_node& node, bool loop_open) noexcept {
    coroutine_call& self = *static_cast<message&>(node).owner;
    if (loop_open && self.task_ != nullptr) {
      self.task_->cancel({});
    }
    self.release();
  }

  /// The task's body: awaits the coroutine (in the same task, so a cancel reaches it where it
  /// is suspended) and publishes the outcome.
  static coro<void> settle_from(coro<T> body, concurrent_ref<coroutine_call> self) {
    struct task_ends {
      coroutine_call& call;
      ~task_ends() {
        // The body is over (or its frame is being destroyed by a closing loop): forget the
        // task, and give waiting threads an answer if there is none yet.
        call.task_ = nullptr;
        call.settle_cancelled();
      }
    } ends{*self.get()};
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
        self->settle_value();
      } else {
        self->settle_value(co_await std::move(body));
      }
    } catch (const cancelled_error&) {
      self->settle_cancelled();
      throw;
    } catch (...) {
      self->settle_exception(std::current_exception());
    }
  }

  /// Cancelled from the loop's side: no message back to the loop is needed.
  void settle_cancelled() noexcept {
    if (!this->done()) {
      this->publish(concurrent_state_base::status::cancelled);
    }
  }

  void on_cancelled() noexcept override {
    this->add_ref();  // the cancel message's
    if (!mailbox_->post(cancel_mail_)) {
      this->release();
    }
  }

  coro<T> body_;     ///< the caller's thread until posted, then the loop's
  loop_core* loop_;  ///< used on the loop's thread only
  loop_mailbox* mailbox_;
  context_cell* context_;      ///< the submitting thread's (a copy; null: empty)
  task_base* task_ = nullptr;  ///< loop thread only: the task, while its body runs
  message start_mail_;
  message cancel_mail_;
};

}  // namespace eddy::detail
