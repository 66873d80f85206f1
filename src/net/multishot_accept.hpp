// Accepting with one multishot accept (io_uring, Linux 5.19+): the kernel accepts each
// connection as it arrives and posts its descriptor, with no new request per connection; the
// server's accept loop takes the descriptors in order.
//
// The acceptor is not part of the accept loop's coroutine frame but its own heap object, so
// the kernel's request can outlive the frame: when the loop ends (server closed, task
// cancelled, loop closing), detach() cancels the request and the acceptor frees itself once
// the kernel has let go, closing whatever was accepted in between.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <coroutine>
#include <deque>
#include <system_error>

#include "eddy/detail/io_wait.hpp"
#include "eddy/detail/kernel_op.hpp"
#include "eddy/detail/loop_core.hpp"

namespace eddy::detail {

class multishot_acceptor final : private kernel_op {
 public:
  /// Arms nothing yet: the first next() does.
  static multishot_acceptor* create(loop_core& loop, int listening_fd) {
    return new multishot_acceptor(loop, listening_fd);
  }

  /// The accept loop is done with it. Never throws.
  void detach() noexcept {
    detached_ = true;
    close_accepted();
    if (in_flight()) {
      cancel();  // completed() frees it after the last completion
    } else {
      delete this;
    }
  }

  /// What next() returns: awaits the next accepted descriptor. Yields it (owned by the caller,
  /// non-blocking, close-on-exec), or -1 when the kernel's request ended without a connection
  /// (the next call arms a new one). Throws std::system_error when accepting failed (EMFILE,
  /// ...; the next call arms a new request) and cancelled_error when the task is cancelled
  /// (connections accepted meanwhile stay queued for the next call).
  class awaiter final : private io_wait {
   public:
    explicit awaiter(multishot_acceptor& acceptor) noexcept
        : io_wait("accept"), acceptor_(acceptor) {}
    bool await_ready() const noexcept { return acceptor_.has_news(); }
    bool await_suspend(std::coroutine_handle<> awaiting) {
      if (!begin(awaiting)) {
        return false;  // a cancellation was pending: await_resume throws it
      }
      try {
        if (!acceptor_.in_flight()) {
          acceptor_.arm();
        }
      } catch (...) {
        waiting_task().end_wait_keep_result();
        throw;
      }
      if (acceptor_.has_news()) {  // completed at once
        return false;
      }
      acceptor_.waiter_ = this;
      return true;
    }
    int await_resume() {
      if (began()) {
        settle_kept_elsewhere();  // throws cancelled_error when cancelled or never started
      }
      return acceptor_.take_news();
    }

   private:
    friend class multishot_acceptor;

    /// What the kernel accepts goes to the acceptor's queue, not to this waiter: it can leave
    /// at once, and the request stays armed.
    bool cancel_wait(task_base& /*waiter*/) noexcept override {
      if (acceptor_.waiter_ != this) {
        return false;
      }
      acceptor_.waiter_ = nullptr;
      return leave_now();
    }

    multishot_acceptor& acceptor_;
  };

  [[nodiscard]] awaiter next() noexcept { return awaiter(*this); }

 private:
  multishot_acceptor(loop_core& loop, int listening_fd) noexcept : loop_(&loop) {
    opcode = io_opcode::accept_multishot;
    fd = listening_fd;
    flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    on_completion<&completed>();
  }
  ~multishot_acceptor() = default;

  [[nodiscard]] bool has_news() const noexcept { return !accepted_.empty() || error_ != 0; }

  int take_news() {
    if (!accepted_.empty()) {
      int accepted = accepted_.front();
      accepted_.pop_front();
      return accepted;
    }
    if (error_ != 0) {
      int error = std::exchange(error_, 0);
      throw std::system_error(error, std::system_category(), "accept");
    }
    return -1;
  }

  void arm() {
    more = false;
    if (start(*loop_)) {
      completed(*this);  // a backend that finished it at once
    }
  }

  void close_accepted() noexcept {
    for (int accepted : accepted_) {
      ::close(accepted);
    }
    accepted_.clear();
  }

  static void completed(kernel_op& op) noexcept {
    auto& self = static_cast<multishot_acceptor&>(op);
    if (op.result >= 0) {
      if (self.detached_) {
        ::close(static_cast<int>(op.result));
      } else {
        try {
          self.accepted_.push_back(static_cast<int>(op.result));
        } catch (...) {
          ::close(static_cast<int>(op.result));  // out of memory: drop this connection
        }
      }
    } else if (!op.more && op.result != -ECANCELED) {
      // The request ended on an error (EMFILE, ...); a transient per-connection error
      // (ECONNABORTED with more set) is nothing to report, as for a single accept.
      self.error_ = static_cast<int>(-op.result);
    }
    if (self.detached_) {
      if (!self.in_flight()) {
        delete &self;
      }
      return;
    }
    if (self.waiter_ != nullptr && (self.has_news() || !self.in_flight())) {
      std::exchange(self.waiter_, nullptr)->resume();
    }
  }

  loop_core* loop_;
  std::deque<int> accepted_;
  awaiter* waiter_ = nullptr;
  int error_ = 0;
  bool detached_ = false;
};

/// Owns a multishot_acceptor for an accept loop's frame.
class multishot_acceptor_handle {
 public:
  multishot_acceptor_handle(loop_core& loop, int listening_fd)
      : acceptor_(multishot_acceptor::create(loop, listening_fd)) {}
  multishot_acceptor_handle(const multishot_acceptor_handle&) = delete;
  multishot_acceptor_handle& operator=(const multishot_acceptor_handle&) = delete;
  ~multishot_acceptor_handle() { acceptor_->detach(); }
  multishot_acceptor* operator->() const noexcept { return acceptor_; }

 private:
  multishot_acceptor* acceptor_;
};

}  // namespace eddy::detail
