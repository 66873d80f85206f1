// The plain, non-blocking system calls behind each io_op, written once.
//
// The epoll backend tries these first and retries them on readiness; anything else that must
// run an operation synchronously (the thread pool's file I/O, for one) uses them too. Each
// returns the kernel's result the way io_uring reports it: >= 0 on success, -errno on failure,
// so callers never look at errno. EINTR is retried where the call can simply be repeated.
#pragma once

#include <sys/socket.h>
#include <cstddef>
#include <cstdint>

#include "eddy/detail/io_op.hpp"

namespace eddy::detail::perform {

/// The most one read/write/send/recv may move. The kernel caps each transfer at this anyway
/// (MAX_RW_COUNT), and io_uring's length field is only 32 bits wide.
inline constexpr std::size_t max_transfer = 0x7ffff000;

[[nodiscard]] inline std::size_t clamp_length(std::size_t length) noexcept {
  return length < max_transfer ? length : max_transfer;
}

/// recv(2). flags are MSG_* flags.
[[nodiscard]] std::int64_t recv(int fd, void* buffer, std::size_t length, int flags) noexcept;

/// send(2) with MSG_NOSIGNAL always added: a closed peer is an -EPIPE result, not a SIGPIPE.
[[nodiscard]] std::int64_t send(int fd, const void* buffer, std::size_t length, int flags) noexcept;

/// accept4(2). address and address_length may be null. Returns the new descriptor.
[[nodiscard]] std::int64_t accept(int fd, sockaddr* address, socklen_t* address_length,
                                  int flags) noexcept;

/// connect(2). On a non-blocking socket this returns -EINPROGRESS while the handshake runs;
/// socket_error() then reports its outcome once the socket is writable.
[[nodiscard]] std::int64_t connect(int fd, const sockaddr* address,
                                   socklen_t address_length) noexcept;

/// getsockopt(SO_ERROR): 0 when a pending connect succeeded, else -(its error).
[[nodiscard]] std::int64_t socket_error(int fd) noexcept;

/// read(2), or pread(2) when offset is not no_offset.
[[nodiscard]] std::int64_t read(int fd, void* buffer, std::size_t length,
                                std::uint64_t offset) noexcept;

/// write(2), or pwrite(2) when offset is not no_offset.
[[nodiscard]] std::int64_t write(int fd, const void* buffer, std::size_t length,
                                 std::uint64_t offset) noexcept;

/// poll(2) with a zero timeout: the events of mask (plus POLLERR/POLLHUP/POLLNVAL, which poll
/// always reports) that are ready now, or 0 when none is.
[[nodiscard]] std::int64_t poll_now(int fd, short mask) noexcept;

/// sendmsg(2) with MSG_NOSIGNAL always added, as send().
[[nodiscard]] std::int64_t sendmsg(int fd, const msghdr* message, int flags) noexcept;

/// recvmsg(2); the kernel writes msg_namelen and msg_flags back into *message.
[[nodiscard]] std::int64_t recvmsg(int fd, msghdr* message, int flags) noexcept;

// --- files (the thread-pool route of eddy/file.hpp; blocking calls, never on a loop thread) --

/// openat(2). flags are O_* flags (the caller adds O_CLOEXEC); mode is used with O_CREAT.
[[nodiscard]] std::int64_t openat(int directory_fd, const char* path, int flags,
                                  unsigned mode) noexcept;

/// close(2). Not retried on EINTR: Linux has released the descriptor by then.
[[nodiscard]] std::int64_t close(int fd) noexcept;

/// fsync(2), or fdatasync(2) when data_only.
[[nodiscard]] std::int64_t fsync(int fd, bool data_only) noexcept;

/// statx(2) of the open descriptor itself (AT_EMPTY_PATH) into *out (a struct statx).
[[nodiscard]] std::int64_t statx(int fd, unsigned mask, void* out) noexcept;

/// Runs one file io_op (read, write, openat, close, fsync, statx) synchronously, the way
/// io_uring would; -EOPNOTSUPP for any other opcode.
[[nodiscard]] std::int64_t file_op(const io_op& op) noexcept;

}  // namespace eddy::detail::perform
