// The loop's ready queue: an intrusive FIFO of things to run in the next iteration.
#pragma once

#include "eddy/detail/intrusive_list.hpp"

namespace eddy::detail {

/// Something the loop can run: a task to resume or a callback. The node lives inside the object
/// it runs (no allocation per schedule). A node is in at most one queue at a time.
struct ready_node {
  ready_node* next_ready = nullptr;
  void (*run)(ready_node&) = nullptr;
};

/// FIFO of ready nodes. take_all() detaches the whole list, so what is scheduled while an
/// iteration runs its batch waits for the next iteration (asyncio's ntodo snapshot); the batch
/// is linked through next_ready.
class ready_queue {
 public:
  [[nodiscard]] bool empty() const noexcept { return nodes_.empty(); }
  void push(ready_node& node) noexcept { nodes_.push_back(node); }
  [[nodiscard]] ready_node* take_all() noexcept { return nodes_.take_all(); }

 private:
  intrusive_fifo<ready_node, &ready_node::next_ready> nodes_;
};

}  // namespace eddy::detail
