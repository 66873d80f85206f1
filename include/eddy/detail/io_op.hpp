// One asynchronous operation as the backends see it.
//
// An io_op lives inside the awaiting coroutine's frame. The frame is not resumed (and so not
// freed) until the backend has reported the operation's completion, so the kernel may keep
// pointers into it (buffer, address, address_length) for as long as the operation is in flight.
#pragma once

#include <cstddef>
#include <cstdint>

#include "eddy/detail/intrusive_list.hpp"

// Declared, not included: <sys/socket.h> stays out of every header that only needs io_op.
struct sockaddr;

namespace eddy::detail {

/// socklen_t, without <sys/socket.h> (the backends check that the two agree).
using socket_length = unsigned int;

/// What an io_op asks the kernel to do. The arguments each one reads are listed beside it.
enum class io_opcode : std::uint8_t {
  nop,   ///< nothing; completes with 0
  poll,  ///< fd, flags = POLLIN/POLLOUT mask; result = the returned revents
  recv,  ///< fd, buffer, length, flags = MSG_*; result = bytes received
  send,  ///< fd, buffer, length, flags = MSG_* (MSG_NOSIGNAL is always added); result = bytes sent
  accept,   ///< fd, address, address_length (in/out), flags = SOCK_NONBLOCK|SOCK_CLOEXEC...; result
            ///< = new fd
  connect,  ///< fd, address, address_length; result = 0
  read,     ///< fd, buffer, length, offset (no_offset = current position); result = bytes read
  write,    ///< fd, buffer, length, offset (no_offset = current position); result = bytes written
  sendmsg,  ///< fd, buffer = msghdr*, flags = MSG_* (MSG_NOSIGNAL is always added); result = bytes
            ///< sent
  recvmsg,  ///< fd, buffer = msghdr* (msg_namelen, msg_flags written back), flags = MSG_*; result =
            ///< bytes received
  openat,   ///< fd = directory (AT_FDCWD), buffer = NUL-terminated path, flags = O_*, length = mode
            ///< bits; result = new fd
  close,    ///< fd; result = 0
  fsync,    ///< fd, flags = fsync_datasync or 0; result = 0
  statx,    ///< fd (the open file itself: AT_EMPTY_PATH), buffer = struct statx*, length = STATX_*
            ///< mask; result = 0
  // Multishot operations (only where backend::supports_multishot()): one submit, a completion
  // per event. io_op::more says whether another completion will follow.
  accept_multishot,  ///< fd, flags = SOCK_NONBLOCK|SOCK_CLOEXEC...; each result = a new fd
  recv_multishot,    ///< fd, flags = MSG_*; each result = bytes, at `buffer` (the backend's) during
                     ///< on_complete
};

/// io_op::flags for io_opcode::fsync: flush the data only (fdatasync), not all metadata.
inline constexpr int fsync_datasync = 1;

/// The offset that means "at the descriptor's current position" for read and write.
inline constexpr std::uint64_t no_offset = ~std::uint64_t{0};

struct io_op {
  io_opcode opcode = io_opcode::nop;
  int fd = -1;
  int flags = 0;
  void* buffer = nullptr;
  std::size_t length = 0;
  std::uint64_t offset = no_offset;
  sockaddr* address = nullptr;
  socket_length address_length = 0;

  /// >= 0 on success, -errno on failure; -ECANCELED when a cancel took effect.
  std::int64_t result = 0;

  /// Called on the loop thread, from inside backend::poll(), exactly once for every submit()
  /// that did not complete immediately (for a multishot op: once per completion, the last one
  /// with more == false). It may submit new operations; it must not block.
  void (*on_complete)(io_op&) noexcept = nullptr;

  /// Multishot ops: set before each on_complete. True when the op stays armed and on_complete
  /// will run again; false on its last completion (an error, end of file, a cancel, or the
  /// kernel running out of provided buffers: -ENOBUFS), after which the op is idle.
  bool more = false;

  // Backend bookkeeping; only src/backend/ reads or writes these.
  list_links<io_op> backend_links;
  std::uint8_t backend_state = 0;
};

}  // namespace eddy::detail
