// The loop's view of one child process: its pidfd, polled for readability, and the exit
// status once the child is reaped.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>

#include "eddy/detail/event_state.hpp"
#include "eddy/detail/kernel_op.hpp"

namespace eddy::detail {

class loop_core;

/// Watches one child from the moment it is started until it is reaped, whether or not anyone
/// waits for it or still holds its process handle: the pending poll on the pidfd keeps the
/// watch alive, so no child is ever left a zombie while its loop runs. When the loop closes
/// first, the pidfd goes to a background thread that reaps the child when it exits (it is
/// not killed).
///
/// Loop-thread only, except the background reaping that happens after the loop closed.
class child_watch : public std::enable_shared_from_this<child_watch> {
 public:
  /// Takes ownership of pidfd and starts watching. Throws std::system_error when the poll
  /// cannot be submitted.
  static std::shared_ptr<child_watch> start(loop_core& loop, pid_t pid, int pidfd);

  child_watch(const child_watch&) = delete;
  child_watch& operator=(const child_watch&) = delete;
  ~child_watch();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// The exit code, or -N when signal N ended the child; empty until it has been reaped.
  [[nodiscard]] const std::optional<int>& returncode() const noexcept { return returncode_; }
  /// Set once returncode() is known.
  [[nodiscard]] event_state& exited() noexcept { return exited_; }

  /// pidfd_send_signal: never reaches another process that reused the pid. Does nothing once
  /// the child has been reaped. Throws std::invalid_argument for a bad signal number,
  /// std::system_error(ESRCH) when the loop closed before the child exited.
  void send_signal(int signo) const;

 private:
  struct poll_op : kernel_op {
    child_watch* owner = nullptr;
  };

  child_watch(loop_core& loop, pid_t pid, int pidfd) noexcept;
  void arm();
  static void polled(kernel_op& op) noexcept;
  /// waitid(WNOHANG): true when the child was reaped (returncode set).
  bool try_reap() noexcept;
  void hand_to_reaper_thread() noexcept;

  loop_core* loop_;
  pid_t pid_;
  int pidfd_;  ///< -1 once reaped or handed to the reaper thread
  std::optional<int> returncode_;
  event_state exited_;
  poll_op poll_;
  std::shared_ptr<child_watch> keep_alive_;  ///< set while the poll is in flight
};

}  // namespace eddy::detail
