// The loop's timers: a binary min-heap of intrusive nodes, ordered by deadline and then by
// insertion, so timers with equal deadlines fire in the order they were scheduled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "eddy/detail/clock.hpp"

namespace eddy::detail {

struct timer_node {
  static constexpr std::size_t not_queued = ~std::size_t{0};

  clock::time_point deadline{};
  std::uint64_t sequence = 0;            ///< insertion order, the tie-breaker
  std::size_t heap_index = not_queued;   ///< position in the heap, or not_queued
  void (*fire)(timer_node&) = nullptr;   ///< called by the loop when the deadline has passed

  [[nodiscard]] bool queued() const noexcept { return heap_index != not_queued; }
};

class timer_heap {
 public:
  [[nodiscard]] bool empty() const noexcept { return nodes_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] timer_node& top() const noexcept { return *nodes_.front(); }

  void push(timer_node& node) {
    node.sequence = next_sequence_++;
    node.heap_index = nodes_.size();
    nodes_.push_back(&node);
    sift_up(node.heap_index);
  }

  /// Removes a queued node, wherever it is. O(log n).
  void remove(timer_node& node) noexcept {
    std::size_t index = node.heap_index;
    node.heap_index = timer_node::not_queued;
    timer_node* last = nodes_.back();
    nodes_.pop_back();
    if (last == &node) {
      return;
    }
    nodes_[index] = last;
    last->heap_index = index;
    sift_down(index);
    sift_up(last->heap_index);
  }

  timer_node& pop() noexcept {
    timer_node& first = top();
    remove(first);
    return first;
  }

  /// Forgets every node (marks each as not queued); used when the loop closes.
  void clear() noexcept {
    for (timer_node* node : nodes_) {
      node->heap_index = timer_node::not_queued;
    }
    nodes_.clear();
  }

 private:
  static bool before(const timer_node& a, const timer_node& b) noexcept {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence);
  }

  void place(std::size_t index, timer_node* node) noexcept {
    nodes_[index] = node;
    node->heap_index = index;
  }

  void sift_up(std::size_t index) noexcept {
    timer_node* node = nodes_[index];
    while (index > 0) {
      std::size_t parent = (index - 1) / 2;
      if (!before(*node, *nodes_[parent])) {
        break;
      }
      place(index, nodes_[parent]);
      index = parent;
    }
    place(index, node);
  }

  void sift_down(std::size_t index) noexcept {
    timer_node* node = nodes_[index];
    const std::size_t count = nodes_.size();
    for (;;) {
      std::size_t child = 2 * index + 1;
      if (child >= count) {
        break;
      }
      if (child + 1 < count && before(*nodes_[child + 1], *nodes_[child])) {
        ++child;
      }
      if (!before(*nodes_[child], *node)) {
        break;
      }
      place(index, nodes_[child]);
      index = child;
    }
    place(index, node);
  }

  std::vector<timer_node*> nodes_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace eddy::detail
