// What a datagram receive yields: received_datagram (recvfrom, sock_recvfrom) and
// received_into (recvfrom_into, sock_recvfrom_into). A header of its own because both
// net/datagram.hpp and loop.hpp's sock_* operations return them, through awaiters that live
// in net/detail/.
#pragma once

#include <cstddef>
#include <string>

#include "eddy/net/address.hpp"

namespace eddy {

/// One datagram received by recvfrom / sock_recvfrom.
struct received_datagram {
  /// The payload; at most max_bytes long.
  std::string data;
  /// The sender.
  address from;
  /// The datagram was longer than max_bytes: `data` holds its first max_bytes bytes and the
  /// rest is gone (a datagram is read whole or not at all).
  bool truncated = false;
};

/// What recvfrom_into / sock_recvfrom_into wrote into the caller's buffer.
struct received_into {
  /// Bytes written into the buffer.
  std::size_t size = 0;
  /// The sender.
  address from;
  /// As received_datagram::truncated: the datagram did not fit and its tail is gone.
  bool truncated = false;
};

}  // namespace eddy
