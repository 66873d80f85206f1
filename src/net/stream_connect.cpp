// open_connection / open_unix_connection: resolve, connect, wrap in streams.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "eddy/loop.hpp"
#include "eddy/net/dns.hpp"
#include "eddy/net/stream.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/wait.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace {

/// open_unix_connection's pauses while a listener's backlog is full: the first, and the most.
constexpr std::chrono::milliseconds unix_connect_first_retry{1};
constexpr std::chrono::milliseconds unix_connect_retry_limit{64};

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

/// One attempt: a socket of the entry's family, bound if asked, connected to the entry.
coro<socket> connect_one(addrinfo_entry entry, std::optional<address> local_addr) {
  socket attempt = socket::create(entry.family, SOCK_STREAM, entry.protocol);
  if (local_addr) {
    attempt.bind(*local_addr);
  }
  co_await get_running_loop().sock_connect(attempt, entry.addr);
  co_return attempt;
}

/// asyncio's _interleave_addrinfos: `first_family_count` addresses of the first family, then
/// alternating between families, each family in the resolver's order.
std::vector<addrinfo_entry> interleave_families(std::vector<addrinfo_entry> entries,
                                                unsigned first_family_count) {
  std::vector<std::vector<addrinfo_entry>> by_family;
  for (addrinfo_entry& entry : entries) {
    auto same = std::find_if(by_family.begin(), by_family.end(), [&](const auto& group) {
      return group.front().family == entry.family;
    });
    if (same == by_family.end()) {
      by_family.push_back({std::move(entry)});
    } else {
      same->push_back(std::move(entry));
    }
  }
  std::vector<addrinfo_entry> ordered;
  std::vector<std::size_t> taken(by_family.size(), 0);
  for (unsigned i = 1; i < first_family_count && taken[0] < by_family[0].size(); ++i) {
    ordered.push_back(std::move(by_family[0][taken[0]++]));
  }
  for (bool any = true; any;) {
    any = false;
    for (std::size_t family = 0; family < by_family.size(); ++family) {
      if (taken[family] < by_family[family].size()) {
        ordered.push_back(std::move(by_family[family][taken[family]++]));
        any = true;
      }
    }
  }
  return ordered;
}

/// A connection attempt started by connect_staggered.
struct running_attempt {
  task<socket> connecting;
  address target;
};

/// Happy Eyeballs (asyncio's staggered_race): starts an attempt, and the next one when `delay`
/// passes or an attempt fails; the first to connect wins and the rest are cancelled (their
/// sockets close with them). Failures are appended to *failures; nullopt when all failed.
coro<std::optional<socket>> connect_staggered(std::vector<addrinfo_entry> entries,
                                              clock::duration delay,
                                              std::optional<address> local_addr,
                                              std::vector<connect_failure>* failures) {
  std::vector<running_attempt> running;
  std::optional<socket> winner;
  std::exception_ptr escaped;
  try {
    for (std::size_t next = 0; !winner;) {
      if (next < entries.size()) {
        running.push_back(
            {create_task(connect_one(entries[next], local_addr)), entries[next].addr});
        ++next;
      }
      if (running.empty()) {
        break;  // every address failed
      }
      std::vector<task<socket>> waiting;
      for (const running_attempt& attempt : running) {
        waiting.push_back(attempt.connecting);
      }
      wait_options until{};
      until.when = return_when::first_completed;
      if (next < entries.size()) {
        until.timeout = delay;  // then the next attempt starts alongside
      }
      co_await wait(waiting, until);
      for (auto each = running.begin(); each != running.end();) {
        if (!each->connecting.done()) {
          ++each;
          continue;
        }
        try {
          socket connected = co_await std::move(each->connecting);
          if (!winner) {
            winner = std::move(connected);
          }
        } catch (const std::system_error& error) {
          failures->push_back(
              {error.code().value(), fmt::format("connect {}", each->target.to_string())});
        }
        each = running.erase(each);
      }
    }
  } catch (...) {
    escaped = std::current_exception();  // cancelled, or a bad local_addr: stop the others too
  }
  for (running_attempt& attempt : running) {
    attempt.connecting.cancel();
  }
  if (escaped) {
    std::rethrow_exception(escaped);
  }
  co_return winner;
}

}  // namespace

coro<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port,
                                                              connection_options options) {
  detail::check_stream_options(options.streams(), "open_connection");
  if (options.happy_eyeballs_delay && options.happy_eyeballs_delay->get().count() < 0) {
    throw std::invalid_argument(
        fmt::format("open_connection: happy_eyeballs_delay must be >= 0, got {} ms",
                    options.happy_eyeballs_delay->as<std::chrono::milliseconds>().count()));
  }
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
  unsigned interleave = options.interleave.value_or(options.happy_eyeballs_delay ? 1 : 0);
  if (interleave > 0) {
    entries = interleave_families(std::move(entries), interleave);
  }
  std::vector<connect_failure> failures;
  if (options.happy_eyeballs_delay && entries.size() > 1) {
    coro<std::optional<socket>> racing = connect_staggered(
        std::move(entries), options.happy_eyeballs_delay->get(), options.local_addr, &failures);
    std::optional<socket> connected = co_await std::move(racing);
    if (connected) {
      co_return open_streams(std::move(*connected), options.streams());
    }
    throw_connect_failures(failures);
  }
  for (const addrinfo_entry& entry : entries) {
    std::optional<socket> connected;
    try {
      // Made before the co_await: GCC 12 destroys by-value aggregate arguments built inside a
      // co_await expression twice (design-notes.md).
      coro<socket> attempt = connect_one(entry, options.local_addr);
      connected = co_await std::move(attempt);
    } catch (const std::system_error& error) {
      failures.push_back({error.code().value(), fmt::format("connect {}", entry.addr.to_string())});
      continue;
    }
    co_return open_streams(std::move(*connected), options.streams());
  }
  throw_connect_failures(failures);
}

coro<std::pair<stream_reader, stream_writer>> open_unix_connection(std::string path,
                                                                   stream_options options) {
  detail::check_stream_options(options, "open_unix_connection");
  address target = address::unix_path(path);
  socket attempt = socket::unix_stream();
  // A listener whose backlog is full refuses with EAGAIN, and no readiness says when it has
  // room again: try again after a pause that doubles up to unix_connect_retry_limit, until it
  // connects, fails otherwise, or the caller gives up (cancellation, a timeout around us).
  std::chrono::milliseconds pause = unix_connect_first_retry;
  for (;;) {
    std::error_code failure;
    try {
      co_await get_running_loop().sock_connect(attempt, target);
      break;
    } catch (const std::system_error& error) {
      failure = error.code();
    }
    if (failure != std::errc::resource_unavailable_try_again) {
      throw std::system_error(failure, "connect " + path);
    }
    co_await sleep(pause);
    pause = std::min(pause * 2, unix_connect_retry_limit);
  }
  co_return open_streams(std::move(attempt), options);
}

}  // namespace eddy
