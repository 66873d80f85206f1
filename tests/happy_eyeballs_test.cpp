#include "eddy/net/stream.hpp"
// open_connection with happy_eyeballs_delay (RFC 8305, asyncio's staggered race): with an
// address that never answers first in line, the next address is tried after the delay and
// wins; without the option the attempts stay one after another. The "never answers" address
// is a real listener whose accept queue is full, so the kernel drops the SYN and the connect
// just waits. Needs IPv6 loopback (::1) beside 127.0.0.1; skipped without it.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "eddy/net/dns.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;

/// A listener on `host`:`port` (port 0: the kernel picks). IPv6 sockets are IPv6-only so the
/// same port can be taken on 127.0.0.1 as well.
std::optional<eddy::socket> try_listen(const std::string& host, std::uint16_t port, int backlog) {
  eddy::address where = eddy::address::parse(host, port);
  try {
    eddy::socket listener = eddy::socket::create(where.family(), SOCK_STREAM);
    if (where.family() == AF_INET6) {
      listener.set_option(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    }
    listener.bind(where);
    listener.listen(backlog);
    return listener;
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

/// Two listeners on one port: the one on the address that "" resolves to first never answers
/// (its accept queue is full), the other accepts. Empty when IPv6 loopback is missing.
struct one_dead_address {
  eddy::socket dead;
  eddy::socket dead_filler;  ///< the connection that fills the dead listener's queue
  eddy::socket alive;
  std::uint16_t port = 0;
  std::string alive_host;
};

eddy::coro<std::optional<one_dead_address>> make_one_dead_address() {
  std::optional<eddy::socket> v6 = try_listen("::1", 0, 0);
  if (!v6) {
    co_return std::nullopt;
  }
  std::uint16_t port = v6->local_address().port();
  std::optional<eddy::socket> v4 = try_listen("127.0.0.1", port, 16);
  if (!v4) {
    co_return std::nullopt;
  }
  auto order = co_await eddy::getaddrinfo("", port, {.type = SOCK_STREAM});
  REQUIRE(order.size() >= 2);
  bool v6_first = order.front().family == AF_INET6;
  one_dead_address setup;
  setup.port = port;
  setup.dead = std::move(v6_first ? *v6 : *v4);
  setup.alive = std::move(v6_first ? *v4 : *v6);
  setup.alive_host = v6_first ? "127.0.0.1" : "::1";
  if (!v6_first) {
    // The dead one must have backlog 0: listen again with it.
    setup.dead.listen(0);
  }
  // Fill the dead listener's accept queue with one connection nobody accepts.
  eddy::address dead_address = setup.dead.local_address();
  setup.dead_filler = eddy::socket::create(dead_address.family(), SOCK_STREAM);
  co_await eddy::get_running_loop().sock_connect(setup.dead_filler, dead_address);
  co_return std::move(setup);
}

}  // namespace

TEST_CASE("happy eyeballs: an address that never answers does not hold the connection up",
          "[stream][happy_eyeballs]") {
  auto main = []() -> eddy::coro<void> {
    std::optional<one_dead_address> setup = co_await make_one_dead_address();
    if (!setup) {
      WARN("no IPv6 loopback: skipped");
      co_return;
    }
    eddy::connection_options options;
    options.happy_eyeballs_delay = 50ms;
    const auto started = eddy::get_running_loop().time();
    auto connecting = eddy::open_connection("", setup->port, options);
    auto [reader, writer] = co_await eddy::wait_for(std::move(connecting), 5s);
    const auto took = eddy::get_running_loop().time() - started;
    CHECK(writer.peername().host() == setup->alive_host);
    CHECK(took >= 45ms);  // the second attempt started only after the delay
    writer.close();
    co_await writer.wait_closed();
  };
  eddy::run(main());
}

TEST_CASE("without happy eyeballs the attempts stay sequential: a dead first address blocks",
          "[stream][happy_eyeballs]") {
  auto main = []() -> eddy::coro<void> {
    std::optional<one_dead_address> setup = co_await make_one_dead_address();
    if (!setup) {
      WARN("no IPv6 loopback: skipped");
      co_return;
    }
    auto connecting = eddy::open_connection("", setup->port);
    auto outcome =
        co_await caught<eddy::timeout_error>(eddy::wait_for(std::move(connecting), 300ms));
    CHECK(outcome.has_value());
  };
  eddy::run(main());
}

TEST_CASE("happy eyeballs: every address refused is one ECONNREFUSED", "[stream][happy_eyeballs]") {
  auto main = []() -> eddy::coro<void> {
    std::optional<eddy::socket> v6 = try_listen("::1", 0, 1);
    if (!v6) {
      WARN("no IPv6 loopback: skipped");
      co_return;
    }
    std::uint16_t port = v6->local_address().port();
    v6->close();  // nobody listens on this port now, on either family
    eddy::connection_options options;
    options.happy_eyeballs_delay = 250ms;
    auto error = co_await caught<std::system_error>(eddy::open_connection("", port, options));
    REQUIRE(error.has_value());
    CHECK(error->code().value() == ECONNREFUSED);
  };
  eddy::run(main());
}

TEST_CASE("happy eyeballs: cancelling open_connection stops every attempt at once",
          "[stream][happy_eyeballs]") {
  auto main = []() -> eddy::coro<void> {
    std::optional<one_dead_address> setup = co_await make_one_dead_address();
    if (!setup) {
      WARN("no IPv6 loopback: skipped");
      co_return;
    }
    setup->alive.close();  // now the second address refuses: only the dead attempt remains
    eddy::connection_options options;
    options.happy_eyeballs_delay = 20ms;
    auto connecting = eddy::create_task(eddy::open_connection("", setup->port, options));
    co_await eddy::sleep(60ms);
    CHECK_FALSE(connecting.done());
    const auto asked = eddy::get_running_loop().time();
    connecting.cancel();
    auto outcome = co_await caught<eddy::cancelled_error>(connecting);
    CHECK(outcome.has_value());
    CHECK(eddy::get_running_loop().time() - asked < 100ms);
  };
  eddy::run(main());
}

TEST_CASE("happy_eyeballs_delay must not be negative", "[stream][happy_eyeballs][args]") {
  auto main = []() -> eddy::coro<void> {
    eddy::connection_options options;
    options.happy_eyeballs_delay = -1ms;
    auto error =
        co_await caught<std::invalid_argument>(eddy::open_connection("127.0.0.1", 1, options));
    CHECK(error.has_value());
  };
  eddy::run(main());
}
