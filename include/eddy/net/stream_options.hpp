// The knobs of streams, connections and servers (the keyword arguments of asyncio's
// open_connection and start_server).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <optional>

#include "eddy/duration_arg.hpp"
#include "eddy/net/address.hpp"

namespace eddy {

/// How a stream buffers. Checked when a stream is created: limit, high_water and low_water
/// must be > 0 and low_water <= high_water, else std::invalid_argument.
struct stream_options {
  /// The most a readuntil()/readline() looks through for its separator (asyncio's `limit`).
  std::size_t limit = 64 * 1024;
  /// drain() waits while more than high_water bytes are unsent, until at most low_water are
  /// (asyncio's transport.set_write_buffer_limits defaults).
  std::size_t high_water = 64 * 1024;
  std::size_t low_water = 16 * 1024;
};

/// open_connection's options. Flat (not derived from stream_options) so that designated
/// initializers work: open_connection(host, port, {.limit = 1 << 20, .family = AF_INET}).
struct connection_options {
  std::size_t limit = 64 * 1024;       ///< as stream_options::limit
  std::size_t high_water = 64 * 1024;  ///< as stream_options::high_water
  std::size_t low_water = 16 * 1024;   ///< as stream_options::low_water
  /// AF_UNSPEC (any), AF_INET or AF_INET6: which addresses of the host to try.
  int family = AF_UNSPEC;
  /// Bind the socket to this address before connecting (asyncio's local_addr).
  std::optional<address> local_addr = std::nullopt;
  /// Happy Eyeballs (RFC 8305, asyncio's happy_eyeballs_delay): when set, the next address is
  /// tried after this delay (or at once when an attempt fails) while earlier attempts go on;
  /// the first to connect wins and the others are cancelled. Unset: one address after the
  /// other, each to the end (asyncio's default). RFC 8305 recommends 250 ms.
  std::optional<duration_arg> happy_eyeballs_delay = std::nullopt;
  /// Reorders the addresses so that families alternate, taking this many of the first family
  /// first (asyncio's interleave). Unset: 1 with happy_eyeballs_delay, 0 (resolver order)
  /// without.
  std::optional<unsigned> interleave = std::nullopt;

  [[nodiscard]] stream_options streams() const noexcept { return {limit, high_water, low_water}; }
};

/// start_server's options (flat, like connection_options); the stream fields apply to each
/// accepted connection.
struct server_options {
  std::size_t limit = 64 * 1024;       ///< as stream_options::limit
  std::size_t high_water = 64 * 1024;  ///< as stream_options::high_water
  std::size_t low_water = 16 * 1024;   ///< as stream_options::low_water
  /// AF_UNSPEC binds every address the host resolves to (IPv4 and IPv6).
  int family = AF_UNSPEC;
  /// listen()'s backlog (asyncio's default is 100).
  int backlog = 100;
  /// SO_REUSEADDR (on by default on POSIX, as asyncio).
  bool reuse_address = true;
  /// SO_REUSEPORT.
  bool reuse_port = false;
  /// Listen and accept at once (asyncio's default). false: the sockets are bound but not
  /// listening (a client's connect is refused, ECONNREFUSED) until server.start_serving() or
  /// server.serve_forever(), as asyncio's start_serving=False.
  bool start_serving = true;

  [[nodiscard]] stream_options streams() const noexcept { return {limit, high_water, low_water}; }
};

}  // namespace eddy
