#include "eddy/net/dns.hpp"
// eddy::getaddrinfo / getnameinfo (asyncio's loop.getaddrinfo / loop.getnameinfo): literal
// addresses are answered on the loop thread, names go through the default executor, failures
// are gai_error, and a cancelled lookup ends at once.

#include <catch2/catch.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/thread.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;

std::vector<std::string> hosts_of(const std::vector<eddy::addrinfo_entry>& entries) {
  std::vector<std::string> hosts;
  for (const eddy::addrinfo_entry& entry : entries) {
    hosts.push_back(entry.addr.host());
  }
  return hosts;
}

}  // namespace

TEST_CASE("a literal IPv4 address resolves to itself, with the port and type asked for", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto entries = co_await eddy::getaddrinfo("127.0.0.1", 8080, {.type = SOCK_STREAM});
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].family == AF_INET);
    CHECK(entries[0].type == SOCK_STREAM);
    CHECK(entries[0].addr.to_string() == "127.0.0.1:8080");
  };
  eddy::run(main());
}

TEST_CASE("a literal IPv6 address resolves, with or without brackets", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto plain = co_await eddy::getaddrinfo("::1", 53, {.type = SOCK_DGRAM});
    auto bracketed = co_await eddy::getaddrinfo("[::1]", "53", {.type = SOCK_DGRAM});
    REQUIRE(plain.size() == 1);
    REQUIRE(bracketed.size() == 1);
    CHECK(plain[0].family == AF_INET6);
    CHECK(plain[0].type == SOCK_DGRAM);
    CHECK(plain[0].addr.to_string() == "[::1]:53");
    CHECK(bracketed[0].addr == plain[0].addr);
  };
  eddy::run(main());
}

TEST_CASE("literal addresses need no thread pool: they resolve after the executor is shut down",
          "[dns]") {
  auto main = []() -> eddy::coro<void> {
    co_await eddy::get_running_loop().shutdown_default_executor();
    auto literal = co_await eddy::getaddrinfo("10.1.2.3", 1, {.type = SOCK_STREAM});
    CHECK(literal.at(0).addr.to_string() == "10.1.2.3:1");
    auto name = co_await eddy::getnameinfo(eddy::address::parse("10.1.2.3", 80),
                                           NI_NUMERICHOST | NI_NUMERICSERV);
    CHECK(name == std::pair<std::string, std::string>{"10.1.2.3", "80"});
    // A name does need the pool, and says so.
    auto refused = co_await caught<std::runtime_error>(eddy::getaddrinfo("localhost", 80));
    CHECK(refused.has_value());
  };
  eddy::run(main());
}

TEST_CASE("an empty host is loopback, or with AI_PASSIVE the wildcard address", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto loopback = co_await eddy::getaddrinfo("", 7, {.family = AF_INET, .type = SOCK_STREAM});
    auto wildcard = co_await eddy::getaddrinfo(
        "", 7, {.family = AF_INET, .type = SOCK_STREAM, .flags = AI_PASSIVE});
    CHECK(hosts_of(loopback) == std::vector<std::string>{"127.0.0.1"});
    CHECK(hosts_of(wildcard) == std::vector<std::string>{"0.0.0.0"});
  };
  eddy::run(main());
}

TEST_CASE("a host name is resolved on the default executor", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto entries =
        co_await eddy::getaddrinfo("localhost", 80, {.family = AF_INET, .type = SOCK_STREAM});
    REQUIRE(!entries.empty());
    CHECK(entries[0].addr.to_string() == "127.0.0.1:80");
  };
  eddy::run(main());
}

TEST_CASE("a service name is looked up like a host name", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto entries = co_await eddy::getaddrinfo("127.0.0.1", "http", {.type = SOCK_STREAM});
    REQUIRE(!entries.empty());
    CHECK(entries[0].addr.port() == 80);
  };
  eddy::run(main());
}

TEST_CASE("type 0 returns every socket type, as the C library does", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto entries = co_await eddy::getaddrinfo("127.0.0.1", 9);
    bool stream = false;
    bool datagram = false;
    for (const auto& entry : entries) {
      stream = stream || entry.type == SOCK_STREAM;
      datagram = datagram || entry.type == SOCK_DGRAM;
    }
    CHECK(stream);
    CHECK(datagram);
  };
  eddy::run(main());
}

TEST_CASE("a name that does not resolve is a gai_error with the EAI code", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    // AI_NUMERICHOST keeps the resolver off the network, so the failure is immediate.
    auto error = co_await caught<eddy::gai_error>(
        eddy::getaddrinfo("not-a-number.example", 80, {.flags = AI_NUMERICHOST}));
    REQUIRE(error.has_value());
    CHECK(error->code() == EAI_NONAME);
    CHECK(std::string(error->what()).find("not-a-number.example") != std::string::npos);
    // A literal of the wrong family for the hints is no address either.
    auto wrong_family =
        co_await caught<eddy::gai_error>(eddy::getaddrinfo("127.0.0.1", 80, {.family = AF_INET6}));
    CHECK(wrong_family.has_value());
  };
  eddy::run(main());
}

TEST_CASE("a host or service with a NUL byte is rejected at once", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto bad_host = co_await caught<std::invalid_argument>(
        eddy::getaddrinfo(std::string("local\0host", 10), 80));
    auto bad_service = co_await caught<std::invalid_argument>(
        eddy::getaddrinfo("localhost", std::string("8\0", 2)));
    CHECK(bad_host.has_value());
    CHECK(bad_service.has_value());
  };
  eddy::run(main());
}

TEST_CASE("getnameinfo turns an address into host and service names", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto numeric = co_await eddy::getnameinfo(eddy::address::parse("::1", 8080),
                                              NI_NUMERICHOST | NI_NUMERICSERV);
    CHECK(numeric == std::pair<std::string, std::string>{"::1", "8080"});
    auto named = co_await eddy::getnameinfo(eddy::address::parse("127.0.0.1", 80), NI_NUMERICSERV);
    CHECK(named.first == "localhost");
    CHECK(named.second == "80");
  };
  eddy::run(main());
}

TEST_CASE("getnameinfo of a Unix address is an invalid argument", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    auto error = co_await caught<std::invalid_argument>(
        eddy::getnameinfo(eddy::address::unix_path("/tmp/x")));
    CHECK(error.has_value());
  };
  eddy::run(main());
}

TEST_CASE("cancelling a lookup that waits for a worker ends the await at once", "[dns]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    loop.set_default_executor(std::make_shared<eddy::thread_pool_executor>(1));
    // Keep the only worker busy so the lookup stays queued.
    auto release = std::make_shared<std::atomic<bool>>(false);
    auto busy = eddy::run_in_executor(nullptr, [release] {
      while (!release->load()) {
        std::this_thread::sleep_for(1ms);
      }
    });
    eddy::task<std::vector<eddy::addrinfo_entry>> lookup =
        eddy::create_task(eddy::getaddrinfo("localhost", 80));
    co_await eddy::sleep(10ms);
    CHECK(lookup.cancel());
    auto outcome = co_await caught<eddy::cancelled_error>(lookup);
    CHECK(outcome.has_value());
    CHECK(lookup.cancelled());
    release->store(true);
    co_await busy;
    // The executor still works afterwards.
    auto again =
        co_await eddy::getaddrinfo("localhost", 80, {.family = AF_INET, .type = SOCK_STREAM});
    CHECK(!again.empty());
  };
  eddy::run(main());
}
