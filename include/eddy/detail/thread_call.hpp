// The machinery behind to_thread and run_in_executor: a call handed to a thread pool, the
// mailbox that carries its completion back to the loop, and the awaiter and future that wait
// for it on the loop. Users never name anything here; see eddy/thread.hpp.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "eddy/detail/frame_allocator.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/ref_counted.hpp"
#include "eddy/detail/result_slot.hpp"
#include "eddy/detail/task_base.hpp"
#include "eddy/errors.hpp"
#include "eddy/future.hpp"

namespace eddy {
class thread_pool_executor;
}

namespace eddy::detail {

// --- the types a call works with ----------------------------------------------------------

/// `function(args...)` can run on another thread: both are copied or moved into the call (as
/// std::thread does) and invoked there as rvalues.
template <class Function, class... Args>
concept thread_callable =
    std::is_constructible_v<std::decay_t<Function>, Function> &&
    (std::is_constructible_v<std::decay_t<Args>, Args> && ...) &&
    std::is_invocable_v<std::decay_t<Function>, std::decay_t<Args>...>;

/// What to_thread / run_in_executor / submit yield: the function's result, by value (a result
/// returned by reference is copied on the worker thread, so nothing refers into its frame).
template <class Function, class... Args>
using thread_result_t =
    std::remove_cvref_t<std::invoke_result_t<std::decay_t<Function>, std::decay_t<Args>...>>;

/// The function and its arguments, owned by a call until it has run. std::reference_wrapper
/// arguments stay wrappers (they convert to T& at the call), as with std::thread.
template <class Function, class... Args>
class stored_invocation {
 public:
  template <class F, class... A>
  explicit stored_invocation(F&& function, A&&... args)
      : parts_(std::in_place, std::forward<F>(function), std::forward<A>(args)...) {}

  /// Invokes it once, as rvalues.
  decltype(auto) operator()() {
    return std::apply(
        [](Function&& function, Args&&... args) -> decltype(auto) {
          return std::invoke(std::move(function), std::move(args)...);
        },
        std::move(*parts_));
  }
  /// Destroys the function and the arguments (idempotent).
  void reset() noexcept { parts_.reset(); }

 private:
  std::optional<std::tuple<Function, Args...>> parts_;
};

/// Runs `invocation` on the worker, records its value or exception, then destroys the
/// callable and its arguments there, before anyone is told the outcome.
template <class R, class Function, class... Args>
void run_and_record(stored_invocation<Function, Args...>& invocation, result_slot<R>& value, bool& has_value,
                    std::exception_ptr& exception) noexcept {
  try {
    if constexpr (std::is_void_v<R>) {
      invocation();
    } else {
      value.emplace(invocation());
      has_value = true;
    }
  } catch (...) {
    exception = std::current_exception();
  }
  invocation.reset();
}

// --- the way back to the loop -------------------------------------------------------------

/// Something handed to a loop from another thread through its mailbox.
struct mail_node {
  mail_node* next_mail = nullptr;
  /// Called once per post: on the loop's thread with loop_open = true; or, when the loop
  /// closed first, with loop_open = false on whichever thread found out (the loop's during
  /// close(), or the poster's). With false it must only release what it holds.
  void (*deliver)(mail_node& node, bool loop_open) noexcept = nullptr;
};

/// A loop's inbox for other threads (one per loop). Posting pushes onto a lock-free stack;
/// only the post that finds the inbox empty hands the inbox itself to the loop
/// (schedule_threadsafe, which writes the loop's eventfd only if the loop's own threadsafe
/// queue was empty too), and the loop then delivers everything that arrived meanwhile, in
/// posting order, in one ready-queue step. So a burst of completions costs one wake-up and
/// one pass through the loop's lock, and a poster never holds a lock the loop needs.
///
/// Reference counted (atomically): the loop holds one reference and every call in flight one
/// more, so a worker that finishes after the loop is gone still has a valid inbox to find out
/// that it is closed.
class loop_mailbox final : public ready_node, public ref_counted<loop_mailbox, ref_counting::atomic> {
 public:
  explicit loop_mailbox(loop_core& loop) noexcept;

  /// Any thread. Queues `node` for delivery on the loop's thread. Returns false, without
  /// taking the node, once the loop is closed.
  bool post(mail_node& node) noexcept;

  /// The loop's thread, when the loop closes: waits for posts in progress, makes later posts
  /// fail, and delivers anything still queued with loop_open = false. Idempotent.
  void close() noexcept;

  /// The loop it delivers to (valid on the loop's thread while the loop is open).
  [[nodiscard]] loop_core& loop() const noexcept { return *loop_; }

 private:
  friend class ref_counted<loop_mailbox, ref_counting::atomic>;
  ~loop_mailbox() = default;
  static void drain(ready_node& node) noexcept;
  void deliver_all(mail_node* newest_first, bool loop_open) noexcept;

  std::atomic<mail_node*> newest_{nullptr};  ///< posted, not yet taken (a stack, newest first)
  std::atomic<std::uint32_t> posting_{0};    ///< posts in progress (close() waits for them)
  std::atomic<bool> closed_{false};
  loop_core* loop_;  ///< used by posters only while counted in posting_ and not closed
};

/// A loop's thread-bridge state: its mailbox and its default executor (event_loop owns one).
class loop_threads;
struct loop_threads_deleter {
  void operator()(loop_threads* threads) const noexcept;
};
using loop_threads_ptr = std::unique_ptr<loop_threads, loop_threads_deleter>;

/// For event_loop's constructor and close(): the mailbox closes with the loop, and the
/// default executor is shut down without waiting (asyncio's close()).
loop_threads_ptr make_loop_threads(loop_core& loop);
void loop_closing(loop_threads& threads) noexcept;
/// The loop's thread state (any thread: the pointer never changes while the loop lives).
loop_threads& threads_of(loop_core& loop) noexcept;
/// The loop's mailbox (any thread).
loop_mailbox& mailbox_of(loop_core& loop) noexcept;

// --- executor queue items -----------------------------------------------------------------

/// An item in a thread_pool_executor's queue (intrusive: queuing allocates nothing).
struct thread_work {
  thread_work* next_work = nullptr;
  /// Runs the call on a worker thread with no lock held; the executor has forgotten the item.
  /// Returns true if the outcome is still to be published with `publish`, which the worker
  /// calls once it has made itself available for the next call (so that the call a waiter
  /// makes as soon as it hears of this one finds that worker, rather than waking or starting
  /// another); false if the item is done with. Never throws.
  bool (*execute)(thread_work& work) noexcept = nullptr;
  void (*publish)(thread_work& work) noexcept = nullptr;
  /// Called instead of execute when shutdown(cancel_futures = true) drops the item, on the
  /// thread that called shutdown.
  void (*discard)(thread_work& work) noexcept = nullptr;
};

/// Queues `work` on `executor`, waking or starting a worker if none is looking for work.
/// Throws std::runtime_error after shutdown (the item is not queued then).
void enqueue(thread_pool_executor& executor, thread_work& work);

// --- a call whose outcome goes back to a loop (to_thread, run_in_executor) ------------------

/// The untyped part of a call made for a loop. Heap-allocated (through the loop thread's
/// recycling allocator): a cancelled awaiter's frame may be gone long before the call
/// finishes on its thread, so the outcome must live somewhere the frame does not own.
///
/// Two owners, counted atomically: the loop side (the awaiter or the future waiting for it)
/// and the execution side (the executor's queue, then the worker, then the mailbox). The last
/// one to let go frees it: normally the loop thread, a worker only if the loop closed first.
class loop_call_base : public thread_work, public mail_node, public recycled {
 public:
  loop_call_base(const loop_call_base&) = delete;
  loop_call_base& operator=(const loop_call_base&) = delete;

  /// Loop thread. Who to tell when the outcome is back (`notify(owner, call)` runs on the
  /// loop thread, from the mailbox's delivery; it must not throw).
  void watch(void* owner, void (*notify)(void* owner, loop_call_base& call) noexcept) noexcept {
    owner_ = owner;
    notify_owner_ = notify;
  }

  /// Loop thread, before start(): the call runs in `context` on its worker (adopted; null:
  /// the empty context). to_thread's, as asyncio's, which copies the caller's context.
  void run_in(context_cell* context) noexcept {
    release_context(context_);
    context_ = context;
  }

  /// Loop thread, once: queues the call on `executor` (null: the loop's default executor).
  /// Throws std::runtime_error if that executor is shut down (the call is then not queued).
  void start(loop_core& loop, thread_pool_executor* executor);

  /// Loop thread. The owner stops waiting: a call not started yet never runs (its function
  /// and arguments are destroyed now), a running call's outcome will be dropped on arrival.
  void stop_watching() noexcept {
    owner_ = nullptr;
    phase expected = phase::queued;
    if (phase_.compare_exchange_strong(expected, phase::cancelled, std::memory_order_acq_rel)) {
      drop_invocation();
    } else if (expected == phase::created) {
      drop_invocation();
    }
  }

  /// Loop thread: stop_watching(), and the owner's reference is released.
  void abandon() noexcept {
    stop_watching();
    release();
  }

  /// After delivery: the executor dropped it unrun (shutdown with cancel_futures).
  [[nodiscard]] bool discarded() const noexcept {
    return phase_.load(std::memory_order_acquire) == phase::discarded;
  }
  [[nodiscard]] const std::exception_ptr& exception() const noexcept { return exception_; }

 protected:
  /// created -> queued (start) -> running (a worker claimed it) | cancelled (the owner left
  /// first; a worker skips it) | discarded (shutdown(cancel_futures) dropped it). The two CAS
  /// races, worker vs owner and worker vs shutdown, are decided here.
  enum class phase : std::uint8_t { created, queued, running, cancelled, discarded };

  loop_call_base() noexcept {
    deliver = &delivered;
  }
  virtual ~loop_call_base();

  void release() noexcept {
    if (references_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete this;
    }
  }

  /// Destroys the function and the arguments (on the thread that calls it).
  virtual void drop_invocation() noexcept = 0;

  /// Worker: claims the call; false if it was cancelled (then the execution side's reference
  /// is released and the caller must not touch it again).
  bool claim() noexcept {
    phase expected = phase::queued;
    if (phase_.compare_exchange_strong(expected, phase::running, std::memory_order_acq_rel)) {
      return true;
    }
    release();
    return false;
  }

  /// Worker, after the call (or shutdown, after discarding): hands the outcome to the loop.
  void send_back() noexcept;

  static void publish_work(thread_work& work) noexcept { static_cast<loop_call_base&>(work).send_back(); }
  static void discard_work(thread_work& work) noexcept;

  std::exception_ptr exception_;  ///< written by the worker before send_back
  context_cell* context_ = nullptr;  ///< what the worker runs the call in (see run_in)

 private:
  static void delivered(mail_node& node, bool loop_open) noexcept {
    auto& call = static_cast<loop_call_base&>(node);
    if (loop_open) {
      call.mailbox_->loop().note_thread_call_returned();
      if (call.owner_ != nullptr) {
        call.notify_owner_(call.owner_, call);
      }
    }
    call.release();  // the execution side's
  }

  std::atomic<std::uint32_t> references_{1};  ///< 1 (owner) + 1 from start() until delivery
  std::atomic<phase> phase_{phase::created};
  loop_mailbox* mailbox_ = nullptr;  ///< referenced from start() on
  void* owner_ = nullptr;            ///< loop thread only
  void (*notify_owner_)(void*, loop_call_base&) noexcept = nullptr;
};

/// The result storage of a loop call.
template <class R>
class loop_call : public loop_call_base {
 public:
  /// Loop thread, after delivery: the value, or what the call threw; cancelled_error if the
  /// executor dropped the call unrun.
  R take_result() {
    if (discarded()) {
      throw cancelled_error("the executor was shut down before the call started");
    }
    if (exception_) {
      std::rethrow_exception(exception_);
    }
    if constexpr (!std::is_void_v<R>) {
      return std::move(value_.get());
    }
  }

  [[nodiscard]] bool has_value() const noexcept { return has_value_; }
  decltype(auto) value() noexcept { return value_.get(); }

 protected:
  ~loop_call() override {
    if (has_value_) {
      value_.destroy();
    }
  }

  result_slot<R> value_;
  bool has_value_ = false;
};

template <class R, class Function, class... Args>
class loop_call_of final : public loop_call<R> {
 public:
  template <class F, class... A>
  explicit loop_call_of(F&& function, A&&... args)
      : invocation_(std::forward<F>(function), std::forward<A>(args)...) {
    this->execute = &run_on_worker;
    this->publish = &loop_call_base::publish_work;
    this->discard = &loop_call_base::discard_work;
  }

 private:
  void drop_invocation() noexcept override { invocation_.reset(); }

  static bool run_on_worker(thread_work& work) noexcept {
    auto& self = static_cast<loop_call_of&>(work);
    if (!self.claim()) {
      return false;
    }
    context_scope in_context(self.context_);
    run_and_record<R>(self.invocation_, self.value_, self.has_value_, self.exception_);
    return true;  // then publish_work
  }

  stored_invocation<Function, Args...> invocation_;
};

template <class Function, class... Args>
using loop_call_for = loop_call_of<thread_result_t<Function, Args...>, std::decay_t<Function>,
                                   std::decay_t<Args>...>;

// --- waiting for a call on the loop -------------------------------------------------------

/// What `co_await to_thread(f, args...)` awaits. Lazy, like a coroutine: the call is made
/// when the awaiter suspends, so an awaiter that is never awaited runs nothing. Movable until
/// awaited (so it can be handed to gather or wait_for).
///
/// Cancel safety: cancelling the awaiting task ends the await at once with cancelled_error.
/// A call still queued never runs; a call already running finishes on its thread and its
/// result (or exception) is destroyed when it arrives.
template <class R>
class [[nodiscard]] to_thread_awaiter final : wait_base {
 public:
  to_thread_awaiter(loop_call<R>* call, thread_pool_executor* executor) noexcept
      : call_(call), executor_(executor) {}
  to_thread_awaiter(to_thread_awaiter&& other) noexcept
      : wait_base(), call_(std::exchange(other.call_, nullptr)), executor_(other.executor_) {}
  to_thread_awaiter& operator=(to_thread_awaiter&&) = delete;
  ~to_thread_awaiter() {
    if (call_ != nullptr) {
      call_->abandon();
    }
  }

  bool await_ready() const {
    if (call_ == nullptr) {
      throw invalid_state_error("to_thread: this awaitable was moved from");
    }
    return false;
  }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("to_thread()");
    if (!task_->begin_wait(awaiting, this)) {
      return false;  // a cancellation is pending: nothing runs, await_resume throws it
    }
    try {
      call_->run_in(capture_context());
      call_->watch(this, &finished);
      call_->start(task_->loop(), executor_);
    } catch (...) {
      task_->end_wait_keep_result();
      start_error_ = std::current_exception();
      return false;
    }
    return true;
  }

  R await_resume() {
    task_->end_wait(cancelled_);
    if (start_error_) {
      std::rethrow_exception(start_error_);
    }
    return call_->take_result();
  }

 private:
  static void finished(void* owner, loop_call_base&) noexcept {
    static_cast<to_thread_awaiter*>(owner)->task_->wake();
  }

  bool cancel_wait(task_base& waiter) noexcept override {
    call_->stop_watching();
    cancelled_ = true;
    waiter.wake();
    return true;
  }

  loop_call<R>* call_;
  thread_pool_executor* executor_;  ///< null: the loop's default executor
  task_base* task_ = nullptr;
  std::exception_ptr start_error_;
  bool cancelled_ = false;
};

/// The future run_in_executor returns: settled from the call's outcome on the loop thread.
/// Cancelling it (directly, or by cancelling a task that awaits it) cancels a call that has
/// not started; a running call finishes on its thread and its outcome is dropped.
template <class R>
class executor_future_state final : public future_state<R> {
 public:
  executor_future_state(loop_core& loop, loop_call<R>* call) noexcept
      : future_state<R>(loop), call_(call) {
    call_->watch(this, &finished);
  }
  ~executor_future_state() override {
    if (call_ != nullptr) {
      call_->abandon();
    }
  }

  bool cancel(std::string message) override {
    if (!future_state<R>::cancel(std::move(message))) {
      return false;
    }
    if (call_ != nullptr) {
      std::exchange(call_, nullptr)->abandon();
    }
    return true;
  }

 private:
  static void finished(void* owner, loop_call_base&) noexcept {
    auto& self = *static_cast<executor_future_state*>(owner);
    loop_call<R>* call = std::exchange(self.call_, nullptr);
    self.settle_from(*call);
    call->abandon();
  }

  void settle_from(loop_call<R>& call) noexcept {
    try {
      if (call.discarded()) {
        future_state<R>::cancel("the executor was shut down before the call started");
      } else if (call.exception()) {
        this->set_exception(call.exception());
      } else if constexpr (std::is_void_v<R>) {
        this->set_result();
      } else {
        this->set_result(std::move(call.value()));
      }
    } catch (...) {
      // The value's move constructor threw (or the future was already settled by hand).
      if (!this->done()) {
        try {
          this->set_exception(std::current_exception());
        } catch (...) {
          future_state<R>::cancel({});
        }
      }
    }
  }

  loop_call<R>* call_;  ///< null once settled or cancelled
};

/// run_in_executor's body (event_loop::run_in_executor and eddy::run_in_executor).
template <class Function, class... Args>
future<thread_result_t<Function, Args...>> start_in_executor(loop_core& loop, thread_pool_executor* executor,
                                                             Function&& function, Args&&... args) {
  using result_type = thread_result_t<Function, Args...>;
  loop.check_usable("run_in_executor");
  auto* call = new loop_call_for<Function, Args...>(std::forward<Function>(function),
                                                     std::forward<Args>(args)...);
  executor_future_state<result_type>* state = nullptr;
  try {
    state = new executor_future_state<result_type>(loop, call);
  } catch (...) {
    call->abandon();
    throw;
  }
  future<result_type> result(state_ref<future_state<result_type>>::adopt(state));
  call->start(loop, executor);  // throws: `result` goes, and with it the unstarted call
  return result;
}

}  // namespace eddy::detail
