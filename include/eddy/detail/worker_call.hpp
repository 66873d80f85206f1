// A call made for a loop and run on a worker thread, whose outcome goes back to the loop
// (to_thread, run_in_executor, pooled file operations): worker_call_base, worker_call<R>,
// worker_call_of<R, Function, Args...>.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <type_traits>
#include <utility>

#include "eddy/detail/context_state.hpp"
#include "eddy/detail/frame_allocator.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/loop_mailbox.hpp"
#include "eddy/detail/result_slot.hpp"
#include "eddy/detail/thread_invocation.hpp"
#include "eddy/detail/thread_work.hpp"
#include "eddy/errors.hpp"

namespace eddy {
class thread_pool_executor;
}

namespace eddy::detail {

// --- a call whose outcome goes back to a loop (to_thread, run_in_executor) ------------------

/// The untyped part of a call made for a loop. Heap-allocated (through the loop thread's
/// recycling allocator): a cancelled awaiter's frame may be gone long before the call
/// finishes on its thread, so the outcome must live somewhere the frame does not own.
///
/// Two owners, counted atomically: the loop side (the awaiter or the future waiting for it)
/// and the execution side (the executor's queue, then the worker, then the mailbox). The last
/// one to let go frees it: normally the loop thread, a worker only if the loop closed first.
class worker_call_base : public thread_work, public mail_node, public recycled {
 public:
  worker_call_base(const worker_call_base&) = delete;
  worker_call_base& operator=(const worker_call_base&) = delete;

  /// Loop thread. Who to tell when the outcome is back (`notify(owner, call)` runs on the
  /// loop thread, from the mailbox's delivery; it must not throw).
  void watch(void* owner, void (*notify)(void* owner, worker_call_base& call) noexcept) noexcept {
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

  worker_call_base() noexcept { deliver = &delivered; }
  virtual ~worker_call_base();

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

  static void publish_work(thread_work& work) noexcept {
    static_cast<worker_call_base&>(work).send_back();
  }
  static void discard_work(thread_work& work) noexcept;

  std::exception_ptr exception_;     ///< written by the worker before send_back
  context_cell* context_ = nullptr;  ///< what the worker runs the call in (see run_in)

 private:
  static void delivered(mail_node& node, bool loop_open) noexcept {
    auto& call = static_cast<worker_call_base&>(node);
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
  void (*notify_owner_)(void*, worker_call_base&) noexcept = nullptr;
};

/// The result storage of a loop call.
template <class R>
class worker_call : public worker_call_base {
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
  ~worker_call() override {
    if (has_value_) {
      value_.destroy();
    }
  }

  result_slot<R> value_;
  bool has_value_ = false;
};

template <class R, class Function, class... Args>
class worker_call_of final : public worker_call<R> {
 public:
  template <class F, class... A>
  explicit worker_call_of(F&& function, A&&... args)
      : invocation_(std::forward<F>(function), std::forward<A>(args)...) {
    this->execute = &run_on_worker;
    this->publish = &worker_call_base::publish_work;
    this->discard = &worker_call_base::discard_work;
  }

 private:
  void drop_invocation() noexcept override { invocation_.reset(); }

  static bool run_on_worker(thread_work& work) noexcept {
    auto& self = static_cast<worker_call_of&>(work);
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
using worker_call_for = worker_call_of<thread_result_t<Function, Args...>, std::decay_t<Function>,
                                       std::decay_t<Args>...>;

}  // namespace eddy::detail
