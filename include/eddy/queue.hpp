// eddy::queue, eddy::priority_queue, eddy::lifo_queue: queues between tasks (asyncio.Queue,
// asyncio.PriorityQueue, asyncio.LifoQueue), and their exceptions.
#pragma once

#include <coroutine>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "eddy/detail/sync_queue_storage.hpp"
#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy {

/// get_nowait() on a queue with no item to take (asyncio.QueueEmpty).
class queue_empty : public std::runtime_error {
 public:
  explicit queue_empty(const std::string& what) : std::runtime_error(what) {}
};

/// put_nowait() on a full queue (asyncio.QueueFull).
class queue_full : public std::runtime_error {
 public:
  explicit queue_full(const std::string& what) : std::runtime_error(what) {}
};

/// A put on a shut-down queue, or a get on one that has no item left (asyncio.QueueShutDown,
/// Python 3.13).
class queue_shut_down : public std::runtime_error {
 public:
  explicit queue_shut_down(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

/// What queue, priority_queue and lifo_queue share; Storage decides which item comes out next.
///
/// Hand-off: when a put finds tasks waiting in get(), the item is promised to the longest
/// waiter ("reserved") and that task is woken; it takes an item when it runs. When a get frees
/// a slot of a full queue while tasks wait in put(), the slot is promised to the longest
/// waiting putter, which inserts its item when it runs. Promised items and slots cannot be
/// taken by anyone else, so waiters are served first come, first served, and qsize() counts
/// only the items nobody has been promised.
template <class T, class Storage>
class basic_queue {
 public:
  using value_type = T;

  basic_queue(const basic_queue&) = delete;
  basic_queue& operator=(const basic_queue&) = delete;

  /// Items in the queue that a get could take now (items promised to woken getters that have
  /// not run yet are not counted).
  [[nodiscard]] std::size_t qsize() const noexcept { return storage_.size() - reserved_items_; }
  /// The bound given at construction; 0 means unbounded.
  [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }
  /// Whether qsize() is 0.
  [[nodiscard]] bool empty() const noexcept { return qsize() == 0; }
  /// Whether a put would have to wait: maxsize() items are in the queue or promised to woken
  /// putters. Never true for an unbounded queue.
  [[nodiscard]] bool full() const noexcept {
    return maxsize_ != 0 && storage_.size() + reserved_slots_ >= maxsize_;
  }
  /// Items put and not yet marked done with task_done().
  [[nodiscard]] std::size_t unfinished_tasks() const noexcept { return unfinished_; }
  /// Whether shutdown() was called.
  [[nodiscard]] bool is_shut_down() const noexcept { return shut_down_; }
  /// Tasks waiting in get() (asyncio's len(q._getters), shown in its repr).
  [[nodiscard]] std::size_t getter_count() const noexcept { return getters_.size(); }
  /// Tasks waiting in put() (asyncio's len(q._putters)).
  [[nodiscard]] std::size_t putter_count() const noexcept { return putters_.size(); }
  /// Calls `visit(const T&)` for every item stored, promised ones included, in storage order
  /// (asyncio's q._queue): oldest first for queue and lifo_queue, heap order for
  /// priority_queue. `visit` must not touch the queue. For printing (eddy/format.hpp).
  template <class Visit>
  void for_each_item(Visit&& visit) const {
    storage_.for_each(visit);
  }

  class put_awaiter;
  class get_awaiter;
  class join_awaiter;

  /// `co_await q.put(item)`: adds `item`, waiting for a free slot while the queue is full.
  ///
  /// With room, it adds at once: no suspension, no cancellation check (as asyncio). Otherwise
  /// the task waits at the back of the putters; a get that frees a slot promises it to the
  /// longest waiting putter, which inserts its item when it resumes. The item is kept (moved)
  /// in the awaiter until then. Throws queue_shut_down if the queue is shut down (also while
  /// waiting: shutdown() wakes every putter), std::logic_error outside a task when it would
  /// wait.
  ///
  /// Cancel safety: a put cancelled while waiting inserts nothing (the item is destroyed with
  /// the awaiter); cancelled after a slot was promised to it but before it ran, it inserts
  /// nothing either and passes the slot to the next putter. Either way cancelled_error.
  [[nodiscard]] put_awaiter put(T item) { return put_awaiter(*this, std::move(item)); }

  /// `co_await q.get()`: removes and yields the next item, waiting while the queue is empty.
  ///
  /// With an item available it returns at once: no suspension, no cancellation check (as
  /// asyncio). Otherwise the task waits at the back of the getters; a put promises its item to
  /// the longest waiting getter, which takes the next item (by the queue's order) when it
  /// resumes. Throws queue_shut_down when the queue is shut down and has no item for it (with
  /// shutdown(true), at once, even for a getter that had been promised an item), and
  /// std::logic_error outside a task when it would wait.
  ///
  /// Cancel safety: a get cancelled while waiting takes nothing; cancelled after an item was
  /// promised to it but before it ran, it leaves the item in the queue (where it was, so the
  /// order is kept) and passes the promise to the next getter. Either way cancelled_error and
  /// no item is lost.
  [[nodiscard]] get_awaiter get() noexcept { return get_awaiter(*this); }

  /// Adds `item` without waiting. Throws queue_shut_down if the queue is shut down and
  /// queue_full if it is full.
  void put_nowait(T item) {
    if (shut_down_) {
      throw queue_shut_down("queue.put_nowait(): the queue is shut down");
    }
    if (full()) {
      throw queue_full("queue.put_nowait(): the queue is full (maxsize " +
                       std::to_string(maxsize_) + ")");
    }
    insert(std::move(item));
  }

  /// Removes and returns the next item without waiting. Throws queue_empty if there is none
  /// (queue_shut_down if there is none and the queue is shut down).
  T get_nowait() {
    if (qsize() == 0) {
      if (shut_down_) {
        throw queue_shut_down("queue.get_nowait(): the queue is shut down and empty");
      }
      throw queue_empty("queue.get_nowait(): the queue is empty");
    }
    return take();
  }

  /// Marks one item taken by a get as processed: when every item put so far is done, join()
  /// returns. Throws std::logic_error if called more times than items were put
  /// ("queue.task_done(): called more times than there were items put").
  void task_done() {
    if (unfinished_ == 0) {
      throw std::logic_error(
          "queue.task_done(): called more times than there were items put (0 unfinished)");
    }
    if (unfinished_ == 1 && !joiners_.empty()) {
      binding_.check_thread("queue.task_done()");
    }
    if (--unfinished_ == 0) {
      finished();
    }
  }

  /// `co_await q.join()`: returns when every item put has been marked done with task_done()
  /// (at once, without suspending, if that is already so).
  ///
  /// Cancel safety: cancelling a join takes nothing from the queue.
  [[nodiscard]] join_awaiter join() noexcept { return join_awaiter(*this); }

  /// Shuts the queue down (Python 3.13): every put, waiting or not, now throws
  /// queue_shut_down, and so does every get once the queue has no item for it; every task
  /// waiting in put() or get() is woken to throw it. With `immediate`, the items still queued
  /// are discarded at once (counted as done for join(), which may then return) and gets throw
  /// at once. Calling it again (e.g. with immediate after without) is allowed.
  void shutdown(bool immediate = false) {
    if (!getters_.empty() || !putters_.empty() || !joiners_.empty()) {
      binding_.check_thread("queue.shutdown()");
    }
    shut_down_ = true;
    if (immediate) {
      immediate_ = true;
      const std::size_t discarded = storage_.size();
      storage_.clear();
      reserved_items_ = 0;  // promised items went with the rest
      if (unfinished_ > 0) {
        unfinished_ -= discarded < unfinished_ ? discarded : unfinished_;
        if (unfinished_ == 0) {
          finished();
        }
      }
    }
    reserved_slots_ = 0;  // woken putters find the queue shut down
    getters_.wake_all(sync_waiter::state::closed);
    putters_.wake_all(sync_waiter::state::closed);
  }

 protected:
  template <class... StorageArgs>
  explicit basic_queue(std::ptrdiff_t maxsize, StorageArgs&&... storage_args)
      : storage_(std::forward<StorageArgs>(storage_args)...) {
    if (maxsize < 0) {
      throw std::invalid_argument("queue: maxsize must be >= 0 (0 means unbounded), got " +
                                  std::to_string(maxsize));
    }
    maxsize_ = static_cast<std::size_t>(maxsize);
  }
  ~basic_queue() = default;

 private:
  /// Stores an item; if getters wait, promises it to the longest one.
  void insert(T&& item) {
    if (!getters_.empty()) {
      binding_.check_thread("queue.put()");
    }
    storage_.push(std::move(item));
    ++unfinished_;
    offer_item();
  }

  /// Removes the next item (a promised one, or one nobody waits for); a freed slot goes to the
  /// longest waiting putter.
  T take() {
    if (!putters_.empty()) {
      binding_.check_thread("queue.get()");
    }
    T item = storage_.pop();
    offer_slot();
    return item;
  }

  void offer_item() noexcept {
    if (!getters_.empty() && qsize() > 0) {
      ++reserved_items_;
      getters_.front().wake_with(sync_waiter::state::granted);
    }
  }

  void offer_slot() noexcept {
    if (!putters_.empty() && !full()) {
      ++reserved_slots_;
      putters_.front().wake_with(sync_waiter::state::granted);
    }
  }

  void finished() noexcept { joiners_.wake_all(sync_waiter::state::granted); }

  Storage storage_;
  sync_waiter_list getters_;  ///< invariant: non-empty only while qsize() == 0
  sync_waiter_list putters_;  ///< invariant: non-empty only while full()
  sync_waiter_list joiners_;
  sync_loop_binding binding_;
  std::size_t maxsize_ = 0;
  std::size_t reserved_items_ = 0;  ///< items in storage_ promised to woken getters
  std::size_t reserved_slots_ = 0;  ///< free slots promised to woken putters
  std::size_t unfinished_ = 0;
  bool shut_down_ = false;
  bool immediate_ = false;  ///< shutdown(true) happened: promised items were discarded
};

template <class T, class Storage>
class [[nodiscard]] basic_queue<T, Storage>::put_awaiter : public sync_waiter {
 public:
  put_awaiter(basic_queue& target, T&& item) : queue_(&target), item_(std::move(item)) {}

  bool await_ready() const noexcept { return queue_->shut_down_ || !queue_->full(); }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("queue.put()");
    queue_->binding_.bind(*task_, "queue.put()");
    return suspend_in(queue_->putters_, awaiting);
  }

  void await_resume() {
    if (task_ == nullptr) {
      if (queue_->shut_down_) {
        throw queue_shut_down("queue.put(): the queue is shut down");
      }
      queue_->insert(std::move(item_));
      return;
    }
    if (state_ == state::granted && !queue_->shut_down_) {
      --queue_->reserved_slots_;
      if (task_->cancel_pending()) {
        queue_->offer_slot();  // the promised slot goes to the next putter
      }
      task_->end_wait(false);
      queue_->insert(std::move(item_));
      return;
    }
    // idle (refused by a pending cancel), cancelled, closed, or granted before a shutdown
    task_->end_wait(state_ == state::cancelled);
    throw queue_shut_down("queue.put(): the queue was shut down while waiting");
  }

 private:
  basic_queue* queue_;
  T item_;
};

template <class T, class Storage>
class [[nodiscard]] basic_queue<T, Storage>::get_awaiter : public sync_waiter {
 public:
  explicit get_awaiter(basic_queue& target) noexcept : queue_(&target) {}

  bool await_ready() const noexcept { return queue_->qsize() > 0 || queue_->shut_down_; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("queue.get()");
    queue_->binding_.bind(*task_, "queue.get()");
    return suspend_in(queue_->getters_, awaiting);
  }

  T await_resume() {
    if (task_ == nullptr) {
      if (queue_->qsize() == 0) {
        throw queue_shut_down("queue.get(): the queue is shut down and empty");
      }
      return queue_->take();
    }
    if (state_ == state::granted && !queue_->immediate_) {
      --queue_->reserved_items_;
      if (task_->cancel_pending()) {
        queue_->offer_item();  // the item stays; the next getter is promised it
      }
      task_->end_wait(false);
      return queue_->take();
    }
    // idle (refused by a pending cancel), cancelled, closed, or granted before shutdown(true)
    task_->end_wait(state_ == state::cancelled);
    throw queue_shut_down("queue.get(): the queue was shut down while waiting");
  }

 private:
  basic_queue* queue_;
};

template <class T, class Storage>
class [[nodiscard]] basic_queue<T, Storage>::join_awaiter : public sync_waiter {
 public:
  explicit join_awaiter(basic_queue& target) noexcept : queue_(&target) {}

  bool await_ready() const noexcept { return queue_->unfinished_ == 0; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &task_base::running("queue.join()");
    queue_->binding_.bind(*task_, "queue.join()");
    return suspend_in(queue_->joiners_, awaiting);
  }

  void await_resume() {
    if (task_ != nullptr) {
      task_->end_wait(state_ == state::cancelled);
    }
  }

 private:
  basic_queue* queue_;
};

}  // namespace detail

/// A first-in, first-out queue between tasks of one event loop (asyncio.Queue). Not
/// thread-safe (as asyncio); debug mode reports use from another thread. T must be movable
/// (move-only types work).
///
/// ```
/// eddy::queue<job> jobs(100);        // at most 100 waiting items; 0 = unbounded
/// co_await jobs.put(job{...});       // producers
/// job next = co_await jobs.get();    // consumers; then jobs.task_done()
/// co_await jobs.join();              // until every item put has been marked done
/// ```
///
/// Ordering: items come out in the order they were put; waiting getters and putters are served
/// first come, first served (see detail::basic_queue for the hand-off). Destroying a queue
/// while tasks wait in it leaves them suspended until they are cancelled.
template <class T>
class queue : public detail::basic_queue<T, detail::fifo_storage<T>> {
 public:
  /// Throws std::invalid_argument if maxsize is negative.
  explicit queue(std::ptrdiff_t maxsize = 0)
      : detail::basic_queue<T, detail::fifo_storage<T>>(maxsize) {}
};

/// A queue that hands out the item that comes first by `Compare` (asyncio.PriorityQueue): with
/// the default std::less, the smallest item first, as asyncio's heapq (not the largest, as
/// std::priority_queue). Items that compare equal come out in the order they were put.
/// Otherwise as eddy::queue.
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::priority_storage<T, Compare>> {
 public:
  /// Throws std::invalid_argument if maxsize is negative.
  explicit priority_queue(std::ptrdiff_t maxsize = 0, Compare compare = Compare())
      : detail::basic_queue<T, detail::priority_storage<T, Compare>>(maxsize, std::move(compare)) {}
};

/// A queue that hands out the most recently put item first (asyncio.LifoQueue). Otherwise as
/// eddy::queue.
template <class T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_storage<T>> {
 public:
  /// Throws std::invalid_argument if maxsize is negative.
  explicit lifo_queue(std::ptrdiff_t maxsize = 0)
      : detail::basic_queue<T, detail::lifo_storage<T>>(maxsize) {}
};

}  // namespace eddy
