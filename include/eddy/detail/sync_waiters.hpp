// What every synchronization primitive and queue is built from: the intrusive FIFO of waiting
// tasks, the waiter node that lives in an awaiter (so in the waiting coroutine's frame), the
// loop binding with its debug-mode thread check, and the RAII guard of `scoped()`.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/detail/intrusive_list.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

class sync_waiter_list;

/// A task suspended in a primitive (lock, semaphore, event, condition, barrier, queue).
///
/// The node lives inside the awaiter, so waiting allocates nothing. The primitive links it into
/// one of its FIFO lists; whoever resolves the wait calls wake_with(), which unlinks the node and
/// schedules the task; the awaiter's await_resume then reads state_ and finishes the operation.
class sync_waiter : public wait_base {
 public:
  /// state_ of a waiter:
  ///   idle       never suspended: the fast path was taken, or begin_wait refused because a
  ///              cancellation was pending (await_resume then throws cancelled_error)
  ///   waiting    linked into a list of the primitive, the task suspended
  ///   granted    woken with what it waited for (the lock, a permit, a reserved item or slot,
  ///              the event, the barrier's trip); the primitive has done its bookkeeping
  ///   closed     woken because the primitive can no longer deliver (queue shut down, barrier
  ///              aborted or reset)
  ///   cancelled  unlinked by cancel_wait; await_resume throws and touches nothing else (the
  ///              primitive may be gone, see orphaned_)
  enum class state : std::uint8_t { idle, waiting, granted, closed, cancelled };

  sync_waiter() noexcept = default;
  /// Awaiters may be moved before they are awaited (into a coroutine parameter, say), never
  /// while they wait: the moved-to node starts afresh, idle and unlinked.
  sync_waiter(sync_waiter&& /*unused*/) noexcept : wait_base() {}
  sync_waiter(const sync_waiter&) = delete;
  sync_waiter& operator=(const sync_waiter&) = delete;
  sync_waiter& operator=(sync_waiter&&) = delete;
  inline ~sync_waiter();

  /// Lock, semaphore, event, condition, barrier and queue waits all say this much.
  [[nodiscard]] std::string describe_wait() const override { return "synchronisation primitive"; }

  /// Ends the wait with `outcome`: unlinks the node and queues the task to resume (it runs in
  /// the next loop iteration, FIFO with everything else that is ready).
  inline void wake_with(state outcome) noexcept;

 protected:
  /// The common await_suspend tail: records the wait with the task and links the node at the
  /// back of `list`. Returns false (do not suspend) when a cancellation is pending.
  inline bool suspend_in(sync_waiter_list& list, std::coroutine_handle<> awaiting);

  /// A waiting node is unlinked and its await throws cancelled_error. Once woken, the wait can
  /// no longer be interrupted: the cancellation is delivered by await_resume (see each
  /// primitive for what it does with what it was granted).
  bool cancel_wait(task_base& waiter) noexcept override {
    if (orphaned_) {
      return cancel_orphan(waiter);
    }
    if (state_ != state::waiting) {
      return false;
    }
    wake_with(state::cancelled);
    return true;
  }

  /// The primitive was destroyed while this task waited in it: nothing can wake it any more but
  /// a cancellation (run()'s final cancel, for instance), which must not touch the primitive.
  bool cancel_orphan(task_base& waiter) noexcept {
    orphaned_ = false;
    state_ = state::cancelled;
    waiter.wake();
    return true;
  }

  task_base* task_ = nullptr;
  state state_ = state::idle;
  bool orphaned_ = false;

 private:
  friend class sync_waiter_list;

  list_links<sync_waiter> links_;
  sync_waiter_list* list_ = nullptr;  ///< the list this node is linked into, or null
};

/// An intrusive doubly linked FIFO of waiters. O(1) push, pop, and removal from the middle (a
/// cancelled waiter). Destroying the list orphans the waiters still in it (see sync_waiter).
class sync_waiter_list {
 public:
  sync_waiter_list() noexcept = default;
  sync_waiter_list(const sync_waiter_list&) = delete;
  sync_waiter_list& operator=(const sync_waiter_list&) = delete;
  ~sync_waiter_list() {
    for (sync_waiter* node = nodes_.front(); node != nullptr;) {
      sync_waiter* next = nodes_.next(*node);
      node->links_ = {};
      node->list_ = nullptr;
      node->orphaned_ = true;
      node = next;
    }
  }

  [[nodiscard]] bool empty() const noexcept { return nodes_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The longest waiter. Precondition: !empty().
  [[nodiscard]] sync_waiter& front() const noexcept { return *nodes_.front(); }

  void push_back(sync_waiter& node) noexcept {
    node.list_ = this;
    nodes_.push_back(node);
    ++size_;
  }

  void remove(sync_waiter& node) noexcept {
    nodes_.remove(node);
    node.list_ = nullptr;
    --size_;
  }

  /// Wakes every waiter with `outcome`, oldest first.
  void wake_all(sync_waiter::state outcome) noexcept {
    while (!nodes_.empty()) {
      nodes_.front()->wake_with(outcome);
    }
  }

 private:
  intrusive_list<sync_waiter, &sync_waiter::links_> nodes_;
  std::size_t size_ = 0;
};

inline sync_waiter::~sync_waiter() {
  if (list_ != nullptr) {
    list_->remove(*this);  // a frame destroyed while it waited (its loop closed)
  }
}

inline void sync_waiter::wake_with(state outcome) noexcept {
  if (list_ != nullptr) {
    list_->remove(*this);
  }
  state_ = outcome;
  task_->wake();
}

inline bool sync_waiter::suspend_in(sync_waiter_list& list, std::coroutine_handle<> awaiting) {
  if (!task_->begin_wait(awaiting, this)) {
    return false;
  }
  list.push_back(*this);
  state_ = state::waiting;
  return true;
}

/// The loop a primitive belongs to (asyncio's _LoopBoundMixin): bound by the first wait that
/// suspends; a task of another loop waiting on it gets std::runtime_error. None of the
/// primitives is thread-safe; in debug mode an operation that wakes waiters from a thread where
/// the bound loop is not running throws std::runtime_error (loop_core::check_usable).
class sync_loop_binding {
 public:
  void bind(const task_base& task, const char* what) {
    const loop_core& loop = task.loop();
    if (loop_id_ == loop.id()) [[likely]] {
      return;
    }
    if (loop_id_ != 0) {
      throw std::runtime_error(std::string(what) +
                               ": this object is bound to a different event loop (the loop of "
                               "the first task that waited on it)");
    }
    loop_ = &loop;
    loop_id_ = loop.id();
  }

  /// Cheap when used correctly: one thread-local read and a compare. The bound loop may be
  /// gone (its address reused by another loop), so it is reached only through its id.
  void check_thread(const char* what) const {
    if (loop_id_ != 0 && (running_loop_on_thread == nullptr ||
                          running_loop_on_thread->id() != loop_id_)) [[unlikely]] {
      loop_core::check_usable_if_alive(loop_, loop_id_, what);
    }
  }

 private:
  const loop_core* loop_ = nullptr;
  std::uint64_t loop_id_ = 0;  ///< loop_core::id() of the bound loop; 0: not bound yet
};

/// What `co_await x.scoped()` yields: owns one acquisition of a lock, semaphore or condition and
/// releases it when destroyed (the C++ spelling of `async with x:`). Movable, not copyable.
///
/// Releasing the primitive by hand while a guard owns the acquisition is a bug: the guard's
/// release would then throw from a destructor (std::terminate). Use reset() to release early.
template <class Primitive>
class [[nodiscard]] release_guard {
 public:
  release_guard() noexcept = default;
  explicit release_guard(Primitive& primitive) noexcept : primitive_(&primitive) {}
  release_guard(release_guard&& other) noexcept
      : primitive_(std::exchange(other.primitive_, nullptr)) {}
  release_guard& operator=(release_guard&& other) noexcept {
    if (this != &other) {
      reset();
      primitive_ = std::exchange(other.primitive_, nullptr);
    }
    return *this;
  }
  release_guard(const release_guard&) = delete;
  release_guard& operator=(const release_guard&) = delete;
  ~release_guard() { reset(); }

  /// Releases now (if still owned); the destructor then does nothing.
  void reset() {
    if (primitive_ != nullptr) {
      std::exchange(primitive_, nullptr)->release();
    }
  }
  [[nodiscard]] bool owns() const noexcept { return primitive_ != nullptr; }
  explicit operator bool() const noexcept { return owns(); }

 private:
  Primitive* primitive_ = nullptr;
};

}  // namespace eddy::detail
