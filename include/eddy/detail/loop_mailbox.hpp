// The way back to a loop from other threads: the mailbox that carries completed calls (and
// other messages) to the loop's thread, and the loop's per-loop thread state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/ref_counted.hpp"

namespace eddy::detail {

// --- the way back to the loop -------------------------------------------------------------

/// Something handed to a loop from another thread through its mailbox.
struct mail_node {
  mail_node* next_mail = nullptr;  ///< the link in the mailbox's stack (see loop_mailbox)
  /// Called once per post: on the loop's thread with loop_open = true; or, when the loop
  /// closed first, with loop_open = false on whichever thread found out (the loop's during
  /// close(), or the poster's). With false it must only release what it holds.
  void (*deliver)(mail_node& node, bool loop_open) noexcept = nullptr;
};

/// A loop's inbox for other threads (one per loop). Posting pushes onto a lock-free stack;
/// only the post that finds the inbox empty hands the inbox itself to the loop
/// (schedule_threadsafe, which writes the loop's eventfd only if the loop's own threadsafe
/// queue was empty too), and the loop then delivers everything that arrived meanwhile, in
/// posting order, in one ready-queue step. So a burst of completions costs one wake-up and
/// one pass through the loop's lock, and a poster never holds a lock the loop needs.
///
/// Reference counted (atomically): the loop holds one reference and every call in flight one
/// more, so a worker that finishes after the loop is gone still has a valid inbox to find out
/// that it is closed.
class loop_mailbox final : public ready_node,
                           public ref_counted<loop_mailbox, ref_counting::atomic> {
 public:
  explicit loop_mailbox(loop_core& loop) noexcept;

  /// Any thread. Queues `node` for delivery on the loop's thread. Returns false, without
  /// taking the node, once the loop is closed.
  bool post(mail_node& node) noexcept;

  /// The loop's thread, when the loop closes: waits for posts in progress, makes later posts
  /// fail, and delivers anything still queued with loop_open = false. Idempotent.
  void close() noexcept;

  /// The loop it delivers to (valid on the loop's thread while the loop is open).
  [[nodiscard]] loop_core& loop() const noexcept { return *loop_; }

 private:
  friend class ref_counted<loop_mailbox, ref_counting::atomic>;
  ~loop_mailbox() = default;
  /// The ready-queue step a post hands the loop: delivers everything posted so far.
  static void drain(ready_node& node) noexcept;
  /// Delivers a taken stack in posting order (oldest first).
  void deliver_all(mail_node* newest_first, bool loop_open) noexcept;

  /// Posted, not yet taken (a stack, newest first).
  /// Hand-written, not an intrusive list: any thread pushes onto it by compare-and-swap.
  std::atomic<mail_node*> newest_{nullptr};
  std::atomic<std::uint32_t> posting_{0};  ///< posts in progress (close() waits for them)
  std::atomic<bool> closed_{false};        ///< set by close(): posts fail from then on
  loop_core* loop_;  ///< used by posters only while counted in posting_ and not closed
};

/// A loop's thread-bridge state: its mailbox and its default executor (event_loop owns one).
class loop_threads;
struct loop_threads_deleter {
  void operator()(loop_threads* threads) const noexcept;
};
using loop_threads_ptr = std::unique_ptr<loop_threads, loop_threads_deleter>;

/// For event_loop's constructor and close(): the mailbox closes with the loop, and the
/// default executor is shut down without waiting (asyncio's close()).
loop_threads_ptr make_loop_threads(loop_core& loop);
void loop_closing(loop_threads& threads) noexcept;
/// The loop's thread state (any thread: the pointer never changes while the loop lives).
loop_threads& threads_of(loop_core& loop) noexcept;
/// The loop's mailbox (any thread).
loop_mailbox& mailbox_of(loop_core& loop) noexcept;

}  // namespace eddy::detail
