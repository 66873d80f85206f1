// Name resolution (asyncio's loop.getaddrinfo / loop.getnameinfo).
//
// The C library's resolver blocks, so, as asyncio does, eddy runs it on the loop's default
// executor. What needs no lookup — a literal IPv4/IPv6 host, an empty host, a numeric port —
// is answered on the loop thread at once, without a trip through the thread pool.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/net/address.hpp"

namespace eddy {

/// A resolver failure (socket.gaierror): code() is the EAI_* value, what() names the call,
/// the host and the service, and gai_strerror's text. EAI_SYSTEM carries the errno's text.
class gai_error : public std::runtime_error {
 public:
  gai_error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  /// The EAI_* code getaddrinfo or getnameinfo returned.
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

/// One getaddrinfo result: what socket() needs (family, type, protocol) and where to connect
/// or bind. canonical_name is filled only for the first entry, and only with AI_CANONNAME.
struct addrinfo_entry {
  int family = AF_UNSPEC;
  int type = 0;
  int protocol = 0;
  std::string canonical_name;
  address addr;
};

/// getaddrinfo's hints. family AF_UNSPEC means IPv4 and IPv6; type 0 means every socket type;
/// flags are AI_* (AI_PASSIVE for an address to bind, AI_CANONNAME, ...).
struct addrinfo_options {
  int family = AF_UNSPEC;
  int type = 0;
  int protocol = 0;
  int flags = 0;
};

/// Resolves host and port into the addresses to try, in the resolver's order (asyncio's
/// loop.getaddrinfo). An empty host means the loopback address, or with AI_PASSIVE the
/// wildcard address. Lookups that need the resolver run on the running loop's default
/// executor; a literal host with a numeric port is answered without it.
///
/// Throws gai_error when the name does not resolve (EAI_NONAME, ...), std::invalid_argument
/// for a host or service containing a NUL byte, std::runtime_error once the default executor
/// is shut down, std::logic_error outside an eddy task. Cancelling the await ends it at once;
/// a lookup already running finishes on its thread and its answer is dropped.
[[nodiscard]] coro<std::vector<addrinfo_entry>> getaddrinfo(std::string host, std::uint16_t port,
                                                            addrinfo_options options = {});

/// As above with a service name ("http") or a numeric port in text ("8080"); an empty service
/// means port 0.
[[nodiscard]] coro<std::vector<addrinfo_entry>> getaddrinfo(std::string host, std::string service,
                                                            addrinfo_options options = {});

/// The host and service names of an IP address (asyncio's loop.getnameinfo); flags are NI_*.
/// With NI_NUMERICHOST | NI_NUMERICSERV the answer is formatted on the loop thread; otherwise
/// the lookup runs on the default executor. Throws gai_error on failure, std::invalid_argument
/// for an address that is not IPv4 or IPv6, and as getaddrinfo for the executor.
[[nodiscard]] coro<std::pair<std::string, std::string>> getnameinfo(address where, int flags = 0);

}  // namespace eddy
