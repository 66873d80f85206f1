#include "eddy/net/datagram.hpp"
// UDP endpoints (asyncio's create_datagram_endpoint, coroutine-style) and the loop's
// sock_sendto / sock_recvfrom, over real sockets on 127.0.0.1 and ::1 with kernel-chosen ports.
// Cancellation is checked to be prompt and to lose no datagram; closing a socket ends the
// operations waiting on it.

#include <catch2/catch.hpp>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/net/dns.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;

/// Options for an endpoint bound to `host` on a port the kernel picks.
eddy::datagram_endpoint_options bound_to(std::string host) {
  eddy::datagram_endpoint_options options;
  options.local_addr = eddy::host_port{std::move(host), 0};
  return options;
}

/// An endpoint bound to `host`, port 0.
eddy::coro<eddy::datagram_socket> endpoint_on(std::string host) {
  eddy::datagram_endpoint_options options = bound_to(std::move(host));
  auto creating = eddy::create_datagram_endpoint(std::move(options));
  co_return co_await std::move(creating);
}

/// An endpoint connected to `peer` (and bound to an ephemeral port of its family).
eddy::coro<eddy::datagram_socket> endpoint_connected_to(eddy::address peer) {
  eddy::datagram_endpoint_options options;
  options.remote_addr = eddy::host_port{peer.host(), peer.port()};
  auto creating = eddy::create_datagram_endpoint(std::move(options));
  co_return co_await std::move(creating);
}

/// Whether ::1 can be bound here (containers without IPv6 cannot).
bool ipv6_loopback_available() {
  try {
    eddy::socket probe = eddy::socket::create(AF_INET6, SOCK_DGRAM);
    probe.bind(eddy::address::parse("::1", 0));
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

/// An unused UDP port on 127.0.0.1: bound once by a socket that is closed again.
std::uint16_t unused_udp_port() {
  eddy::socket probe = eddy::socket::create(AF_INET, SOCK_DGRAM);
  probe.bind(eddy::address::parse("127.0.0.1", 0));
  return probe.local_address().port();
}

/// Receives one datagram; for create_task (the socket must outlive the task).
eddy::coro<eddy::received_datagram> receive_one(eddy::datagram_socket* sock) {
  co_return co_await sock->recvfrom();
}

/// The error a connected sendto throws, if any.
eddy::coro<std::optional<std::system_error>> sendto_error(eddy::datagram_socket* sock,
                                                          std::string data) {
  try {
    static_cast<void>(co_await sock->sendto(data));
  } catch (const std::system_error& error) {
    co_return error;
  }
  co_return std::nullopt;
}

/// The error recvfrom throws, if any.
eddy::coro<std::optional<std::system_error>> recvfrom_error(eddy::datagram_socket* sock) {
  try {
    static_cast<void>(co_await sock->recvfrom());
  } catch (const std::system_error& error) {
    co_return error;
  }
  co_return std::nullopt;
}

/// The echo round trip both address families share: a client sends, the server answers to
/// the address the datagram came from.
eddy::coro<void> echo_round_trip(std::string host) {
  eddy::datagram_socket server = co_await endpoint_on(host);
  eddy::datagram_socket client = co_await endpoint_on(host);
  const eddy::address server_address = server.local_address();
  CHECK(server_address.port() != 0);

  std::size_t sent = co_await client.sendto("ping", server_address);
  CHECK(sent == 4);
  eddy::received_datagram request = co_await server.recvfrom();
  CHECK(request.data == "ping");
  CHECK(request.from == client.local_address());
  CHECK_FALSE(request.truncated);

  std::string answer = "pong: " + request.data;
  std::size_t answered = co_await server.sendto(answer, request.from);
  CHECK(answered == 10);
  eddy::received_datagram reply = co_await client.recvfrom();
  CHECK(reply.data == "pong: ping");
  CHECK(reply.from == server_address);
}

}  // namespace

// --- create_datagram_endpoint and the round trip ----------------------------------------------

TEST_CASE("two IPv4 endpoints exchange datagrams with sendto and recvfrom", "[datagram]") {
  eddy::run(echo_round_trip("127.0.0.1"));
}

TEST_CASE("two IPv6 endpoints on ::1 exchange datagrams with sendto and recvfrom",
          "[datagram][ipv6]") {
  if (!ipv6_loopback_available()) {
    WARN("::1 cannot be bound here; skipping the IPv6 round trip");
    return;
  }
  eddy::run(echo_round_trip("::1"));
}

TEST_CASE("an endpoint resolves localhost through getaddrinfo", "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_endpoint_options options = bound_to("localhost");
    options.family = AF_INET;
    auto creating = eddy::create_datagram_endpoint(std::move(options));
    eddy::datagram_socket sock = co_await std::move(creating);
    CHECK(sock.local_address().host() == "127.0.0.1");
    CHECK_FALSE(sock.remote_address().has_value());
  };
  eddy::run(main());
}

TEST_CASE("an endpoint with only a family is an unbound socket that can send", "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_endpoint_options options;
    options.family = AF_INET;
    auto creating = eddy::create_datagram_endpoint(std::move(options));
    eddy::datagram_socket sender = co_await std::move(creating);
    std::size_t sent = co_await sender.sendto("x", server.local_address());
    CHECK(sent == 1);
    eddy::received_datagram got = co_await server.recvfrom();
    CHECK(got.data == "x");
    CHECK(got.from.port() == sender.local_address().port());  // the send bound it (0.0.0.0)
  };
  eddy::run(main());
}

TEST_CASE("a connected endpoint sends to its peer and receives only from it", "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket stranger = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_connected_to(server.local_address());
    REQUIRE(client.remote_address().has_value());
    CHECK(*client.remote_address() == server.local_address());

    std::size_t sent = co_await client.sendto("hello");  // no address: the peer
    CHECK(sent == 5);
    eddy::received_datagram request = co_await server.recvfrom();
    CHECK(request.data == "hello");

    // The kernel drops what the stranger sends; the peer's answer is what arrives.
    std::size_t ignored = co_await stranger.sendto("noise", client.local_address());
    CHECK(ignored == 5);
    std::size_t answered = co_await server.sendto("welcome", request.from);
    CHECK(answered == 7);
    eddy::received_datagram reply = co_await client.recvfrom();
    CHECK(reply.data == "welcome");
    CHECK(reply.from == server.local_address());

    // sendto with the peer's own address is allowed; any other is asyncio's ValueError.
    std::size_t again = co_await client.sendto("again", server.local_address());
    CHECK(again == 5);
    CHECK_THROWS_AS(client.sendto("elsewhere", stranger.local_address()), std::invalid_argument);
  };
  eddy::run(main());
}

TEST_CASE("sendto without an address on an unconnected endpoint throws EDESTADDRREQ",
          "[datagram][errors]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket sock = co_await endpoint_on("127.0.0.1");
    auto error = co_await sendto_error(&sock, "lost");
    REQUIRE(error.has_value());
    CHECK(error->code().value() == EDESTADDRREQ);
  };
  eddy::run(main());
}

TEST_CASE("an ICMP port unreachable reaches a connected endpoint as ECONNREFUSED",
          "[datagram][errors]") {
  auto main = []() -> eddy::coro<void> {
    eddy::address nobody = eddy::address::parse("127.0.0.1", unused_udp_port());
    eddy::datagram_socket client = co_await endpoint_connected_to(nobody);
    std::size_t sent = co_await client.sendto("anyone?");
    CHECK(sent == 7);
    auto error = co_await recvfrom_error(&client);
    REQUIRE(error.has_value());
    CHECK(error->code().value() == ECONNREFUSED);
    // The error is reported once; the socket keeps working.
    std::size_t still = co_await client.sendto("still there?");
    CHECK(still == 12);
  };
  eddy::run(main());
}

// --- receiving -------------------------------------------------------------------------------

TEST_CASE("recvfrom_into fills the caller's buffer; a datagram too long is truncated",
          "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    std::string long_one(100, 'L');
    std::size_t sent = co_await client.sendto(long_one, server.local_address());
    CHECK(sent == 100);
    std::size_t sent_short = co_await client.sendto("short", server.local_address());
    CHECK(sent_short == 5);

    std::array<char, 10> buffer{};
    eddy::received_into first = co_await server.recvfrom_into(buffer);
    CHECK(first.size == 10);
    CHECK(first.truncated);
    CHECK(std::string(buffer.data(), first.size) == std::string(10, 'L'));
    CHECK(first.from == client.local_address());
    // The tail of the long datagram is gone; the next datagram is whole.
    eddy::received_into second = co_await server.recvfrom_into(buffer);
    CHECK(second.size == 5);
    CHECK_FALSE(second.truncated);
    CHECK(std::string(buffer.data(), second.size) == "short");

    std::size_t again = co_await client.sendto(long_one, server.local_address());
    CHECK(again == 100);
    eddy::received_datagram cut = co_await server.recvfrom(30);
    CHECK(cut.data == std::string(30, 'L'));
    CHECK(cut.truncated);
  };
  eddy::run(main());
}

TEST_CASE("an empty datagram is a datagram", "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    std::size_t sent = co_await client.sendto("", server.local_address());
    CHECK(sent == 0);
    eddy::received_datagram got = co_await server.recvfrom();
    CHECK(got.data.empty());
    CHECK(got.from == client.local_address());
  };
  eddy::run(main());
}

TEST_CASE("five hundred datagrams over loopback arrive whole and in order", "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    // Room for all of them at once: UDP drops what does not fit.
    int room = 4 << 20;
    REQUIRE(::setsockopt(server.fd(), SOL_SOCKET, SO_RCVBUF, &room, sizeof room) == 0);
    constexpr int count = 500;
    const eddy::address target = server.local_address();
    for (int i = 0; i < count; ++i) {
      std::string message = "datagram " + std::to_string(i);
      std::size_t sent = co_await client.sendto(message, target);
      REQUIRE(sent == message.size());
    }
    int in_order = 0;
    for (int i = 0; i < count; ++i) {
      eddy::received_datagram got = co_await server.recvfrom(64);
      if (got.data == "datagram " + std::to_string(i)) {
        ++in_order;
      }
    }
    CHECK(in_order == count);
  };
  eddy::run(main());
}

TEST_CASE("several tasks receiving on one endpoint each get a whole datagram of their own",
          "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    std::vector<eddy::task<eddy::received_datagram>> receivers;
    for (int i = 0; i < 5; ++i) {
      receivers.push_back(eddy::create_task(receive_one(&server)));
    }
    co_await eddy::sleep(5ms);
    for (int i = 0; i < 5; ++i) {
      std::string message = "message " + std::to_string(i);
      std::size_t sent = co_await client.sendto(message, server.local_address());
      CHECK(sent == 9);
    }
    std::vector<std::string> received;
    for (auto& receiver : receivers) {
      eddy::received_datagram got = co_await receiver;
      received.push_back(got.data);
    }
    std::sort(received.begin(), received.end());
    CHECK(received == std::vector<std::string>{"message 0", "message 1", "message 2", "message 3",
                                               "message 4"});
  };
  eddy::run(main());
}

// --- cancellation and closing ----------------------------------------------------------------

TEST_CASE("a recvfrom cancelled while waiting ends promptly and the endpoint still works",
          "[datagram][cancel]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    eddy::task<eddy::received_datagram> waiting = eddy::create_task(receive_one(&server));
    co_await eddy::sleep(10ms);
    CHECK_FALSE(waiting.done());
    const auto cancelled_at = eddy::clock::now();
    waiting.cancel();
    auto error = co_await caught<eddy::cancelled_error>(waiting);
    CHECK(error.has_value());
    CHECK(eddy::clock::now() - cancelled_at < 1s);

    std::size_t sent = co_await client.sendto("after the cancel", server.local_address());
    CHECK(sent == 16);
    eddy::received_datagram got = co_await server.recvfrom();
    CHECK(got.data == "after the cancel");
  };
  eddy::run(main());
}

TEST_CASE("a datagram that arrives as the receive is cancelled is received exactly once",
          "[datagram][cancel]") {
  // The receiver is cancelled right after the datagram is sent. Either the cancel took
  // effect first (the datagram stays queued for the next recvfrom) or the receive had already
  // finished (the task gets the datagram and sees the cancellation at its next await).
  auto receive_then_yield = [](eddy::datagram_socket* sock, std::string* got) -> eddy::coro<void> {
    eddy::received_datagram datagram = co_await sock->recvfrom();
    *got = datagram.data;
    co_await eddy::sleep(0s);  // where a late cancellation is delivered
  };
  auto main = [receive_then_yield]() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    for (int round = 0; round < 20; ++round) {
      std::string got_by_cancelled;
      eddy::task<void> receiver = eddy::create_task(receive_then_yield(&server, &got_by_cancelled));
      co_await eddy::sleep(1ms);
      std::string message = "round " + std::to_string(round);
      std::size_t sent = co_await client.sendto(message, server.local_address());
      REQUIRE(sent == message.size());
      if (round % 4 >= 2) {
        // Let the loop see the datagram first: then the receive has finished when cancelled
        // (epoll; on io_uring the send's own suspension already gave it that chance).
        co_await eddy::sleep(0s);
      }
      receiver.cancel();
      auto error = co_await caught<eddy::cancelled_error>(receiver);
      CHECK(error.has_value());
      if (got_by_cancelled.empty()) {
        eddy::received_datagram later = co_await server.recvfrom();
        CHECK(later.data == message);
      } else {
        CHECK(got_by_cancelled == message);
      }
    }
  };
  eddy::run(main());
}

TEST_CASE("receives cancelled with their buffers freed leave the kernel nothing to write (ASan)",
          "[datagram][cancel][asan]") {
  // Each task owns a heap buffer, waits in recvfrom_into, is cancelled, frees the buffer and
  // ends. Datagrams sent afterwards must all still be queued (no stale receive took one), and
  // ASan would catch a kernel write into a freed buffer on the epoll path.
  auto receive_into_owned_buffer = [](eddy::datagram_socket* sock) -> eddy::coro<void> {
    auto buffer = std::make_unique<std::byte[]>(2048);
    eddy::received_into got =
        co_await sock->recvfrom_into(std::span<std::byte>(buffer.get(), 2048));
    static_cast<void>(got);
  };
  auto main = [receive_into_owned_buffer]() -> eddy::coro<int> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::datagram_socket client = co_await endpoint_on("127.0.0.1");
    std::vector<eddy::task<void>> receivers;
    for (int i = 0; i < 10; ++i) {
      receivers.push_back(eddy::create_task(receive_into_owned_buffer(&server)));
    }
    co_await eddy::sleep(5ms);
    for (auto& receiver : receivers) {
      receiver.cancel();
    }
    for (auto& receiver : receivers) {
      auto error = co_await caught<eddy::cancelled_error>(receiver);
      CHECK(error.has_value());
    }
    receivers.clear();
    co_await eddy::sleep(5ms);
    for (int i = 0; i < 3; ++i) {
      std::size_t sent = co_await client.sendto("late", server.local_address());
      CHECK(sent == 4);
    }
    int queued = 0;
    for (int i = 0; i < 3; ++i) {
      eddy::received_datagram got = co_await server.recvfrom();
      queued += got.data == "late" ? 1 : 0;
    }
    co_return queued;
  };
  CHECK(eddy::run(main()) == 3);
}

TEST_CASE("run() cancels a task still waiting in recvfrom when main returns",
          "[datagram][cancel]") {
  auto main = []() -> eddy::coro<bool> {
    eddy::datagram_socket bound = co_await endpoint_on("127.0.0.1");
    auto server = std::make_shared<eddy::datagram_socket>(std::move(bound));
    auto keep_receiving = [](std::shared_ptr<eddy::datagram_socket> sock) -> eddy::coro<void> {
      static_cast<void>(co_await sock->recvfrom());
    };
    static_cast<void>(eddy::create_task(keep_receiving(server)));
    co_await eddy::sleep(5ms);
    co_return true;
  };
  CHECK(eddy::run(main()));
}

TEST_CASE("closing an endpoint ends its waiting recvfrom with EBADF", "[datagram][close]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
    eddy::task<eddy::received_datagram> waiting = eddy::create_task(receive_one(&server));
    co_await eddy::sleep(5ms);
    CHECK_FALSE(waiting.done());
    server.close();
    CHECK(server.is_closing());
    auto error = co_await caught<std::system_error>(waiting);
    REQUIRE(error.has_value());
    CHECK(error->code().value() == EBADF);
  };
  eddy::run(main());
}

TEST_CASE("an endpoint moved while a task waits on it still ends that wait when closed",
          "[datagram][close]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket first = co_await endpoint_on("127.0.0.1");
    eddy::task<eddy::received_datagram> waiting = eddy::create_task(receive_one(&first));
    co_await eddy::sleep(5ms);
    eddy::datagram_socket moved = std::move(first);
    CHECK_FALSE(first.is_open());
    CHECK(moved.is_open());
    moved = eddy::datagram_socket();  // closes what it held
    auto error = co_await caught<std::system_error>(waiting);
    REQUIRE(error.has_value());
    CHECK(error->code().value() == EBADF);
  };
  eddy::run(main());
}

TEST_CASE("sendto and recvfrom on a closed endpoint throw EBADF at once", "[datagram][close]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_socket sock = co_await endpoint_on("127.0.0.1");
    const eddy::address somewhere = sock.local_address();
    sock.close();
    sock.close();  // twice is harmless
    CHECK_THROWS_AS(sock.sendto("x", somewhere), std::system_error);
    try {
      static_cast<void>(sock.sendto("x"));
      FAIL("sendto on a closed socket did not throw");
    } catch (const std::system_error& error) {
      CHECK(error.code().value() == EBADF);
      CHECK(std::string(error.what()).find("sendto") != std::string::npos);
    }
    CHECK_THROWS_AS(sock.recvfrom(), std::system_error);
    CHECK_THROWS_AS(sock.local_address(), std::system_error);
    eddy::datagram_socket never_opened;
    CHECK_THROWS_AS(never_opened.recvfrom(), std::system_error);
  };
  eddy::run(main());
}

// --- bad arguments ---------------------------------------------------------------------------

TEST_CASE("create_datagram_endpoint rejects bad arguments", "[datagram][errors]") {
  auto main = []() -> eddy::coro<void> {
    // Neither address nor a family: asyncio's "unexpected address family".
    eddy::datagram_endpoint_options nothing;
    auto empty =
        co_await caught<std::invalid_argument>(eddy::create_datagram_endpoint(std::move(nothing)));
    CHECK(empty.has_value());

    eddy::datagram_endpoint_options unix_family;
    unix_family.family = AF_UNIX;
    auto wrong_family = co_await caught<std::invalid_argument>(
        eddy::create_datagram_endpoint(std::move(unix_family)));
    CHECK(wrong_family.has_value());

    // A literal that is not of the requested family does not resolve.
    eddy::datagram_endpoint_options mismatch = bound_to("127.0.0.1");
    mismatch.family = AF_INET6;
    auto unresolved =
        co_await caught<eddy::gai_error>(eddy::create_datagram_endpoint(std::move(mismatch)));
    CHECK(unresolved.has_value());

    eddy::datagram_endpoint_options no_common_family = bound_to("127.0.0.1");
    no_common_family.remote_addr = eddy::host_port{"::1", 9};
    auto disjoint = co_await caught<std::invalid_argument>(
        eddy::create_datagram_endpoint(std::move(no_common_family)));
    CHECK(disjoint.has_value());

    eddy::datagram_socket taken = co_await endpoint_on("127.0.0.1");
    eddy::datagram_endpoint_options same_port;
    same_port.local_addr = eddy::host_port{"127.0.0.1", taken.local_address().port()};
    auto in_use =
        co_await caught<std::system_error>(eddy::create_datagram_endpoint(std::move(same_port)));
    REQUIRE(in_use.has_value());
    CHECK(in_use->code().value() == EADDRINUSE);

    CHECK_THROWS_AS(taken.recvfrom(0), std::invalid_argument);
    CHECK_THROWS_AS(taken.recvfrom_into(std::span<std::byte>()), std::invalid_argument);
  };
  eddy::run(main());
}

TEST_CASE("reuse_port lets two endpoints bind one port; allow_broadcast sets SO_BROADCAST",
          "[datagram]") {
  auto main = []() -> eddy::coro<void> {
    eddy::datagram_endpoint_options first_options = bound_to("127.0.0.1");
    first_options.reuse_port = true;
    first_options.allow_broadcast = true;
    auto creating_first = eddy::create_datagram_endpoint(std::move(first_options));
    eddy::datagram_socket first = co_await std::move(creating_first);
    CHECK(first.get_socket().get_option(SOL_SOCKET, SO_REUSEPORT) == 1);
    CHECK(first.get_socket().get_option(SOL_SOCKET, SO_BROADCAST) == 1);

    eddy::datagram_endpoint_options second_options;
    second_options.local_addr = eddy::host_port{"127.0.0.1", first.local_address().port()};
    second_options.reuse_port = true;
    auto creating_second = eddy::create_datagram_endpoint(std::move(second_options));
    eddy::datagram_socket second = co_await std::move(creating_second);
    CHECK(second.local_address() == first.local_address());
    CHECK(second.get_socket().get_option(SOL_SOCKET, SO_BROADCAST) == 0);
  };
  eddy::run(main());
}

// --- adopt and the loop's sock_* ---------------------------------------------------------------

TEST_CASE("adopt takes over datagram sockets and refuses stream sockets", "[datagram][adopt]") {
  auto main = []() -> eddy::coro<void> {
    auto [left, right] = eddy::socket::pair(SOCK_DGRAM);
    eddy::datagram_socket a = eddy::datagram_socket::adopt(std::move(left));
    eddy::datagram_socket b = eddy::datagram_socket::adopt(std::move(right));
    CHECK(a.remote_address().has_value());  // a socketpair is connected
    std::size_t sent = co_await a.sendto("over a unix pair");
    CHECK(sent == 16);
    eddy::received_datagram got = co_await b.recvfrom();
    CHECK(got.data == "over a unix pair");

    CHECK_THROWS_AS(eddy::datagram_socket::adopt(eddy::socket::tcp()), std::invalid_argument);
    CHECK_THROWS_AS(eddy::datagram_socket::adopt(eddy::socket()), std::invalid_argument);
  };
  eddy::run(main());
}

TEST_CASE("loop.sock_sendto and sock_recvfrom work on plain sockets (asyncio 3.11)",
          "[datagram][sock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::socket server = eddy::socket::create(AF_INET, SOCK_DGRAM);
    server.bind(eddy::address::parse("127.0.0.1", 0));
    eddy::socket client = eddy::socket::create(AF_INET, SOCK_DGRAM);
    client.bind(eddy::address::parse("127.0.0.1", 0));

    std::size_t sent = co_await loop.sock_sendto(client, "one", server.local_address());
    CHECK(sent == 3);
    eddy::received_datagram got = co_await loop.sock_recvfrom(server, 100);
    CHECK(got.data == "one");
    CHECK(got.from == client.local_address());

    std::size_t sent_two = co_await loop.sock_sendto(server, "two", got.from);
    CHECK(sent_two == 3);
    std::array<std::byte, 8> buffer{};
    eddy::received_into into = co_await loop.sock_recvfrom_into(client, buffer);
    CHECK(into.size == 3);
    CHECK(into.from == server.local_address());
    CHECK_THROWS_AS(loop.sock_recvfrom(server, 0), std::invalid_argument);
  };
  eddy::run(main());
}

// --- descriptors ---------------------------------------------------------------------------

TEST_CASE("creating, using, failing and closing endpoints leaves no descriptor open",
          "[datagram][leak]") {
  int before = eddy_test::open_descriptor_count();
  auto main = []() -> eddy::coro<void> {
    for (int round = 0; round < 5; ++round) {
      eddy::datagram_socket server = co_await endpoint_on("127.0.0.1");
      eddy::datagram_socket client = co_await endpoint_connected_to(server.local_address());
      std::size_t sent = co_await client.sendto("x");
      CHECK(sent == 1);
      eddy::received_datagram got = co_await server.recvfrom();
      CHECK(got.data == "x");
      eddy::task<eddy::received_datagram> waiting = eddy::create_task(receive_one(&client));
      co_await eddy::sleep(1ms);
      waiting.cancel();
      auto cancelled = co_await caught<eddy::cancelled_error>(waiting);
      CHECK(cancelled.has_value());
      // A failed attempt (the port is taken) closes the socket it made.
      eddy::datagram_endpoint_options same_port;
      same_port.local_addr = eddy::host_port{"127.0.0.1", server.local_address().port()};
      auto in_use =
          co_await caught<std::system_error>(eddy::create_datagram_endpoint(std::move(same_port)));
      CHECK(in_use.has_value());
    }
  };
  eddy::run(main());
  CHECK(eddy_test::open_descriptor_count() == before);
}
