#include "backend/perform.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <type_traits>

namespace eddy::detail::perform {

// io_op spells socklen_t without <sys/socket.h>; the backends hand &op.address_length to the
// kernel as a socklen_t*.
static_assert(std::is_same_v<socklen_t, socket_length>,
              "io_op::address_length must be a socklen_t");
namespace {

/// Turns a syscall's "-1 and errno" convention into the "-errno" one.
std::int64_t result_of(long returned) noexcept { return returned < 0 ? -errno : returned; }

/// Repeats call while it is interrupted by a signal before transferring anything.
template <typename Call>
std::int64_t retrying_eintr(Call call) noexcept {
  std::int64_t result = 0;
  do {
    result = result_of(call());
  } while (result == -EINTR);
  return result;
}

}  // namespace

std::int64_t recv(int fd, void* buffer, std::size_t length, int flags) noexcept {
  return retrying_eintr([&] { return ::recv(fd, buffer, clamp_length(length), flags); });
}

std::int64_t send(int fd, const void* buffer, std::size_t length, int flags) noexcept {
  return retrying_eintr(
      [&] { return ::send(fd, buffer, clamp_length(length), flags | MSG_NOSIGNAL); });
}

std::int64_t accept(int fd, sockaddr* address, socklen_t* address_length, int flags) noexcept {
  return retrying_eintr([&] { return ::accept4(fd, address, address_length, flags); });
}

std::int64_t connect(int fd, const sockaddr* address, socklen_t address_length) noexcept {
  // Not retried on EINTR: an interrupted connect keeps going in the background, and calling it
  // again would report EALREADY. Non-blocking sockets never get here with EINTR anyway.
  return result_of(::connect(fd, address, address_length));
}

std::int64_t socket_error(int fd) noexcept {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) < 0) return -errno;
  return -error;
}

std::int64_t read(int fd, void* buffer, std::size_t length, std::uint64_t offset) noexcept {
  length = clamp_length(length);
  if (offset == no_offset) return retrying_eintr([&] { return ::read(fd, buffer, length); });
  return retrying_eintr([&] { return ::pread(fd, buffer, length, static_cast<off_t>(offset)); });
}

std::int64_t write(int fd, const void* buffer, std::size_t length, std::uint64_t offset) noexcept {
  length = clamp_length(length);
  if (offset == no_offset) return retrying_eintr([&] { return ::write(fd, buffer, length); });
  return retrying_eintr([&] { return ::pwrite(fd, buffer, length, static_cast<off_t>(offset)); });
}

std::int64_t poll_now(int fd, short mask) noexcept {
  pollfd entry{fd, mask, 0};
  const std::int64_t ready = retrying_eintr([&] { return ::poll(&entry, 1, 0); });
  if (ready <= 0) return ready;
  // io_uring's POLL_ADD fails a bad descriptor with -EBADF; report it the same way.
  if ((entry.revents & POLLNVAL) != 0) return -EBADF;
  return entry.revents;
}

std::int64_t sendmsg(int fd, const msghdr* message, int flags) noexcept {
  return retrying_eintr([&] { return ::sendmsg(fd, message, flags | MSG_NOSIGNAL); });
}

std::int64_t recvmsg(int fd, msghdr* message, int flags) noexcept {
  return retrying_eintr([&] { return ::recvmsg(fd, message, flags); });
}

std::int64_t openat(int directory_fd, const char* path, int flags, unsigned mode) noexcept {
  return retrying_eintr([&] { return ::openat(directory_fd, path, flags, mode); });
}

std::int64_t close(int fd) noexcept { return result_of(::close(fd)); }

std::int64_t fsync(int fd, bool data_only) noexcept {
  return retrying_eintr([&] { return data_only ? ::fdatasync(fd) : ::fsync(fd); });
}

std::int64_t statx(int fd, unsigned mask, void* out) noexcept {
  return retrying_eintr(
      [&] { return ::statx(fd, "", AT_EMPTY_PATH, mask, static_cast<struct statx*>(out)); });
}

std::int64_t file_op(const io_op& op) noexcept {
  switch (op.opcode) {
    case io_opcode::read:
      return read(op.fd, op.buffer, op.length, op.offset);
    case io_opcode::write:
      return write(op.fd, op.buffer, op.length, op.offset);
    case io_opcode::openat:
      return openat(op.fd, static_cast<const char*>(op.buffer), op.flags,
                    static_cast<unsigned>(op.length));
    case io_opcode::close:
      return close(op.fd);
    case io_opcode::fsync:
      return fsync(op.fd, (op.flags & fsync_datasync) != 0);
    case io_opcode::statx:
      return statx(op.fd, static_cast<unsigned>(op.length), op.buffer);
    default:
      return -EOPNOTSUPP;
  }
}

}  // namespace eddy::detail::perform
