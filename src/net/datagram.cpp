#include "eddy/net/datagram.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "eddy/loop.hpp"
#include "eddy/net/dns.hpp"

namespace eddy {

// --- datagram_socket --------------------------------------------------------------------------

datagram_socket datagram_socket::adopt(socket sock) {
  if (!sock.is_open()) {
    throw std::invalid_argument("datagram_socket::adopt: the socket is closed");
  }
  const int type = sock.get_option(SOL_SOCKET, SO_TYPE);
  if (type != SOCK_DGRAM) {
    throw std::invalid_argument(fmt::format(
        "datagram_socket::adopt: fd {} is not a datagram socket (SO_TYPE {})", sock.fd(), type));
  }
  std::optional<address> remote;
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  if (::getpeername(sock.fd(), reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    remote = address::from_native(reinterpret_cast<const sockaddr*>(&peer), length);
  }
  return datagram_socket(std::move(sock), std::move(remote));
}

datagram_socket& datagram_socket::operator=(datagram_socket&& other) noexcept {
  if (this != &other) {
    report_if_open();
    close();
    sock_ = std::move(other.sock_);
    remote_ = std::exchange(other.remote_, std::nullopt);
    pending_ = std::move(other.pending_);
    loop_ = other.loop_;
  }
  return *this;
}

datagram_socket::~datagram_socket() {
  report_if_open();
  close();
}

void datagram_socket::report_if_open() const noexcept {
  if (!sock_.is_open()) {
    return;
  }
  detail::report_unclosed(loop_.loop, loop_.id, [this] {
    std::string text = fmt::format("unclosed datagram_socket <fd={}", sock_.fd());
    if (std::string local = sock_.local_address().to_string(); !local.empty()) {
      text += " local=" + local;
    }
    if (remote_) {
      text += " remote=" + remote_->to_string();
    }
    return text + ">";
  });
}

void datagram_socket::close() noexcept {
  // Stop the waiting operations while the descriptor still names this socket: epoll must
  // drop its interest before the number can be reused.
  pending_.end_all();
  sock_.close();
  remote_.reset();
}

int datagram_socket::require_open(const char* operation) const {
  if (!sock_.is_open()) {
    throw std::system_error(EBADF, std::system_category(),
                            fmt::format("datagram_socket::{}: the socket is closed", operation));
  }
  return sock_.fd();
}

detail::sendto_awaiter datagram_socket::sendto(std::string_view data, const address& target) {
  const int fd = require_open("sendto");
  if (remote_ && target != *remote_) {
    // asyncio: "Invalid address: must be None or <remote_addr>".
    throw std::invalid_argument(
        fmt::format("datagram_socket::sendto: the socket is connected to {}; cannot send to {}",
                    remote_->to_string(), target.to_string()));
  }
  return {fd, std::as_bytes(std::span(data.data(), data.size())), &target, &pending_, "sendto"};
}

detail::sendto_awaiter datagram_socket::sendto(std::string_view data) {
  const int fd = require_open("sendto");
  return {fd, std::as_bytes(std::span(data.data(), data.size())), nullptr, &pending_, "sendto"};
}

detail::recvfrom_awaiter datagram_socket::recvfrom(std::size_t max_bytes) {
  if (max_bytes == 0) {
    throw std::invalid_argument("datagram_socket::recvfrom: max_bytes must be at least 1, got 0");
  }
  return {require_open("recvfrom"), max_bytes, &pending_, "recvfrom"};
}

detail::recvfrom_into_awaiter datagram_socket::recvfrom_into(std::span<std::byte> buffer) {
  if (buffer.empty()) {
    throw std::invalid_argument("datagram_socket::recvfrom_into: the buffer is empty");
  }
  return {require_open("recvfrom_into"), buffer, &pending_, "recvfrom_into"};
}

address datagram_socket::local_address() const {
  require_open("local_address");
  return sock_.local_address();
}

// --- create_datagram_endpoint -----------------------------------------------------------------

namespace {

/// The addresses `where` resolves to, or one empty entry (any family) when it is not given.
coro<std::vector<addrinfo_entry>> resolve_or_any(optional_arg<host_port> where, int family,
                                                 int flags) {
  if (!where) {
    co_return std::vector<addrinfo_entry>(1);
  }
  addrinfo_options hints{.family = family, .type = SOCK_DGRAM, .protocol = 0, .flags = flags};
  auto resolving = getaddrinfo(std::move(where->host), where->port, hints);
  co_return co_await std::move(resolving);
}

/// Whether local and remote can go on one socket: the same family, or one of them absent.
bool compatible(const addrinfo_entry& local, const addrinfo_entry& remote) {
  return local.family == AF_UNSPEC || remote.family == AF_UNSPEC || local.family == remote.family;
}

/// One attempt: a socket of `family`, bound to local and connected to remote when they are
/// given (family AF_UNSPEC in an entry: not given). Throws std::system_error when a step
/// fails; the socket is then closed.
socket open_for(int family, int protocol, const addrinfo_entry& local, const addrinfo_entry& remote,
                const datagram_endpoint_options& options) {
  socket sock = socket::create(family, SOCK_DGRAM, protocol);
  if (options.reuse_port) {
    sock.set_option(SOL_SOCKET, SO_REUSEPORT, 1);
  }
  if (options.allow_broadcast) {
    sock.set_option(SOL_SOCKET, SO_BROADCAST, 1);
  }
  if (local.family != AF_UNSPEC) {
    sock.bind(local.addr);
  }
  if (remote.family != AF_UNSPEC) {
    // A UDP connect only records the peer: it completes at once, never EINPROGRESS.
    if (::connect(sock.fd(), remote.addr.native(), remote.addr.native_length()) != 0) {
      throw std::system_error(errno, std::system_category(),
                              fmt::format("connect {}", remote.addr.to_string()));
    }
  }
  return sock;
}

void check_options(const datagram_endpoint_options& options) {
  if (options.family != AF_UNSPEC && options.family != AF_INET && options.family != AF_INET6) {
    throw std::invalid_argument(fmt::format(
        "create_datagram_endpoint: family {} is not AF_UNSPEC, AF_INET or AF_INET6 (for Unix "
        "datagram sockets use socket::create and datagram_socket::adopt)",
        options.family));
  }
  if (!options.local_addr && !options.remote_addr && options.family == AF_UNSPEC) {
    throw std::invalid_argument(
        "create_datagram_endpoint: give local_addr, remote_addr or a family (AF_INET, AF_INET6)");
  }
}

}  // namespace

coro<datagram_socket> create_datagram_endpoint(datagram_endpoint_options options) {
  check_options(options);
  if (!options.local_addr && !options.remote_addr) {
    const addrinfo_entry none;
    co_return datagram_socket(open_for(options.family, 0, none, none, options), std::nullopt);
  }
  // Empty local host: the wildcard address, as binding means. Empty remote host: loopback.
  auto resolving_local = resolve_or_any(options.local_addr, options.family, AI_PASSIVE);
  std::vector<addrinfo_entry> locals = co_await std::move(resolving_local);
  auto resolving_remote = resolve_or_any(options.remote_addr, options.family, 0);
  std::vector<addrinfo_entry> remotes = co_await std::move(resolving_remote);

  std::exception_ptr first_failure;
  bool any_pair = false;
  for (const addrinfo_entry& local : locals) {
    for (const addrinfo_entry& remote : remotes) {
      if (!compatible(local, remote)) {
        continue;
      }
      any_pair = true;
      try {
        const addrinfo_entry& chosen = local.family != AF_UNSPEC ? local : remote;
        socket sock = open_for(chosen.family, chosen.protocol, local, remote, options);
        std::optional<address> peer;
        if (remote.family != AF_UNSPEC) {
          peer = remote.addr;
        }
        co_return datagram_socket(std::move(sock), std::move(peer));
      } catch (const std::system_error&) {
        if (!first_failure) {
          first_failure = std::current_exception();
        }
      }
    }
  }
  if (!any_pair) {
    throw std::invalid_argument(fmt::format(
        "create_datagram_endpoint: local_addr '{}' and remote_addr '{}' resolve to no common "
        "address family",
        options.local_addr->host, options.remote_addr->host));
  }
  std::rethrow_exception(first_failure);
}

}  // namespace eddy
