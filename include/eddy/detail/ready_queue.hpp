// The loop's ready queue: an intrusive FIFO of things to run in the next iteration.
#pragma once

namespace eddy::detail {

/// Something the loop can run: a task to resume or a callback. The node lives inside the object
/// it runs (no allocation per schedule). A node is in at most one queue at a time.
struct ready_node {
  ready_node* next_ready = nullptr;
  void (*run)(ready_node&) = nullptr;
};

/// FIFO of ready nodes. take_all() detaches the whole list, so what is scheduled while an
/// iteration runs its batch waits for the next iteration (asyncio's ntodo snapshot).
class ready_queue {
 public:
  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }

  void push(ready_node& node) noexcept {
    node.next_ready = nullptr;
    if (tail_ == nullptr) {
      head_ = &node;
    } else {
      tail_->next_ready = &node;
    }
    tail_ = &node;
  }

  /// Detaches and returns the list in FIFO order (linked through next_ready).
  [[nodiscard]] ready_node* take_all() noexcept {
    ready_node* head = head_;
    head_ = nullptr;
    tail_ = nullptr;
    return head;
  }

 private:
  ready_node* head_ = nullptr;
  ready_node* tail_ = nullptr;
};

}  // namespace eddy::detail
