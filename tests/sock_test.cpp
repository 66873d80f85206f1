#include "eddy/net/socket.hpp"
// eddy::socket and the loop's low-level socket operations (asyncio's loop.sock_* API and
// add_reader / add_writer), over real TCP sockets on 127.0.0.1, socketpairs and Unix sockets
// in a temporary directory. Cancellation is checked to be prompt and to lose nothing.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/net/address.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;
using eddy_test::error_log;
using accepted = std::pair<eddy::socket, eddy::address>;

/// A TCP listener on 127.0.0.1, on a port the kernel picks.
eddy::socket listen_on_loopback(int backlog = 1024) {
  return eddy::socket::listen_tcp(eddy::address::parse("127.0.0.1", 0), backlog);
}

eddy::coro<accepted> accept_one(const eddy::socket* listener) {
  co_return co_await eddy::get_running_loop().sock_accept(*listener);
}

struct connection {
  eddy::socket client;
  eddy::socket server;
};

/// A TCP connection over loopback, made with sock_connect and sock_accept.
eddy::coro<connection> connect_over_loopback() {
  eddy::event_loop& loop = eddy::get_running_loop();
  eddy::socket listener = listen_on_loopback();
  eddy::task<accepted> accepting = eddy::create_task(accept_one(&listener));
  eddy::socket client = eddy::socket::tcp();
  co_await loop.sock_connect(client, listener.local_address());
  accepted server = co_await std::move(accepting);
  co_return connection{std::move(client), std::move(server.first)};
}

/// Receives until `count` bytes have arrived or the peer closed.
eddy::coro<std::string> recv_exactly(const eddy::socket* sock, std::size_t count) {
  eddy::event_loop& loop = eddy::get_running_loop();
  std::string data;
  while (data.size() < count) {
    std::string chunk = co_await loop.sock_recv(*sock, count - data.size());
    if (chunk.empty()) {
      break;
    }
    data += chunk;
  }
  co_return data;
}

/// Receives until the peer closes.
eddy::coro<std::string> recv_until_eof(const eddy::socket* sock) {
  eddy::event_loop& loop = eddy::get_running_loop();
  std::string data;
  for (;;) {
    std::string chunk = co_await loop.sock_recv(*sock, 256 * 1024);
    if (chunk.empty()) {
      co_return data;
    }
    data += chunk;
  }
}

/// Sends all of `data`, then shuts down the sending side (the reader then sees EOF).
eddy::coro<void> send_all_then_shutdown(eddy::socket* sock, std::string data) {
  co_await eddy::get_running_loop().sock_sendall(*sock, data);
  sock->shutdown(SHUT_WR);
}

/// 4 MiB that are not all the same byte, so a reordering or a gap would show.
std::string patterned_data(std::size_t size) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>((i * 7 + i / 251) % 256);
  }
  return data;
}

/// Sends `size` patterned bytes through `writer` while a concurrent task reads `reader` to
/// EOF; returns whether the reader got exactly what was sent.
eddy::coro<bool> transfer_through(eddy::socket* writer, const eddy::socket* reader,
                                  std::size_t size) {
  std::string data = patterned_data(size);
  eddy::task<std::string> reading = eddy::create_task(recv_until_eof(reader));
  co_await send_all_then_shutdown(writer, data);
  std::string received = co_await std::move(reading);
  co_return received.size() == data.size() && received == data;
}

bool is_nonblocking_and_cloexec(int fd) {
  return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0 && (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/// Waits (in the kernel, up to 2 s) until fd is readable; for checks with plain system calls.
bool wait_readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 2000) == 1;
}

/// An unused loopback port: bound once by a listener that is closed again.
std::uint16_t unused_loopback_port() {
  eddy::socket listener = listen_on_loopback();
  return listener.local_address().port();
}

}  // namespace

// --- eddy::socket ---------------------------------------------------------------------------

TEST_CASE("sockets eddy creates are non-blocking and close-on-exec", "[sock][socket]") {
  eddy::socket tcp = eddy::socket::tcp();
  CHECK(tcp.is_open());
  CHECK(is_nonblocking_and_cloexec(tcp.fd()));
  eddy::socket unix_stream = eddy::socket::unix_stream();
  CHECK(is_nonblocking_and_cloexec(unix_stream.fd()));
  auto [a, b] = eddy::socket::pair();
  CHECK(is_nonblocking_and_cloexec(a.fd()));
  CHECK(is_nonblocking_and_cloexec(b.fd()));
  eddy::socket listener = listen_on_loopback();
  CHECK(is_nonblocking_and_cloexec(listener.fd()));
}

TEST_CASE("listen_tcp on port 0 gets a real port and sets SO_REUSEADDR", "[sock][socket]") {
  eddy::socket listener = listen_on_loopback();
  eddy::address where = listener.local_address();
  CHECK(where.family() == AF_INET);
  CHECK(where.host() == "127.0.0.1");
  CHECK(where.port() != 0);
  CHECK(listener.get_option(SOL_SOCKET, SO_REUSEADDR) != 0);
}

TEST_CASE("a socket owns its descriptor: move, release and close", "[sock][socket]") {
  int before = eddy_test::open_descriptor_count();
  {
    eddy::socket first = eddy::socket::tcp();
    int fd = first.fd();
    eddy::socket second = std::move(first);
    CHECK_FALSE(first.is_open());  // NOLINT(bugprone-use-after-move): documented state
    CHECK(second.fd() == fd);
    int released = second.release();
    CHECK(released == fd);
    CHECK_FALSE(second);
    eddy::socket adopted(released);
    adopted.close();
    CHECK_FALSE(adopted.is_open());
    adopted.close();  // closing twice is a no-op
  }
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("operations on a closed socket throw std::system_error with EBADF", "[sock][socket]") {
  eddy::socket closed;
  try {
    static_cast<void>(closed.local_address());
    FAIL("local_address() on a closed socket returned");
  } catch (const std::system_error& error) {
    CHECK(error.code().value() == EBADF);
  }
  CHECK_THROWS_AS(closed.listen(), std::system_error);
  CHECK_THROWS_AS(closed.set_no_delay(true), std::system_error);
}

TEST_CASE("binding a port already in use throws std::system_error with EADDRINUSE",
          "[sock][socket]") {
  eddy::socket listener = listen_on_loopback();
  eddy::socket other = eddy::socket::tcp();
  try {
    other.bind(listener.local_address());
    FAIL("bind to a listening port succeeded");
  } catch (const std::system_error& error) {
    CHECK(error.code().value() == EADDRINUSE);
    CHECK_THAT(error.what(), Catch::Contains("127.0.0.1"));
  }
}

TEST_CASE("set_no_delay and set_option change the socket's options", "[sock][socket]") {
  eddy::socket tcp = eddy::socket::tcp();
  tcp.set_no_delay(true);
  CHECK(tcp.get_option(IPPROTO_TCP, TCP_NODELAY) != 0);
  tcp.set_no_delay(false);
  CHECK(tcp.get_option(IPPROTO_TCP, TCP_NODELAY) == 0);
  tcp.set_option(SOL_SOCKET, SO_KEEPALIVE, 1);
  CHECK(tcp.get_option(SOL_SOCKET, SO_KEEPALIVE) != 0);
}

// --- connect, accept, send, receive over TCP ------------------------------------------------

TEST_CASE("sock_connect and sock_accept connect a TCP client to a listener on 127.0.0.1",
          "[sock][tcp]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::socket listener = listen_on_loopback();
    eddy::task<accepted> accepting = eddy::create_task(accept_one(&listener));
    eddy::socket client = eddy::socket::tcp();
    co_await loop.sock_connect(client, listener.local_address());
    accepted server = co_await std::move(accepting);
    CHECK(server.first.is_open());
    CHECK(is_nonblocking_and_cloexec(server.first.fd()));
    CHECK(server.second == client.local_address());
    CHECK(server.second.to_string().rfind("127.0.0.1:", 0) == 0);
    CHECK(client.peer_address() == listener.local_address());
    CHECK(server.first.local_address() == listener.local_address());
  };
  eddy::run(main());
}

TEST_CASE("sock_sendall and sock_recv carry data both ways over TCP", "[sock][tcp]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    connection c = co_await connect_over_loopback();
    co_await loop.sock_sendall(c.client, "ping");
    std::string request = co_await recv_exactly(&c.server, 4);
    CHECK(request == "ping");
    co_await loop.sock_sendall(c.server, "pong!");
    std::string reply = co_await recv_exactly(&c.client, 5);
    CHECK(reply == "pong!");
  };
  eddy::run(main());
}

TEST_CASE("sock_send returns how many bytes the kernel took", "[sock][tcp]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    auto [a, b] = eddy::socket::pair();
    std::size_t sent = co_await loop.sock_send(a, "hello");
    CHECK(sent == 5);
    std::string received = co_await loop.sock_recv(b, 100);
    CHECK(received == "hello");
  };
  eddy::run(main());
}

TEST_CASE("sock_recv returns at most max_bytes and leaves the rest for the next receive",
          "[sock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    auto [a, b] = eddy::socket::pair();
    co_await loop.sock_sendall(a, "abcdef");
    std::string first = co_await loop.sock_recv(b, 4);
    std::string second = co_await loop.sock_recv(b, 100);
    CHECK(first == "abcd");
    CHECK(second == "ef");
  };
  eddy::run(main());
}

TEST_CASE("sock_recv_into fills the caller's buffer and returns the count", "[sock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    connection c = co_await connect_over_loopback();
    co_await loop.sock_sendall(c.client, "into a buffer");
    std::array<char, 64> chars{};
    std::size_t count = co_await loop.sock_recv_into(c.server, std::span<char>(chars));
    CHECK(std::string_view(chars.data(), count) == "into a buffer");

    co_await loop.sock_sendall(c.server, "bytes");
    std::array<std::byte, 3> bytes{};
    std::size_t partial = co_await loop.sock_recv_into(c.client, std::span<std::byte>(bytes));
    CHECK(partial == 3);
    CHECK(static_cast<char>(bytes[0]) == 'b');
    CHECK(static_cast<char>(bytes[2]) == 't');
    std::string rest = co_await recv_exactly(&c.client, 2);
    CHECK(rest == "es");
  };
  eddy::run(main());
}

TEST_CASE("a 4 MiB sock_sendall over TCP is received in full by a concurrent reader",
          "[sock][tcp][large]") {
  auto main = []() -> eddy::coro<bool> {
    connection c = co_await connect_over_loopback();
    co_return co_await transfer_through(&c.client, &c.server, 4 * 1024 * 1024);
  };
  CHECK(eddy::run(main()));
}

TEST_CASE("sock_recv returns an empty string after the peer closes", "[sock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    connection c = co_await connect_over_loopback();
    co_await loop.sock_sendall(c.client, "last words");
    c.client.close();
    std::string data = co_await recv_until_eof(&c.server);
    CHECK(data == "last words");
    std::string again = co_await loop.sock_recv(c.server, 10);
    CHECK(again.empty());
  };
  eddy::run(main());
}

TEST_CASE("a sock_recv blocked when the peer closes returns an empty string", "[sock]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    auto [a, b] = eddy::socket::pair();
    loop.call_later(5ms, [&b] { b.close(); });
    std::string data = co_await loop.sock_recv(a, 10);
    CHECK(data.empty());
    std::array<char, 8> buffer{};
    std::size_t count = co_await loop.sock_recv_into(a, std::span<char>(buffer));
    CHECK(count == 0);
  };
  eddy::run(main());
}

TEST_CASE("connecting to a port nothing listens on throws std::system_error with ECONNREFUSED",
          "[sock][tcp]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::address nowhere = eddy::address::parse("127.0.0.1", unused_loopback_port());
    eddy::socket client = eddy::socket::tcp();
    int code = 0;
    try {
      co_await loop.sock_connect(client, nowhere);
    } catch (const std::system_error& error) {
      code = error.code().value();
      CHECK(error.code() == std::errc::connection_refused);
    }
    CHECK(code == ECONNREFUSED);
  };
  eddy::run(main());
}

TEST_CASE("sock_recv on a TCP socket that is not connected throws std::system_error",
          "[sock][tcp]") {
  auto main = []() -> eddy::coro<int> {
    eddy::socket unconnected = eddy::socket::tcp();
    try {
      static_cast<void>(co_await eddy::get_running_loop().sock_recv(unconnected, 10));
    } catch (const std::system_error& error) {
      co_return error.code().value();
    }
    co_return 0;
  };
  CHECK(eddy::run(main()) == ENOTCONN);
}

TEST_CASE("sending to a closed peer throws EPIPE instead of raising SIGPIPE", "[sock]") {
  auto main = []() -> eddy::coro<int> {
    auto [a, b] = eddy::socket::pair();
    b.close();
    try {
      co_await eddy::get_running_loop().sock_sendall(a, "nobody is listening");
    } catch (const std::system_error& error) {
      co_return error.code().value();
    }
    co_return 0;
  };
  CHECK(eddy::run(main()) == EPIPE);
}

TEST_CASE("twenty clients talk to one accepting task concurrently", "[sock][tcp]") {
  auto serve_one = [](eddy::socket conn) -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    std::string request = co_await recv_exactly(&conn, 8);
    co_await loop.sock_sendall(conn, "re:" + request);
  };
  auto client = [](eddy::address server, int id) -> eddy::coro<bool> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::socket sock = eddy::socket::tcp();
    co_await loop.sock_connect(sock, server);
    std::string request = "client" + std::to_string(10 + id);
    co_await loop.sock_sendall(sock, request);
    std::string reply = co_await recv_exactly(&sock, 11);
    co_return reply == "re:" + request;
  };
  auto main = [serve_one, client]() -> eddy::coro<int> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::socket listener = listen_on_loopback();
    std::vector<eddy::task<bool>> clients;
    for (int i = 0; i < 20; ++i) {
      clients.push_back(eddy::create_task(client(listener.local_address(), i)));
    }
    std::vector<eddy::task<void>> handlers;
    for (int i = 0; i < 20; ++i) {
      accepted conn = co_await loop.sock_accept(listener);
      handlers.push_back(eddy::create_task(serve_one(std::move(conn.first))));
    }
    int good = 0;
    for (eddy::task<bool>& t : clients) {
      good += (co_await t) ? 1 : 0;
    }
    for (eddy::task<void>& t : handlers) {
      co_await t;
    }
    co_return good;
  };
  CHECK(eddy::run(main()) == 20);
}

// --- Unix sockets ---------------------------------------------------------------------------

TEST_CASE("sock_connect and sock_accept over a Unix socket in a temporary directory",
          "[sock][unix]") {
  eddy_test::temp_dir directory;
  auto main = [](std::string path) -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::address where = eddy::address::unix_path(path);
    eddy::socket listener = eddy::socket::listen_unix(where);
    CHECK(listener.local_address() == where);
    eddy::task<accepted> accepting = eddy::create_task(accept_one(&listener));
    eddy::socket client = eddy::socket::unix_stream();
    co_await loop.sock_connect(client, where);
    accepted server = co_await std::move(accepting);
    CHECK(server.second.family() == AF_UNIX);
    co_await loop.sock_sendall(client, "over unix");
    std::string received = co_await recv_exactly(&server.first, 9);
    CHECK(received == "over unix");
  };
  eddy::run(main(directory.file("listener.sock")));
}

TEST_CASE("connecting to a Unix path nobody bound throws std::system_error with ENOENT",
          "[sock][unix]") {
  eddy_test::temp_dir directory;
  auto main = [](std::string path) -> eddy::coro<int> {
    eddy::socket client = eddy::socket::unix_stream();
    try {
      co_await eddy::get_running_loop().sock_connect(client, eddy::address::unix_path(path));
    } catch (const std::system_error& error) {
      co_return error.code().value();
    }
    co_return 0;
  };
  CHECK(eddy::run(main(directory.file("missing.sock"))) == ENOENT);
}

TEST_CASE("sock_connect to a Unix listener whose backlog is full throws EAGAIN at once",
          "[sock][unix]") {
  eddy_test::temp_dir directory;
  auto main = [](std::string path) -> eddy::coro<int> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::address where = eddy::address::unix_path(path);
    eddy::socket listener = eddy::socket::listen_unix(where, 0);  // room for one, not accepted
    eddy::socket first = eddy::socket::unix_stream();
    co_await loop.sock_connect(first, where);
    eddy::socket second = eddy::socket::unix_stream();
    int error = 0;
    try {
      co_await loop.sock_connect(second, where);
    } catch (const std::system_error& failure) {
      error = failure.code().value();
    }
    // The socket is still usable: once the listener has room, the same socket connects.
    accepted taken = co_await loop.sock_accept(listener);
    CHECK(taken.second.family() == AF_UNIX);
    co_await loop.sock_connect(second, where);
    accepted next = co_await loop.sock_accept(listener);
    co_await loop.sock_sendall(second, "in");
    std::string received = co_await recv_exactly(&next.first, 2);
    CHECK(received == "in");
    co_return error;
  };
  CHECK(eddy::run(main(directory.file("full.sock"))) == EAGAIN);
}

TEST_CASE("a 4 MiB sock_sendall over a Unix listener connection is received in full",
          "[sock][unix][large]") {
  eddy_test::temp_dir directory;
  auto main = [](std::string path) -> eddy::coro<bool> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::address where = eddy::address::unix_path(path);
    eddy::socket listener = eddy::socket::listen_unix(where);
    eddy::task<accepted> accepting = eddy::create_task(accept_one(&listener));
    eddy::socket client = eddy::socket::unix_stream();
    co_await loop.sock_connect(client, where);
    accepted server = co_await std::move(accepting);
    co_return co_await transfer_through(&server.first, &client, 4 * 1024 * 1024);
  };
  CHECK(eddy::run(main(directory.file("bulk.sock"))));
}

TEST_CASE("a 4 MiB sock_sendall through socket::pair() is received in full",
          "[sock][unix][large]") {
  auto main = []() -> eddy::coro<bool> {
    auto [a, b] = eddy::socket::pair();
    co_return co_await transfer_through(&a, &b, 4 * 1024 * 1024);
  };
  CHECK(eddy::run(main()));
}

// --- cancellation ---------------------------------------------------------------------------

TEST_CASE(
    "cancelling a task blocked in sock_recv throws cancelled_error promptly and loses nothing",
    "[sock][cancel]") {
  auto receive = [](const eddy::socket* sock) -> eddy::coro<std::string> {
    co_return co_await eddy::get_running_loop().sock_recv(*sock, 100);
  };
  auto main = [receive]() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    connection c = co_await connect_over_loopback();
    eddy::task<std::string> blocked = eddy::create_task(receive(&c.server));
    co_await eddy::sleep(10ms);
    CHECK_FALSE(blocked.done());
    auto cancelled_at = eddy::clock::now();
    blocked.cancel("enough");
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(blocked);
    CHECK(eddy::clock::now() - cancelled_at < 5s);
    REQUIRE(error);
    CHECK(error->message() == "enough");
    CHECK(blocked.cancelled());
    // The cancelled receive took nothing: what is sent now is all there for the next one.
    co_await loop.sock_sendall(c.client, "after the cancel");
    std::string data = co_await recv_exactly(&c.server, 16);
    CHECK(data == "after the cancel");
  };
  eddy::run(main());
}

TEST_CASE(
    "data that arrives as a blocked sock_recv is cancelled is delivered or left in the socket, "
    "never lost",
    "[sock][cancel]") {
  // The cancel and the data race: either the cancel wins (the data stays in the socket) or the
  // receive completes first (the task gets the data and the cancellation at its next await).
  auto receive_then_yield = [](const eddy::socket* sock, std::string* got) -> eddy::coro<void> {
    *got = co_await eddy::get_running_loop().sock_recv(*sock, 100);
    co_await eddy::sleep(0s);  // a cancellation that came too late for the receive lands here
    *got += " (and no cancellation)";
  };
  auto main = [receive_then_yield]() -> eddy::coro<std::string> {
    auto [a, b] = eddy::socket::pair();
    std::string got;
    eddy::task<void> receiver = eddy::create_task(receive_then_yield(&a, &got));
    co_await eddy::sleep(5ms);
    REQUIRE(::send(b.fd(), "racing", 6, MSG_NOSIGNAL) == 6);
    receiver.cancel();  // same step as the send: the kernel may already have completed the receive
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(receiver);
    CHECK(error);
    char rest[16];
    ssize_t left = wait_readable(a.fd()) ? ::recv(a.fd(), rest, sizeof rest, MSG_DONTWAIT) : 0;
    co_return got + "|" + std::string(rest, static_cast<std::size_t>(std::max<ssize_t>(left, 0)));
  };
  std::string outcome = eddy::run(main());
  INFO("received by the task | left in the socket: " << outcome);
  CHECK((outcome == "racing|" || outcome == "|racing"));
}

TEST_CASE("two tasks receiving on one socket each get their own data", "[sock]") {
  auto receive = [](const eddy::socket* sock) -> eddy::coro<std::string> {
    co_return co_await eddy::get_running_loop().sock_recv(*sock, 1);
  };
  auto main = [receive]() -> eddy::coro<std::string> {
    auto [a, b] = eddy::socket::pair();
    eddy::task<std::string> first = eddy::create_task(receive(&a));
    eddy::task<std::string> second = eddy::create_task(receive(&a));
    co_await eddy::sleep(5ms);
    REQUIRE(::send(b.fd(), "x", 1, MSG_NOSIGNAL) == 1);
    co_await eddy::sleep(20ms);
    int done_after_one_byte = (first.done() ? 1 : 0) + (second.done() ? 1 : 0);
    CHECK(done_after_one_byte == 1);
    REQUIRE(::send(b.fd(), "y", 1, MSG_NOSIGNAL) == 1);
    std::string one = co_await first;
    std::string two = co_await second;
    co_return one + two;
  };
  std::string both = eddy::run(main());
  CHECK((both == "xy" || both == "yx"));
}

TEST_CASE("two hundred tasks blocked in sock_recv are each woken by their own socket", "[sock]") {
  auto receive = [](const eddy::socket* sock) -> eddy::coro<std::string> {
    co_return co_await eddy::get_running_loop().sock_recv(*sock, 16);
  };
  auto main = [receive]() -> eddy::coro<int> {
    std::vector<std::pair<eddy::socket, eddy::socket>> pairs;
    std::vector<eddy::task<std::string>> receivers;
    for (int i = 0; i < 200; ++i) {
      pairs.push_back(eddy::socket::pair());
    }
    for (auto& pair : pairs) {
      receivers.push_back(eddy::create_task(receive(&pair.first)));
    }
    co_await eddy::sleep(5ms);
    for (int i = 199; i >= 0; --i) {  // in reverse, to catch any mix-up of operations
      std::string message = std::to_string(i);
      REQUIRE(::send(pairs[static_cast<std::size_t>(i)].second.fd(), message.data(), message.size(),
                     MSG_NOSIGNAL) == static_cast<ssize_t>(message.size()));
    }
    int matching = 0;
    for (int i = 0; i < 200; ++i) {
      std::string got = co_await receivers[static_cast<std::size_t>(i)];
      matching += got == std::to_string(i) ? 1 : 0;
    }
    co_return matching;
  };
  CHECK(eddy::run(main()) == 200);
}

TEST_CASE("cancelling a task blocked in sock_accept leaves the next connection for the next accept",
          "[sock][cancel]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    eddy::socket listener = listen_on_loopback();
    eddy::task<accepted> blocked = eddy::create_task(accept_one(&listener));
    co_await eddy::sleep(10ms);
    CHECK_FALSE(blocked.done());
    blocked.cancel();
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(blocked);
    CHECK(error);
    eddy::socket client = eddy::socket::tcp();
    co_await loop.sock_connect(client, listener.local_address());
    accepted server = co_await loop.sock_accept(listener);
    CHECK(server.second == client.local_address());
  };
  eddy::run(main());
}

TEST_CASE("cancelling a task blocked in sock_connect throws cancelled_error", "[sock][cancel]") {
  // A listener whose accept queue is full drops new SYNs, so a further connect stays pending
  // (the client keeps retransmitting) until it is cancelled. No external address is needed.
  auto connect_to = [](eddy::address target, const eddy::socket* sock) -> eddy::coro<void> {
    co_await eddy::get_running_loop().sock_connect(*sock, target);
  };
  auto main = [connect_to]() -> eddy::coro<std::string> {
    eddy::socket listener = listen_on_loopback(0);
    eddy::address target = listener.local_address();
    std::vector<eddy::socket> clients;
    for (int attempt = 0; attempt < 8; ++attempt) {
      clients.push_back(eddy::socket::tcp());
      eddy::task<void> connecting = eddy::create_task(connect_to(target, &clients.back()));
      co_await eddy::sleep(50ms);
      if (!connecting.done()) {
        auto cancelled_at = eddy::clock::now();
        connecting.cancel();
        std::optional<eddy::cancelled_error> error =
            co_await caught<eddy::cancelled_error>(connecting);
        CHECK(eddy::clock::now() - cancelled_at < 5s);
        co_return error ? "cancelled" : "completed after the cancel";
      }
      co_await connecting;  // queued by the listener: fill the queue further
    }
    co_return "the accept queue never filled up";
  };
  std::string outcome = eddy::run(main());
  if (outcome == "the accept queue never filled up") {
    WARN("could not make a connect block on this kernel; nothing was cancelled");
  } else {
    CHECK(outcome == "cancelled");
  }
}

TEST_CASE("a receive cancelled while blocked never writes into the buffer or consumes data (ASan)",
          "[sock][cancel][asan]") {
  // The task owns a heap buffer, is cancelled in sock_recv_into, catches the cancellation, frees
  // the buffer and finishes. Then the peer sends: a plain recv() must get every byte (a stale
  // kernel operation would have taken them), and ASan would catch a write into the freed buffer.
  auto receive_into_owned_buffer = [](const eddy::socket* sock,
                                      bool* was_cancelled) -> eddy::coro<void> {
    auto buffer = std::make_unique<std::byte[]>(4096);
    try {
      std::size_t count = co_await eddy::get_running_loop().sock_recv_into(
          *sock, std::span<std::byte>(buffer.get(), 4096));
      static_cast<void>(count);
    } catch (const eddy::cancelled_error&) {
      *was_cancelled = true;
    }
    buffer.reset();
  };
  auto main = [receive_into_owned_buffer](bool use_tcp) -> eddy::coro<int> {
    eddy::socket ours;
    eddy::socket peer;
    if (use_tcp) {
      connection c = co_await connect_over_loopback();
      ours = std::move(c.server);
      peer = std::move(c.client);
    } else {
      auto pair = eddy::socket::pair();
      ours = std::move(pair.first);
      peer = std::move(pair.second);
    }
    bool was_cancelled = false;
    eddy::task<void> receiver = eddy::create_task(receive_into_owned_buffer(&ours, &was_cancelled));
    co_await eddy::sleep(10ms);
    receiver.cancel();
    co_await receiver;
    CHECK(was_cancelled);
    CHECK_FALSE(receiver.cancelled());  // it swallowed the cancellation and finished
    co_await eddy::sleep(10ms);         // give a stale operation every chance to misbehave
    std::string hundred(100, 'x');
    CHECK(::send(peer.fd(), hundred.data(), hundred.size(), MSG_NOSIGNAL) == 100);
    co_await eddy::sleep(10ms);
    char landing[200];
    if (!wait_readable(ours.fd())) {
      co_return 0;
    }
    co_return static_cast<int>(::recv(ours.fd(), landing, sizeof landing, 0));
  };
  SECTION("socketpair") { CHECK(eddy::run(main(false)) == 100); }
  SECTION("TCP") { CHECK(eddy::run(main(true)) == 100); }
}

TEST_CASE("run() cancels a task blocked in sock_recv when main returns", "[sock][cancel]") {
  auto receive = [](const eddy::socket* sock, bool* cancelled) -> eddy::coro<void> {
    try {
      static_cast<void>(co_await eddy::get_running_loop().sock_recv(*sock, 10));
    } catch (const eddy::cancelled_error&) {
      *cancelled = true;
      throw;
    }
  };
  auto pair = eddy::socket::pair();
  bool cancelled = false;
  auto main = [receive](const eddy::socket* sock, bool* flag) -> eddy::coro<void> {
    static_cast<void>(eddy::create_task(receive(sock, flag)));
    co_await eddy::sleep(5ms);
  };
  eddy::run(main(&pair.first, &cancelled));
  CHECK(cancelled);
  // And the receive consumed nothing.
  CHECK(::send(pair.second.fd(), "z", 1, MSG_NOSIGNAL) == 1);
  char byte = 0;
  REQUIRE(wait_readable(pair.first.fd()));
  CHECK(::recv(pair.first.fd(), &byte, 1, 0) == 1);
  CHECK(byte == 'z');
}

TEST_CASE(
    "closing a loop with a task blocked in sock_recv takes the operation back from the kernel",
    "[sock][cancel][close]") {
  auto receive = [](const eddy::socket* sock) -> eddy::coro<void> {
    auto buffer = std::make_unique<char[]>(64);
    static_cast<void>(
        co_await eddy::get_running_loop().sock_recv_into(*sock, std::span<char>(buffer.get(), 64)));
  };
  auto pair = eddy::socket::pair();
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    static_cast<void>(loop.create_task(receive(&pair.first), "blocked reader"));
    auto pause = []() -> eddy::coro<void> { co_await eddy::sleep(5ms); };
    loop.run_until_complete(pause());
    loop.close();
  }
  CHECK(errors.count("Task was destroyed but it is pending!") == 1);
  CHECK(errors.entries.size() == 1);
  CHECK(::send(pair.second.fd(), "after", 5, MSG_NOSIGNAL) == 5);
  char landing[16];
  REQUIRE(wait_readable(pair.first.fd()));
  CHECK(::recv(pair.first.fd(), landing, sizeof landing, 0) == 5);
}

// --- add_reader / add_writer ----------------------------------------------------------------

TEST_CASE("add_reader fires while data stays unread and stops after remove_reader",
          "[sock][watch]") {
  eddy::event_loop loop;
  auto [a, b] = eddy::socket::pair();
  REQUIRE(::send(b.fd(), "x", 1, MSG_NOSIGNAL) == 1);
  int calls = 0;
  bool first_remove = false;
  bool second_remove = true;
  loop.add_reader(a.fd(), [&] {
    ++calls;  // level-triggered: the byte stays unread, so this repeats
    if (calls == 3) {
      first_remove = loop.remove_reader(a.fd());
      second_remove = loop.remove_reader(a.fd());
      loop.call_later(30ms, [&loop] { loop.stop(); });
    }
  });
  loop.run_forever();
  CHECK(calls == 3);
  CHECK(first_remove);
  CHECK_FALSE(second_remove);
}

TEST_CASE("add_reader fires when data arrives later", "[sock][watch]") {
  eddy::event_loop loop;
  auto [a, b] = eddy::socket::pair();
  std::string received;
  loop.add_reader(a.fd(), [&] {
    char buffer[16];
    ssize_t count = ::recv(a.fd(), buffer, sizeof buffer, 0);
    if (count > 0) {
      received.append(buffer, static_cast<std::size_t>(count));
    }
    loop.remove_reader(a.fd());
    loop.stop();
  });
  loop.call_later(10ms, [&b] { static_cast<void>(::send(b.fd(), "late", 4, MSG_NOSIGNAL)); });
  loop.run_forever();
  CHECK(received == "late");
}

TEST_CASE("add_reader replaces an earlier reader of the same descriptor", "[sock][watch]") {
  eddy::event_loop loop;
  auto [a, b] = eddy::socket::pair();
  REQUIRE(::send(b.fd(), "x", 1, MSG_NOSIGNAL) == 1);
  int first_calls = 0;
  int second_calls = 0;
  loop.add_reader(a.fd(), [&] { ++first_calls; });
  loop.add_reader(a.fd(), [&] {
    ++second_calls;
    loop.remove_reader(a.fd());
    loop.stop();
  });
  loop.run_forever();
  CHECK(first_calls == 0);
  CHECK(second_calls == 1);
}

TEST_CASE("add_writer fires when the descriptor is writable", "[sock][watch]") {
  eddy::event_loop loop;
  auto [a, b] = eddy::socket::pair();
  int calls = 0;
  loop.add_writer(a.fd(), [&] {
    ++calls;
    CHECK(loop.remove_writer(a.fd()));
    loop.stop();
  });
  loop.run_forever();
  CHECK(calls == 1);
  CHECK_FALSE(loop.remove_writer(a.fd()));
}

TEST_CASE("a reader and a writer on the same descriptor both fire", "[sock][watch]") {
  eddy::event_loop loop;
  auto [a, b] = eddy::socket::pair();
  REQUIRE(::send(b.fd(), "x", 1, MSG_NOSIGNAL) == 1);
  int reads = 0;
  int writes = 0;
  loop.add_reader(a.fd(), [&] {
    ++reads;
    loop.remove_reader(a.fd());
  });
  loop.add_writer(a.fd(), [&] {
    ++writes;
    loop.remove_writer(a.fd());
  });
  loop.call_later(30ms, [&loop] { loop.stop(); });
  loop.run_forever();
  CHECK(reads == 1);
  CHECK(writes == 1);
}

TEST_CASE("removing the reader keeps the writer of the same descriptor firing", "[sock][watch]") {
  eddy::event_loop loop;
  auto [a, b] = eddy::socket::pair();
  int writes = 0;
  loop.add_reader(a.fd(), [] {});
  loop.add_writer(a.fd(), [&] {
    if (++writes == 3) {
      loop.remove_writer(a.fd());
      loop.stop();
    }
  });
  CHECK(loop.remove_reader(a.fd()));
  loop.run_forever();
  CHECK(writes == 3);
}

TEST_CASE("add_reader and add_writer reject a negative descriptor with std::invalid_argument",
          "[sock][watch]") {
  eddy::event_loop loop;
  CHECK_THROWS_AS(loop.add_reader(-1, [] {}), std::invalid_argument);
  CHECK_THROWS_AS(loop.add_writer(-1, [] {}), std::invalid_argument);
  CHECK_FALSE(loop.remove_reader(-1));
  CHECK_FALSE(loop.remove_writer(12345));
}

TEST_CASE("a reader that throws goes to the exception handler and keeps watching",
          "[sock][watch]") {
  error_log errors;
  eddy::event_loop loop;
  errors.attach(loop);
  auto [a, b] = eddy::socket::pair();
  REQUIRE(::send(b.fd(), "x", 1, MSG_NOSIGNAL) == 1);
  int calls = 0;
  loop.add_reader(a.fd(), [&] {
    if (++calls == 2) {
      loop.remove_reader(a.fd());
      loop.stop();
      return;
    }
    throw std::runtime_error("reader failed");
  });
  loop.run_forever();
  CHECK(calls == 2);
  REQUIRE(errors.entries.size() == 1);
  CHECK(eddy_test::holds<std::runtime_error>(errors.entries[0].exception));
}

TEST_CASE("a loop closed with readers and writers still registered stops watching them",
          "[sock][watch][close]") {
  auto [a, b] = eddy::socket::pair();
  int calls = 0;
  {
    eddy::event_loop loop;
    loop.add_reader(a.fd(), [&calls] { ++calls; });
    loop.add_writer(b.fd(), [&calls] { ++calls; });
    loop.close();
  }
  CHECK(calls == 0);
}

// --- descriptors ----------------------------------------------------------------------------

TEST_CASE("opening, accepting and closing sockets under run() leaves no descriptor open",
          "[sock][leak]") {
  int before = eddy_test::open_descriptor_count();
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    for (int round = 0; round < 5; ++round) {
      connection c = co_await connect_over_loopback();
      co_await loop.sock_sendall(c.client, "x");
      std::string data = co_await recv_exactly(&c.server, 1);
      CHECK(data == "x");
      auto pair = eddy::socket::pair();
      eddy::task<std::string> blocked = eddy::create_task(recv_until_eof(&pair.first));
      co_await eddy::sleep(1ms);
      blocked.cancel();
      std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(blocked);
      CHECK(error);
    }
    eddy::address refused = eddy::address::parse("127.0.0.1", unused_loopback_port());
    eddy::socket client = eddy::socket::tcp();
    try {
      co_await loop.sock_connect(client, refused);
    } catch (const std::system_error&) {
    }
  };
  eddy::run(main());
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("creating and closing event loops leaves no descriptor open", "[sock][leak]") {
  int before = eddy_test::open_descriptor_count();
  for (int i = 0; i < 20; ++i) {
    eddy::event_loop loop;
    loop.call_soon_threadsafe([&loop] { loop.stop(); });
    loop.run_forever();
  }
  CHECK(eddy_test::open_descriptor_count() == before);
}
