// The parts of the event loop that awaitables and tasks reach directly: the ready queue, the
// timers, the backend's submit/cancel, and the thread's running loop and task.
//
// event_loop (loop.hpp) is the public face built on this; nothing here is for users.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eddy/detail/array_allocator.hpp"
#include "eddy/detail/clock.hpp"
#include "eddy/detail/io_op.hpp"
#include "eddy/detail/ready_queue.hpp"
#include "eddy/detail/timer_wheel.hpp"
#include "eddy/exception_context.hpp"

namespace eddy {
class event_loop;
}

namespace eddy::detail {

class backend;
class task_base;
class loop_core;

/// The core of `loop` (event_loop holds it privately: its members are not user API).
[[nodiscard]] loop_core& core_of(event_loop& loop) noexcept;

/// Frees the loop's task registry (an array_allocator array of `capacity` slots).
struct task_slots_deleter {
  std::size_t capacity = 0;
  void operator()(task_base** slots) const noexcept {
    array_allocator<task_base*>().deallocate(slots, capacity);
  }
};

class loop_core {
 public:
  loop_core(const loop_core&) = delete;
  loop_core& operator=(const loop_core&) = delete;

  /// Runs node in the next iteration (or this one, if the batch has not been taken yet).
  void schedule(ready_node& node) noexcept { ready_.push(node); }

  /// The loop's clock: the monotonic clock, or the virtual one (loop_options::virtual_time).
  /// Every deadline the loop keeps is on this clock.
  [[nodiscard]] clock::time_point now() const noexcept {
    return virtual_time_ ? virtual_now_ : clock::now();
  }

  void add_timer(timer_node& node) noexcept { timers_.add(node); }
  void remove_timer(timer_node& node) noexcept {
    if (node.queued()) {
      timers_.remove(node);
    }
  }

  /// See backend::submit / backend::cancel.
  bool submit_io(io_op& op);
  void cancel_io(io_op& op) noexcept;
  /// See backend::supports_multishot.
  [[nodiscard]] bool supports_multishot() const noexcept;

  /// Reports an error that has no caller through the loop's exception handler. Never throws.
  void call_exception_handler(const exception_context& context) noexcept;

  /// The loop keeps a registry of its pending tasks (all_tasks(), and what close() and run()
  /// clean up). register_task throws std::bad_alloc when the registry cannot grow.
  void register_task(task_base& task);
  void unregister_task(task_base& task) noexcept;

  /// Throws std::runtime_error when the loop is closed; in debug mode also when called from a
  /// thread other than the loop's. `what` names the caller for the message.
  void check_usable(const char* what) const {
    if (closed_ || debug_) [[unlikely]] {
      check_usable_slow(what);
    }
  }

  /// Hands a node to the loop from any thread; wakes the loop if it is blocked.
  void schedule_threadsafe(ready_node& node);

  /// Loop thread: a call was just handed to a worker thread, or its outcome came back. When
  /// the loop would block with a single call just started and in flight, it yields the CPU a
  /// few times first (see event_loop::yield_to_thread_call).
  void note_thread_call_started() noexcept {
    thread_call_started_ = true;
    ++thread_calls_in_flight_;
  }
  void note_thread_call_returned() noexcept { --thread_calls_in_flight_; }

  [[nodiscard]] event_loop& public_loop() noexcept;

  /// True once close() has begun: queued callbacks are then released without running.
  [[nodiscard]] bool is_closed_for_callbacks() const noexcept { return closed_; }

  /// Whether create_task starts tasks eagerly by default (loop_options::eager_task_factory).
  [[nodiscard]] bool eager_tasks() const noexcept { return eager_tasks_; }
  /// Whether the loop is in debug mode (event_loop::get_debug()).
  [[nodiscard]] bool debug_enabled() const noexcept { return debug_; }

  /// Whether loop_core at this address is alive on this thread (for late error reports).
  [[nodiscard]] static bool is_live(const loop_core* loop) noexcept;

  /// A number no other loop of this process has had or will have (never 0). Objects that bind
  /// to a loop remember this, not the address: a loop created where a destroyed one lived has
  /// the same address and a new id.
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  /// check_usable() on the loop with this address and id if it is still alive, on any thread;
  /// nothing when it is gone.
  static void check_usable_if_alive(const loop_core* loop, std::uint64_t id, const char* what);

 protected:
  loop_core();
  ~loop_core();

  void check_usable_slow(const char* what) const;

  ready_queue ready_;
  timer_wheel timers_;
  std::unique_ptr<backend> backend_;

  /// Unfinished tasks by slot; a finished task's slot is null until the next compaction.
  /// A vector rather than links through the tasks: finishing a task writes one slot instead of
  /// two neighbouring tasks that are likely cold in the cache.
  std::unique_ptr<task_base*[], task_slots_deleter> task_slots_;
  std::size_t task_slots_used_ = 0;
  std::size_t task_slots_capacity_ = 0;
  std::size_t pending_task_count_ = 0;
  /// Makes room for one more slot: compacts when at least half are dead, else grows.
  void make_task_slot();

  // call_soon_threadsafe: nodes handed in by other threads, moved to ready_ by the loop.
  std::mutex threadsafe_mutex_;
  std::vector<ready_node*> threadsafe_nodes_;
  std::atomic<bool> threadsafe_pending_{false};
  /// True while the loop is in (or about to enter) a blocking backend poll: only then does a
  /// thread that hands it a node have to wake it (a system call). Set and read seq_cst,
  /// against threadsafe_pending_, so that either the waker sees it or the loop sees the node.
  std::atomic<bool> blocked_{false};
  /// A thread call started since the loop last blocked, and the calls not back yet (loop
  /// thread only).
  bool thread_call_started_ = false;
  std::size_t thread_calls_in_flight_ = 0;
  /// Threads between queuing a node and finishing backend_->wake(); close() waits for none.
  std::atomic<int> wakers_in_flight_{0};
  void wait_for_wakers() noexcept;

  bool running_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  bool debug_ = false;
  /// loop_options::eager_task_factory: create_task runs a task's first step at once.
  bool eager_tasks_ = false;
  /// loop_options::virtual_time: the clock moves only when the idle loop jumps it forward.
  bool virtual_time_ = false;
  clock::time_point virtual_now_{};
  clock::time_point virtual_limit_{};  ///< 50 years after the start: no jump goes past it
  std::chrono::nanoseconds jump_after_idle_{0};
  std::thread::id owner_thread_;
  std::chrono::nanoseconds slow_callback_duration_ = std::chrono::milliseconds(100);
  std::function<void(event_loop&, const exception_context&)> exception_handler_;

  loop_core* next_live_ = nullptr;  ///< this thread's list of live loops
  const std::uint64_t id_;
};

/// The loop running on this thread, and the task it is resuming right now (or null).
constinit inline thread_local loop_core* running_loop_on_thread = nullptr;
constinit inline thread_local task_base* running_task_on_thread = nullptr;

/// The running loop's clock (loop_core::now), or the monotonic clock when no loop runs on
/// this thread: where a deadline is computed from a delay.
inline clock::time_point loop_now() noexcept {
  return running_loop_on_thread != nullptr ? running_loop_on_thread->now() : clock::now();
}

}  // namespace eddy::detail
