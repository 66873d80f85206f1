// The item storage behind eddy's queues: a FIFO ring, a LIFO stack and a stable binary heap.
// Each grows by doubling and never shrinks, so a queue that has reached its working size puts
// and gets without allocating.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace eddy::detail {

/// FIFO: a ring buffer of raw slots, capacity a power of two.
template <class T>
class fifo_storage {
 public:
  fifo_storage() noexcept = default;
  fifo_storage(const fifo_storage&) = delete;
  fifo_storage& operator=(const fifo_storage&) = delete;
  ~fifo_storage() {
    clear();
    if (slots_ != nullptr) {
      std::allocator<T>().deallocate(slots_, capacity_);
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Calls visit(const T&) for each item, oldest first.
  template <class Visit>
  void for_each(Visit& visit) const {
    for (std::size_t index = 0; index < size_; ++index) {
      visit(static_cast<const T&>(slots_[(head_ + index) & (capacity_ - 1)]));
    }
  }

  void push(T&& item) {
    if (size_ == capacity_) {
      grow();
    }
    std::construct_at(slots_ + ((head_ + size_) & (capacity_ - 1)), std::move(item));
    ++size_;
  }

  /// Removes and returns the oldest item. Precondition: size() > 0.
  T pop() {
    T& slot = slots_[head_];
    T item(std::move(slot));
    std::destroy_at(&slot);
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return item;
  }

  void clear() noexcept {
    while (size_ > 0) {
      std::destroy_at(slots_ + head_);
      head_ = (head_ + 1) & (capacity_ - 1);
      --size_;
    }
    head_ = 0;
  }

 private:
  void grow() {
    const std::size_t capacity = capacity_ == 0 ? 16 : capacity_ * 2;
    T* slots = std::allocator<T>().allocate(capacity);
    std::size_t moved = 0;
    try {
      for (; moved < size_; ++moved) {
        std::construct_at(slots + moved,
                          std::move_if_noexcept(slots_[(head_ + moved) & (capacity_ - 1)]));
      }
    } catch (...) {
      std::destroy(slots, slots + moved);
      std::allocator<T>().deallocate(slots, capacity);
      throw;
    }
    for (std::size_t i = 0; i < size_; ++i) {
      std::destroy_at(slots_ + ((head_ + i) & (capacity_ - 1)));
    }
    if (slots_ != nullptr) {
      std::allocator<T>().deallocate(slots_, capacity_);
    }
    slots_ = slots;
    capacity_ = capacity;
    head_ = 0;
  }

  T* slots_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

/// LIFO: the most recently put item comes out first.
template <class T>
class lifo_storage {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  /// Calls visit(const T&) for each item, oldest first (the last one comes out next).
  template <class Visit>
  void for_each(Visit& visit) const {
    for (const T& item : items_) {
      visit(item);
    }
  }
  void push(T&& item) { items_.push_back(std::move(item)); }
  T pop() {
    T item(std::move(items_.back()));
    items_.pop_back();
    return item;
  }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<T> items_;
};

/// Priority: the item that `Compare` says comes out first (with std::less, the smallest, as
/// asyncio's heapq), and among equal items the one put first. Each entry carries its insertion
/// number, which breaks ties.
template <class T, class Compare>
class priority_storage {
 public:
  explicit priority_storage(Compare compare = Compare()) : compare_(std::move(compare)) {}

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  /// Calls visit(const T&) for each item, in heap order (as asyncio's q._queue shows it).
  template <class Visit>
  void for_each(Visit& visit) const {
    for (const entry& each : entries_) {
      visit(static_cast<const T&>(each.item));
    }
  }

  void push(T&& item) {
    entries_.push_back(entry{std::move(item), next_sequence_++});
    std::push_heap(entries_.begin(), entries_.end(), heap_order{&compare_});
  }

  T pop() {
    std::pop_heap(entries_.begin(), entries_.end(), heap_order{&compare_});
    T item(std::move(entries_.back().item));
    entries_.pop_back();
    return item;
  }

  void clear() noexcept { entries_.clear(); }

 private:
  struct entry {
    T item;
    std::uint64_t sequence;
  };

  /// std::*_heap keep the "largest" entry at the front: an entry is "smaller" when it comes
  /// out later, i.e. when the other one comes out first or ties with it and was put earlier.
  struct heap_order {
    Compare* compare;
    bool operator()(const entry& a, const entry& b) const {
      if ((*compare)(b.item, a.item)) {
        return true;
      }
      if ((*compare)(a.item, b.item)) {
        return false;
      }
      return b.sequence < a.sequence;
    }
  };

  std::vector<entry> entries_;
  Compare compare_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace eddy::detail
