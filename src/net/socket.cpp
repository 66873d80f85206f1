#include "eddy/net/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

namespace eddy {

namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::system_category(), what);
}

}  // namespace

socket socket::create(int family, int type, int protocol) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    throw_errno(errno, fmt::format("socket(family={}, type={})", family, type));
  }
  return socket(fd);
}

std::pair<socket, socket> socket::pair(int type) {
  int fds[2];
  if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw_errno(errno, "socketpair");
  }
  return {socket(fds[0]), socket(fds[1])};
}

socket socket::listen_tcp(const address& where, int backlog) {
  socket listener = create(where.family(), SOCK_STREAM);
  listener.set_reuse_address(true);
  listener.bind(where);
  listener.listen(backlog);
  return listener;
}

socket socket::listen_unix(const address& where, int backlog) {
  socket listener = unix_stream();
  listener.bind(where);
  listener.listen(backlog);
  return listener;
}

void socket::close() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);  // the descriptor is gone even if close reports EINTR
    fd_ = -1;
  }
}

int socket::require_open(const char* operation) const {
  if (fd_ < 0) {
    throw std::system_error(EBADF, std::system_category(),
                            fmt::format("{}: the socket is closed", operation));
  }
  return fd_;
}

void socket::bind(const address& where) {
  if (::bind(require_open("bind"), where.native(), where.native_length()) != 0) {
    throw_errno(errno, fmt::format("bind {}", where.to_string()));
  }
}

void socket::listen(int backlog) {
  if (::listen(require_open("listen"), backlog) != 0) {
    throw_errno(errno, fmt::format("listen(backlog={})", backlog));
  }
}

void socket::shutdown(int how) {
  if (::shutdown(require_open("shutdown"), how) != 0) {
    throw_errno(errno, fmt::format("shutdown(how={})", how));
  }
}

void socket::set_option(int level, int name, int value) {
  if (::setsockopt(require_open("setsockopt"), level, name, &value, sizeof value) != 0) {
    throw_errno(errno, fmt::format("setsockopt(level={}, name={}, value={})", level, name, value));
  }
}

int socket::get_option(int level, int name) const {
  int value = 0;
  socklen_t length = sizeof value;
  if (::getsockopt(require_open("getsockopt"), level, name, &value, &length) != 0) {
    throw_errno(errno, fmt::format("getsockopt(level={}, name={})", level, name));
  }
  return value;
}

void socket::set_no_delay(bool on) { set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }

address socket::local_address() const {
  address result;
  socklen_t length = address::capacity();
  if (::getsockname(require_open("getsockname"), result.native(), &length) != 0) {
    throw_errno(errno, "getsockname");
  }
  result.set_native_length(length);
  return result;
}

address socket::peer_address() const {
  address result;
  socklen_t length = address::capacity();
  if (::getpeername(require_open("getpeername"), result.native(), &length) != 0) {
    throw_errno(errno, "getpeername");
  }
  result.set_native_length(length);
  return result;
}

}  // namespace eddy
