// The completion-style interface both backends implement (DESIGN.md §5).
//
// The loop owns one backend. Everything here runs on the loop's thread except wake().
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "eddy/detail/io_op.hpp"
#include "eddy/loop_options.hpp"

namespace eddy::detail {

/// Which backend a loop should use (the public enum; `from_environment` is resolved by the
/// loop before make_backend is called, so make_backend never sees it).
using backend_kind = eddy::backend_kind;

class backend {
 public:
  virtual ~backend() = default;

  /// "uring" or "epoll".
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  /// Whether submit() takes the file opcodes (openat, close, fsync, statx; read and write on
  /// regular files). When false, eddy/file.hpp runs them on the thread pool instead.
  [[nodiscard]] virtual bool supports_file_ops() const noexcept { return false; }

  /// Whether submit() takes accept_multishot and recv_multishot (io_uring with provided
  /// buffer rings, Linux 5.19+/6.0+). A recv_multishot that completes at once with -EINVAL
  /// (a kernel with buffer rings but no multishot receive) turns this false for good: callers
  /// then fall back to recv.
  [[nodiscard]] virtual bool supports_multishot() const noexcept { return false; }

  /// Starts op. Returns true when the operation completed at once: its result is in op.result
  /// and on_complete will not be called. Returns false when it is in flight: on_complete is
  /// called later from poll(), exactly once.
  virtual bool submit(io_op& op) = 0;

  /// Asks the kernel to stop an in-flight op. The op still completes through on_complete from a
  /// later poll(): with -ECANCELED, or with its real result if it finished first. Until then
  /// the memory it points at stays in use. Cancelling an op twice is harmless.
  virtual void cancel(io_op& op) noexcept = 0;

  /// Submits what is queued, waits until at least one completion, a wake(), or the timeout,
  /// and calls on_complete for each completion. timeout < 0 waits without limit; timeout == 0
  /// never blocks, and makes no system call when there is nothing to submit and nothing could
  /// have completed (io_uring: the completion ring is read directly).
  virtual void poll(std::chrono::nanoseconds timeout) = 0;

  /// Makes a blocked or future poll() return soon. Safe from any thread and from signal handlers.
  virtual void wake() noexcept = 0;

  /// Operations submitted and not yet completed.
  [[nodiscard]] virtual std::size_t in_flight() const noexcept = 0;

  /// Cancels every in-flight operation (used when the loop closes, before frames are freed).
  virtual void cancel_all() noexcept = 0;
};

/// Creates the backend asked for. automatic: io_uring when it starts and has the opcodes eddy
/// needs, else epoll. uring: io_uring or a std::system_error saying why it cannot start.
std::unique_ptr<backend> make_backend(backend_kind kind);

std::unique_ptr<backend> make_uring_backend();  ///< throws std::system_error if unavailable
std::unique_ptr<backend> make_epoll_backend();  ///< throws std::system_error on failure

}  // namespace eddy::detail
