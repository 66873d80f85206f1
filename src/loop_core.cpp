// The loop internals that tasks and awaitables call into.
#include "eddy/detail/loop_core.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "eddy/detail/task_base.hpp"
#include "eddy/loop.hpp"

namespace eddy::detail {

namespace {
/// This thread's live loops, so that a late report (a task handle outliving its loop) can tell
/// whether its loop still exists.
constinit thread_local loop_core* live_loops = nullptr;

std::atomic<std::uint64_t> last_loop_id{0};

/// Every live loop of the process, for check_usable_if_alive (a primitive bound to a loop can
/// be touched from any thread, after its loop is gone). Loops are few and made rarely.
struct loop_registry {
  std::mutex mutex;
  std::vector<std::pair<const loop_core*, std::uint64_t>> loops;
};

loop_registry& registry() {
  static auto* instance = new loop_registry;  // never destroyed: loops may outlive statics
  return *instance;
}
}  // namespace

loop_core::loop_core() : id_(last_loop_id.fetch_add(1, std::memory_order_relaxed) + 1) {
  {
    loop_registry& all = registry();
    std::lock_guard guard(all.mutex);
    all.loops.emplace_back(this, id_);
  }
  next_live_ = live_loops;
  live_loops = this;
}

loop_core::~loop_core() {
  {
    loop_registry& all = registry();
    std::lock_guard guard(all.mutex);
    std::erase(all.loops, std::pair<const loop_core*, std::uint64_t>(this, id_));
  }
  for (loop_core** link = &live_loops; *link != nullptr; link = &(*link)->next_live_) {
    if (*link == this) {
      *link = next_live_;
      break;
    }
  }
}

bool loop_core::is_live(const loop_core* loop) noexcept {
  for (const loop_core* live = live_loops; live != nullptr; live = live->next_live_) {
    if (live == loop) {
      return true;
    }
  }
  return false;
}

void loop_core::check_usable_if_alive(const loop_core* loop, std::uint64_t id, const char* what) {
  loop_registry& all = registry();
  std::lock_guard guard(all.mutex);  // the loop cannot be destroyed while we look at it
  if (std::find(all.loops.begin(), all.loops.end(), std::pair(loop, id)) != all.loops.end()) {
    loop->check_usable(what);
  }
}

event_loop& loop_core::public_loop() noexcept { return static_cast<event_loop&>(*this); }

loop_core& core_of(event_loop& loop) noexcept { return loop; }

bool loop_core::submit_io(io_op& op) {
  check_usable("an I/O operation");
  return backend_->submit(op);
}

void loop_core::cancel_io(io_op& op) noexcept { backend_->cancel(op); }

bool loop_core::supports_multishot() const noexcept { return backend_->supports_multishot(); }

void loop_core::call_exception_handler(const exception_context& context) noexcept {
  event_loop& loop = public_loop();
  if (exception_handler_) {
    try {
      exception_handler_(loop, context);
      return;
    } catch (...) {
      exception_context failure{"Unhandled error in exception handler", std::current_exception(),
                                context.task_name};
      loop.default_exception_handler(failure);
    }
  }
  loop.default_exception_handler(context);
}

void loop_core::register_task(task_base& task) {
  if (task_slots_used_ == task_slots_capacity_) [[unlikely]] {
    make_task_slot();
  }
  task.registry_slot = static_cast<std::uint32_t>(task_slots_used_);
  task_slots_[task_slots_used_++] = &task;
  ++pending_task_count_;
}

void loop_core::unregister_task(task_base& task) noexcept {
  task_slots_[task.registry_slot] = nullptr;
  --pending_task_count_;
}

void loop_core::make_task_slot() {
  constexpr std::size_t min_capacity = 64;
  if (task_slots_capacity_ >= min_capacity && pending_task_count_ <= task_slots_used_ / 2) {
    // At least half of the slots hold finished tasks: squeeze instead of growing, so a
    // compaction is paid for by the registrations that filled the dead slots.
    std::size_t kept = 0;
    for (std::size_t each = 0; each < task_slots_used_; ++each) {
      if (task_base* task = task_slots_[each]) {
        task->registry_slot = static_cast<std::uint32_t>(kept);
        task_slots_[kept++] = task;
      }
    }
    task_slots_used_ = kept;
    return;
  }
  const std::size_t capacity = std::max(min_capacity, 2 * task_slots_capacity_);
  if (capacity > std::numeric_limits<std::uint32_t>::max()) {
    throw std::bad_alloc();
  }
  std::unique_ptr<task_base*[], task_slots_deleter> grown(
      array_allocator<task_base*>().allocate(capacity), task_slots_deleter{capacity});
  std::copy_n(task_slots_.get(), task_slots_used_, grown.get());
  task_slots_ = std::move(grown);
  task_slots_capacity_ = capacity;
}

void loop_core::check_usable_slow(const char* what) const {
  if (closed_) {
    throw std::runtime_error(std::string(what) + ": the event loop is closed");
  }
  if (debug_ && running_ && std::this_thread::get_id() != owner_thread_) {
    throw std::runtime_error(std::string(what) +
                             " called from a thread other than the event loop's; use "
                             "call_soon_threadsafe");
  }
}

void loop_core::schedule_threadsafe(ready_node& node) {
  bool must_wake = false;
  {
    std::lock_guard guard(threadsafe_mutex_);
    if (closed_) {
      throw std::runtime_error("call_soon_threadsafe: the event loop is closed");
    }
    const bool was_empty = threadsafe_nodes_.empty();
    threadsafe_nodes_.push_back(&node);
    threadsafe_pending_.store(true, std::memory_order_seq_cst);
    // A loop that is not blocked sees threadsafe_pending_ before it blocks; one that is needs
    // the backend's wake-up, once per batch.
    must_wake = was_empty && blocked_.load(std::memory_order_seq_cst);
    if (must_wake) {
      wakers_in_flight_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (must_wake) {
    // Woken outside the lock: on one core the loop would otherwise run at once and block on
    // the lock we still hold. close() waits for wakers_in_flight_ before the backend goes.
    backend_->wake();
    wakers_in_flight_.fetch_sub(1, std::memory_order_release);
  }
}

void loop_core::wait_for_wakers() noexcept {
  while (wakers_in_flight_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
}

}  // namespace eddy::detail
