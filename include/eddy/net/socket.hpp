// eddy::socket: an owned, non-blocking, close-on-exec socket descriptor.
#pragma once

#include <utility>

#include "eddy/net/address.hpp"

namespace eddy {

/// Owns one socket descriptor; closes it when destroyed. Move-only. Every socket eddy creates
/// is non-blocking and close-on-exec, ready for the loop's sock_* operations.
///
/// Errors from the system are std::system_error carrying the errno, with a message naming the
/// call (e.g. "bind 127.0.0.1:80: Permission denied").
///
/// Debug mode does not report a socket destroyed open: it is the descriptor's plain owner,
/// bound to no loop, and its destructor is how eddy itself closes a socket on a failed or
/// cancelled connect or bind. What is built on it (stream_writer, server, datagram_socket)
/// reports instead.
class socket {
 public:
  socket() noexcept = default;
  /// Adopts an open descriptor (it should be non-blocking for the loop's sock_* calls).
  explicit socket(int fd) noexcept : fd_(fd) {}
  socket(socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket& operator=(socket&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  ~socket() { close(); }

  /// socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol).
  static socket create(int family, int type, int protocol = 0);
  /// A TCP socket for family (AF_INET or AF_INET6).
  static socket tcp(int family = AF_INET) { return create(family, SOCK_STREAM); }
  /// A Unix stream socket.
  static socket unix_stream() { return create(AF_UNIX, SOCK_STREAM); }
  /// A connected pair of Unix sockets (socketpair), both non-blocking and close-on-exec.
  static std::pair<socket, socket> pair(int type = SOCK_STREAM);
  /// A TCP listener bound to `where` (SO_REUSEADDR on), listening with `backlog`.
  static socket listen_tcp(const address& where, int backlog = 1024);
  /// A Unix listener bound to `where`, listening with `backlog`.
  static socket listen_unix(const address& where, int backlog = 1024);

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return is_open(); }

  /// Closes the descriptor (no-op if closed). Never throws.
  void close() noexcept;
  /// Gives up ownership and returns the descriptor.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  void bind(const address& where);
  void listen(int backlog = 1024);
  void shutdown(int how);
  void set_option(int level, int name, int value);
  [[nodiscard]] int get_option(int level, int name) const;
  void set_reuse_address(bool on) { set_option(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0); }
  /// TCP_NODELAY.
  void set_no_delay(bool on);
  /// getsockname.
  [[nodiscard]] address local_address() const;
  /// getpeername.
  [[nodiscard]] address peer_address() const;

 private:
  int require_open(const char* operation) const;
  int fd_ = -1;
};

}  // namespace eddy
