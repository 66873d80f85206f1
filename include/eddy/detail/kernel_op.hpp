// An operation the kernel holds: DESIGN.md §6's first rule, written once. Memory the kernel may
// write is not freed or reused before the operation's completion has been seen, so a kernel_op
// destroyed while in flight stops the process; a cancel asks the kernel to stop and the
// completion still arrives.
//
// Every io_op of the library is a kernel_op: socket, datagram and file awaiters, a stream's
// receive and send, multishot accept, add_reader/add_writer's polls, child processes' pidfd
// polls. The awaiters that suspend a task on one build on io_wait (detail/io_wait.hpp).
#pragma once

#include <cstdio>
#include <cstdlib>

#include "eddy/detail/io_op.hpp"
#include "eddy/detail/loop_core.hpp"

namespace eddy::detail {

/// An io_op that knows whether the kernel holds it. It is started with start() and stopped
/// with cancel(); its completion handler (set once, with on_completion) runs on the loop
/// thread for every completion, after in_flight() has been brought up to date. The owner must
/// keep it, and everything it points at, alive while in_flight() is true.
class kernel_op : public io_op {
 public:
  kernel_op() noexcept = default;
  kernel_op(const kernel_op&) = delete;
  kernel_op& operator=(const kernel_op&) = delete;

  ~kernel_op() {
    if (in_flight_) {
      // The loop drains every operation before it lets go of the memory they use; reaching
      // here would let the kernel write into freed memory, so stop loudly instead.
      std::fprintf(
          stderr,
          "eddy: an I/O operation (opcode %d) was destroyed while the kernel still uses it\n",
          static_cast<int>(opcode));
      std::abort();
    }
  }

  /// Submits the operation to `loop`'s backend. Returns true when it completed at once:
  /// `result` is set and the handler does not run. Returns false when it is in flight: the
  /// handler runs when it completes (a multishot operation: at every completion, until one
  /// with `more` false). Throws what backend::submit throws; nothing is in flight then.
  [[nodiscard]] bool start(loop_core& loop) {
    cancel_sent_ = false;
    if (loop.submit_io(*this)) {
      return true;
    }
    loop_ = &loop;
    in_flight_ = true;
    return false;
  }

  /// Asks the kernel to stop the operation. Its completion still arrives (with -ECANCELED, or
  /// with the result that beat the cancel) and the operation's memory stays in use until then.
  /// Nothing happens when it is not in flight or a cancel was already sent.
  void cancel() noexcept {
    if (in_flight_ && !cancel_sent_) {
      cancel_sent_ = true;
      loop_->cancel_io(*this);
    }
  }

  /// Whether the kernel holds the operation (a multishot one: whether it is still armed).
  [[nodiscard]] bool in_flight() const noexcept { return in_flight_; }

  /// Sets the completion handler: Handler(op) runs on each completion.
  template <void (*Handler)(kernel_op&) noexcept>
  void on_completion() noexcept {
    on_complete = [](io_op& op) noexcept {
      auto& self = static_cast<kernel_op&>(op);
      self.in_flight_ = self.more && is_multishot(self.opcode);
      Handler(self);
    };
  }

 private:
  static constexpr bool is_multishot(io_opcode code) noexcept {
    return code == io_opcode::accept_multishot || code == io_opcode::recv_multishot;
  }

  loop_core* loop_ = nullptr;  ///< where it was started
  bool in_flight_ = false;
  bool cancel_sent_ = false;
};

}  // namespace eddy::detail
