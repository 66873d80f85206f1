// add_reader / add_writer: level-triggered watching of a descriptor, built on one-shot poll
// operations that are re-armed after each callback.
#include <poll.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "eddy/detail/kernel_op.hpp"
#include "eddy/loop.hpp"

namespace eddy {

/// One watched (fd, direction). Owned by the loop's table while active; once retired it
/// deletes itself when nothing refers to it any more (no poll in flight, not queued, not
/// running its callback).
class event_loop::fd_watch final : public detail::ready_node, public detail::kernel_op {
 public:
  fd_watch(event_loop& loop, int watched_fd, bool for_writing, std::function<void()> callback)
      : loop_(&loop), callback_(std::move(callback)) {
    opcode = detail::io_opcode::poll;
    fd = watched_fd;
    flags = for_writing ? POLLOUT : POLLIN;
    on_completion<&polled>();
    run = &run_callback;
  }

  void arm() {
    result = 0;
    if (start(*loop_)) {
      became_ready();
    }
  }

  void retire() noexcept {
    active_ = false;
    if (in_flight()) {
      cancel();  // the completion deletes it
    } else if (!queued_ && !running_) {
      delete this;
    }
  }

 private:
  static void polled(detail::kernel_op& op) noexcept {
    auto& self = static_cast<fd_watch&>(op);
    if (!self.active_) {
      delete &self;
      return;
    }
    self.became_ready();
  }

  void became_ready() noexcept {
    queued_ = true;
    loop_->schedule(*this);
  }

  static void run_callback(detail::ready_node& node) noexcept {
    auto& self = static_cast<fd_watch&>(node);
    self.queued_ = false;
    if (!self.active_ || self.loop_->is_closed_for_callbacks()) {
      if (!self.in_flight()) {
        delete &self;
      }
      return;
    }
    if (self.result < 0) {
      // The descriptor is unusable (closed under us, EBADF...): stop watching it rather than
      // spin, and say so.
      self.loop_->call_exception_handler(
          {"add_reader/add_writer: polling fd " + std::to_string(self.fd) +
               " failed; it is no longer watched",
           std::make_exception_ptr(
               std::system_error(static_cast<int>(-self.result), std::system_category(), "poll")),
           {}});
      self.loop_->remove_watch(self.fd, (self.flags & POLLOUT) != 0);
      return;
    }
    self.running_ = true;
    try {
      self.callback_();
    } catch (...) {
      self.loop_->call_exception_handler(
          {"Exception in an add_reader/add_writer callback", std::current_exception(), {}});
    }
    self.running_ = false;
    if (!self.active_) {
      delete &self;
      return;
    }
    try {
      self.arm();
    } catch (...) {
      self.loop_->call_exception_handler(
          {"add_reader/add_writer: re-arming the watch failed", std::current_exception(), {}});
      self.loop_->remove_watch(self.fd, (self.flags & POLLOUT) != 0);
    }
  }

  event_loop* loop_;
  std::function<void()> callback_;
  bool active_ = true;
  bool queued_ = false;
  bool running_ = false;
};

void event_loop::retire_watch(fd_watch& watch) noexcept { watch.retire(); }

void event_loop::add_watch(int fd, bool for_writing, std::function<void()> callback) {
  const char* what = for_writing ? "add_writer" : "add_reader";
  check_usable(what);
  if (fd < 0) {
    throw std::invalid_argument(std::string(what) + ": invalid file descriptor " +
                                std::to_string(fd));
  }
  if (!callback) {
    throw std::invalid_argument(std::string(what) + ": the callback is empty");
  }
  auto& table = for_writing ? writers_ : readers_;
  if (table.size() <= static_cast<std::size_t>(fd)) {
    table.resize(static_cast<std::size_t>(fd) + 1, nullptr);
  }
  remove_watch(fd, for_writing);
  auto* watch = new fd_watch(*this, fd, for_writing, std::move(callback));
  table[static_cast<std::size_t>(fd)] = watch;
  try {
    watch->arm();
  } catch (...) {
    table[static_cast<std::size_t>(fd)] = nullptr;
    watch->retire();
    throw;
  }
}

bool event_loop::remove_watch(int fd, bool for_writing) {
  auto& table = for_writing ? writers_ : readers_;
  if (fd < 0 || static_cast<std::size_t>(fd) >= table.size() ||
      table[static_cast<std::size_t>(fd)] == nullptr) {
    return false;
  }
  fd_watch* watch = table[static_cast<std::size_t>(fd)];
  table[static_cast<std::size_t>(fd)] = nullptr;
  watch->retire();
  return true;
}

// The callback runs in a copy of the caller's context, as asyncio's Handle.
void event_loop::add_reader(int fd, std::function<void()> callback) {
  add_watch(fd, false,
            callback ? detail::in_current_context(std::move(callback)) : std::move(callback));
}
bool event_loop::remove_reader(int fd) { return remove_watch(fd, false); }
void event_loop::add_writer(int fd, std::function<void()> callback) {
  add_watch(fd, true,
            callback ? detail::in_current_context(std::move(callback)) : std::move(callback));
}
bool event_loop::remove_writer(int fd) { return remove_watch(fd, true); }

}  // namespace eddy
