// The eventfd both backends use to make a blocked poll() return (backend::wake()).
#pragma once

#include <cstdint>

namespace eddy::detail {

/// Owns an eventfd (EFD_NONBLOCK | EFD_CLOEXEC). signal() may be called from any thread and
/// from signal handlers; the rest runs on the loop's thread.
class wake_fd {
 public:
  wake_fd();  ///< throws std::system_error naming eventfd
  ~wake_fd();
  wake_fd(const wake_fd&) = delete;
  wake_fd& operator=(const wake_fd&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Adds 1 to the counter, making the descriptor readable.
  void signal() const noexcept;

  /// Resets the counter to zero (the descriptor stops being readable).
  void drain() const noexcept;

 private:
  int fd_;
};

}  // namespace eddy::detail
