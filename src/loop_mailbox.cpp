// loop_mailbox: how completions and other messages from other threads reach a loop (posting,
// the loop's drain, and closing with the loop).
#include "eddy/detail/loop_mailbox.hpp"

#include <sched.h>

#include <atomic>
#include <stdexcept>

namespace eddy::detail {

loop_mailbox::loop_mailbox(loop_core& loop) noexcept : loop_(&loop) { run = &drain; }

bool loop_mailbox::post(mail_node& node) noexcept {
  // Dekker-style with close(): either close() sees this post counted and waits for it, or
  // this post sees closed_ and leaves the loop alone. Hence seq_cst on both sides.
  posting_.fetch_add(1, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    posting_.fetch_sub(1, std::memory_order_release);
    return false;
  }
  mail_node* newest = newest_.load(std::memory_order_relaxed);
  do {
    node.next_mail = newest;
  } while (!newest_.compare_exchange_weak(newest, &node, std::memory_order_release,
                                          std::memory_order_relaxed));
  if (newest == nullptr) {
    // The inbox was empty, so it is not queued on the loop: hand it over. (Anything pushed
    // after us rides along.) If the loop closed meanwhile, schedule_threadsafe throws, and
    // close(), which cannot finish before this post does, delivers what is here.
    try {
      loop_->schedule_threadsafe(*this);
    } catch (const std::runtime_error&) {
    }
  }
  posting_.fetch_sub(1, std::memory_order_release);
  return true;
}

void loop_mailbox::deliver_all(mail_node* newest_first, bool loop_open) noexcept {
  // Reversed by hand, in place: an intrusive_fifo (push_front, then pop_front) would keep a
  // back pointer up to date for nothing, on the path every completed call takes.
  mail_node* oldest_first = nullptr;
  while (newest_first != nullptr) {
    mail_node* older = newest_first->next_mail;
    newest_first->next_mail = oldest_first;
    oldest_first = newest_first;
    newest_first = older;
  }
  while (oldest_first != nullptr) {
    mail_node* next = oldest_first->next_mail;
    oldest_first->deliver(*oldest_first, loop_open);
    oldest_first = next;
  }
}

void loop_mailbox::drain(ready_node& node) noexcept {
  auto& self = static_cast<loop_mailbox&>(node);
  const bool loop_open =
      !self.closed_.load(std::memory_order_relaxed) && !self.loop_->is_closed_for_callbacks();
  self.deliver_all(self.newest_.exchange(nullptr, std::memory_order_acquire), loop_open);
}

void loop_mailbox::close() noexcept {
  closed_.store(true, std::memory_order_seq_cst);
  while (posting_.load(std::memory_order_acquire) != 0) {
    sched_yield();  // a post between its check and its return: a few instructions
  }
  deliver_all(newest_.exchange(nullptr, std::memory_order_acquire), false);
}

}  // namespace eddy::detail
