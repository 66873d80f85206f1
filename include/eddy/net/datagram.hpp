// UDP endpoints (asyncio's loop.create_datagram_endpoint), coroutine-style: a datagram_socket
// you co_await sendto / recvfrom on, instead of a DatagramProtocol the loop calls back.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/detail/resource_warning.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/detail/datagram_awaiter.hpp"
#include "eddy/net/received_datagram.hpp"
#include "eddy/net/socket.hpp"
#include "eddy/optional_arg.hpp"

namespace eddy {

/// A host and a port, as asyncio's (host, port) tuples. The host is a name ("localhost"), a
/// literal IPv4 or IPv6 address ("127.0.0.1", "::1", "[::1]"), or empty: the wildcard address
/// for local_addr, the loopback address for remote_addr.
///
/// A class with a constructor rather than an aggregate, so that `eddy::host_port{"::1", 53}`
/// written inside a co_await is correct under GCC 12 too (optional_arg.hpp says why).
struct host_port {
  host_port() = default;
  host_port(std::string host, std::uint16_t port) : host(std::move(host)), port(port) {}

  std::string host;
  std::uint16_t port = 0;
};

/// create_datagram_endpoint's arguments (asyncio's keyword arguments of the same names),
/// which may be written inside the co_await:
/// `co_await eddy::create_datagram_endpoint({.local_addr = eddy::host_port{"127.0.0.1", 0}})`.
struct datagram_endpoint_options {
  /// Where to bind. Port 0 lets the kernel choose.
  optional_arg<host_port> local_addr = std::nullopt;
  /// Where to connect: sendto(data) then goes there, and only datagrams from there are
  /// received.
  optional_arg<host_port> remote_addr = std::nullopt;
  /// AF_UNSPEC (whatever the addresses resolve to), AF_INET or AF_INET6. Needed when neither
  /// address is given.
  int family = AF_UNSPEC;
  /// SO_REUSEPORT: several sockets may bind the same address and port.
  bool reuse_port = false;
  /// SO_BROADCAST: sending to a broadcast address is allowed.
  bool allow_broadcast = false;
};

/// A datagram (UDP, or any SOCK_DGRAM) socket: asyncio's DatagramTransport and
/// DatagramProtocol in one, with the protocol's callbacks turned into awaits. Move-only; owns
/// its descriptor (non-blocking, close-on-exec) and closes it when destroyed.
///
/// Loop-thread only. Several tasks may send and receive on one socket at the same time; each
/// receive gets a whole datagram of its own.
///
/// Cancel safety of every await: cancelling the task is prompt. On io_uring the task resumes
/// only once the kernel has let go of the buffer. Either the cancel took effect and nothing
/// was sent or received, or the operation had already finished: then its result (the datagram,
/// the count sent) is delivered and cancelled_error is thrown at the task's next await, so no
/// received datagram is lost.
///
/// Errors are std::system_error with the errno. On a connected socket the kernel reports an
/// ICMP "port unreachable" for an earlier datagram as ECONNREFUSED from the next send or
/// receive (asyncio passes it to error_received); the socket stays usable.
///
/// In debug mode, destroying an unclosed datagram_socket (or assigning over one) reports
/// "unclosed datagram_socket <fd=7 local=127.0.0.1:5353>" (" remote=..." too when connected)
/// through the exception handler of the loop it was made on, as asyncio's ResourceWarning for
/// an unclosed transport, then closes it as always. close() first to say it is deliberate.
class datagram_socket {
 public:
  /// A closed socket.
  datagram_socket() noexcept = default;

  /// Takes over an open SOCK_DGRAM socket (UDP, or a Unix datagram socket, say). It should be
  /// non-blocking; a blocking one still never blocks the loop. If it is connected, its peer
  /// becomes remote_address(). Throws std::invalid_argument if `sock` is closed or not a
  /// datagram socket (it is then closed).
  [[nodiscard]] static datagram_socket adopt(socket sock);

  /// Takes over other's descriptor and its sends and receives in flight; other is closed.
  datagram_socket(datagram_socket&& other) noexcept
      : sock_(std::move(other.sock_)),
        remote_(std::exchange(other.remote_, std::nullopt)),
        pending_(std::move(other.pending_)),
        loop_(other.loop_) {}
  /// Closes this socket (as close(); in debug mode an open one is reported, see the class
  /// comment), then takes over other's.
  datagram_socket& operator=(datagram_socket&& other) noexcept;
  datagram_socket(const datagram_socket&) = delete;
  datagram_socket& operator=(const datagram_socket&) = delete;
  /// Closes the socket (see close(); in debug mode an open one is reported, see the class
  /// comment).
  ~datagram_socket();

  /// Sends `data` as one datagram to `target`; the await yields the bytes sent (all of them:
  /// a datagram is sent whole or not at all). `data` must stay alive until the await ends;
  /// `target` is copied. An empty datagram is allowed.
  /// Throws at once: std::system_error(EBADF) if the socket is closed; std::invalid_argument if
  /// the socket is connected and `target` is not its peer (asyncio's ValueError). The await
  /// throws std::system_error: EMSGSIZE when data is too big for one datagram, ECONNREFUSED
  /// (see the class comment), EAFNOSUPPORT / EINVAL for an address of the wrong family, ...
  [[nodiscard]] detail::sendto_awaiter sendto(std::string_view data, const address& target);
  /// Sends `data` to the connected peer. Throws at once with EBADF when closed; the await
  /// throws std::system_error(EDESTADDRREQ) on a socket that is not connected.
  [[nodiscard]] detail::sendto_awaiter sendto(std::string_view data);

  /// Receives one datagram of at most max_bytes (the rest of a longer one is dropped and
  /// `truncated` is set; see received_datagram). Suspends until a datagram arrives.
  /// Throws at once: std::invalid_argument if max_bytes is 0, std::system_error(EBADF) if the
  /// socket is closed. The await throws std::system_error: EBADF when the socket is closed
  /// while waiting, ECONNREFUSED (see the class comment).
  [[nodiscard]] detail::recvfrom_awaiter recvfrom(std::size_t max_bytes = 65536);
  /// Receives one datagram into `buffer`, which must stay alive until the await ends (see
  /// docs/coroutine-lifetimes.md); no allocation. Throws as recvfrom, std::invalid_argument
  /// for an empty buffer.
  [[nodiscard]] detail::recvfrom_into_awaiter recvfrom_into(std::span<std::byte> buffer);
  [[nodiscard]] detail::recvfrom_into_awaiter recvfrom_into(std::span<char> buffer) {
    return recvfrom_into(std::as_writable_bytes(buffer));
  }

  /// Closes the descriptor (asyncio's transport.close(), which for datagrams drops nothing
  /// queued: eddy queues nothing). Sends and receives still waiting end with
  /// std::system_error(EBADF), except those that had already finished, whose result is
  /// delivered. A no-op when closed already. Never throws.
  void close() noexcept;
  [[nodiscard]] bool is_closing() const noexcept { return !sock_.is_open(); }
  [[nodiscard]] bool is_open() const noexcept { return sock_.is_open(); }

  /// The bound address (get_extra_info('sockname')). Throws std::system_error(EBADF) when
  /// closed.
  [[nodiscard]] address local_address() const;
  /// The connected peer (get_extra_info('peername')), or nothing when not connected.
  [[nodiscard]] std::optional<address> remote_address() const { return remote_; }
  /// The socket itself (get_extra_info('socket')), for options eddy has no call for.
  [[nodiscard]] const socket& get_socket() const noexcept { return sock_; }
  [[nodiscard]] int fd() const noexcept { return sock_.fd(); }

 private:
  datagram_socket(socket sock, std::optional<address> remote) noexcept
      : sock_(std::move(sock)),
        remote_(std::move(remote)),
        loop_(detail::loop_binding::running()) {}
  int require_open(const char* operation) const;
  /// Reports this socket in debug mode if it is open (destructor, move assignment).
  void report_if_open() const noexcept;

  socket sock_;
  std::optional<address> remote_;
  /// Sends and receives in flight, ended by close().
  detail::datagram_op_list pending_;
  /// The loop the socket was made on (create_datagram_endpoint, adopt), for report_if_open().
  detail::loop_binding loop_;

  friend coro<datagram_socket> create_datagram_endpoint(datagram_endpoint_options options);
};

/// Creates a datagram socket (asyncio's loop.create_datagram_endpoint): resolves local_addr
/// and remote_addr with eddy::getaddrinfo (SOCK_DGRAM; literal addresses skip the thread
/// pool), then tries the resolved pairs of the same family in order: socket, SO_REUSEPORT /
/// SO_BROADCAST as asked, bind to local_addr, connect to remote_addr. With neither address,
/// an unbound socket of `family`.
///
/// The await throws, before doing anything: std::invalid_argument when neither address nor a
/// family is given, or for a family other than AF_UNSPEC, AF_INET, AF_INET6 (Unix datagram
/// sockets: socket::create and datagram_socket::adopt). Later: gai_error when a host does not
/// resolve,
/// std::invalid_argument when local and remote addresses share no family, and the first
/// std::system_error (EADDRINUSE, ...) when every pair failed. Cancel safety: cancelling while
/// a name resolves ends the await at once; nothing is left open.
[[nodiscard]] coro<datagram_socket> create_datagram_endpoint(datagram_endpoint_options options);

}  // namespace eddy
