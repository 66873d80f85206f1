// open_connection / open_unix_connection: resolve, connect, wrap in streams.
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "eddy/loop.hpp"
#include "eddy/net/dns.hpp"
#include "eddy/net/stream.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace {

/// One failed attempt, kept to build the final error.
struct connect_failure {
  int error = 0;
  std::string text;
};

[[noreturn]] void throw_connect_failures(const std::vector<connect_failure>& failures) {
  bool all_same = true;
  for (const connect_failure& failure : failures) {
    all_same = all_same && failure.error == failures.front().error;
  }
  if (all_same) {
    throw std::system_error(failures.front().error, std::system_category(), failures.front().text);
  }
  std::string message = "Multiple exceptions:";
  for (const connect_failure& failure : failures) {
    message += " [" + failure.text + ": " + std::system_category().message(failure.error) + "]";
  }
  throw std::system_error(failures.front().error, std::system_category(), message);
}

}  // namespace

coro<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port,
                                                              connection_options options) {
  detail::check_stream_options(options.streams(), "open_connection");
  addrinfo_options hints;
  hints.family = options.family;
  hints.type = SOCK_STREAM;
  std::string lookup_host = host;
  coro<std::vector<addrinfo_entry>> lookup = getaddrinfo(std::move(lookup_host), port, hints);
  std::vector<addrinfo_entry> entries = co_await std::move(lookup);
  if (entries.empty()) {
    throw std::system_error(EHOSTUNREACH, std::system_category(),
                            "open_connection: getaddrinfo() returned empty list");
  }
  event_loop& loop = get_running_loop();
  std::vector<connect_failure> failures;
  for (const addrinfo_entry& entry : entries) {
    socket attempt = socket::create(entry.family, SOCK_STREAM, entry.protocol);
    try {
      if (options.local_addr) {
        attempt.bind(*options.local_addr);
      }
      co_await loop.sock_connect(attempt, entry.addr);
    } catch (const std::system_error& error) {
      failures.push_back({error.code().value(), fmt::format("connect {}", entry.addr.to_string())});
      continue;
    }
    co_return open_streams(std::move(attempt), options.streams());
  }
  throw_connect_failures(failures);
}

coro<std::pair<stream_reader, stream_writer>> open_unix_connection(std::string path,
                                                                   stream_options options) {
  detail::check_stream_options(options, "open_unix_connection");
  address target = address::unix_path(path);
  socket attempt = socket::unix_stream();
  try {
    co_await get_running_loop().sock_connect(attempt, target);
  } catch (const std::system_error& error) {
    throw std::system_error(error.code(), "connect " + path);
  }
  co_return open_streams(std::move(attempt), options);
}

}  // namespace eddy
