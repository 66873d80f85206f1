#include "eddy/net/stream.hpp"
// Streams when things go wrong: resets, refused connections, peers that vanish, peers that do
// not read (backpressure), and cancellation at every await, which must be prompt and lose no
// byte. Real TCP connections on 127.0.0.1 and socketpairs.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/net/server.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;
using streams = std::pair<eddy::stream_reader, eddy::stream_writer>;

/// A TCP connection over loopback: {client streams, server streams}.
eddy::coro<std::pair<streams, streams>> tcp_pair(eddy::stream_options options = {}) {
  eddy::event_loop& loop = eddy::get_running_loop();
  eddy::socket listener = eddy::socket::listen_tcp(eddy::address::parse("127.0.0.1", 0));
  eddy::socket client = eddy::socket::tcp();
  co_await loop.sock_connect(client, listener.local_address());
  auto accepted = co_await loop.sock_accept(listener);
  co_return std::pair{eddy::open_streams(std::move(client), options),
                      eddy::open_streams(std::move(accepted.first), options)};
}

/// drain() as a coroutine, to run it as a task (drain() itself is a plain awaiter).
eddy::coro<void> drain_of(eddy::stream_writer writer) { co_await writer.drain(); }

/// An unused loopback port: bound by a listener that is closed again.
std::uint16_t unused_port() {
  eddy::socket listener = eddy::socket::listen_tcp(eddy::address::parse("127.0.0.1", 0));
  return listener.local_address().port();
}

}  // namespace

TEST_CASE("the peer closing mid-readexactly gives incomplete_read_error with what arrived",
          "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::task<std::string> reading = eddy::create_task(server.first.readexactly(100));
    client.second.write("only this");
    co_await eddy::sleep(5ms);
    client.second.close();
    std::optional<eddy::incomplete_read_error> error =
        co_await caught<eddy::incomplete_read_error>(reading);
    REQUIRE(error);
    CHECK(error->partial() == "only this");
    CHECK(error->expected() == 100u);
  };
  eddy::run(main());
}

TEST_CASE("a connection reset makes reads throw std::system_error(ECONNRESET)", "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::task<std::string> reading = eddy::create_task(server.first.read(100));
    co_await eddy::sleep(5ms);
    client.second.abort();  // SO_LINGER 0: the peer gets RST
    std::optional<std::system_error> error = co_await caught<std::system_error>(reading);
    REQUIRE(error);
    CHECK(error->code().value() == ECONNRESET);
    // The failure sticks: the next read and drain report it too.
    std::optional<std::system_error> again =
        co_await caught<std::system_error>(server.first.readline());
    REQUIRE(again);
    CHECK(again->code().value() == ECONNRESET);
    std::optional<std::system_error> drained =
        co_await caught<std::system_error>(server.second.drain());
    CHECK(drained);
    std::optional<std::system_error> closed =
        co_await caught<std::system_error>(server.second.wait_closed());
    CHECK(closed);
  };
  eddy::run(main());
}

TEST_CASE("writing after the peer vanished raises no SIGPIPE; drain reports the error",
          "[stream][fault]") {
  auto main = []() -> eddy::coro<int> {
    auto [client, server] = co_await tcp_pair();
    client = {};  // the client's handles are gone: its socket closes
    std::string chunk(64 * 1024, 'x');
    for (int attempt = 0; attempt < 200; ++attempt) {
      server.second.write(chunk);
      try {
        co_await server.second.drain();
      } catch (const std::system_error& error) {
        co_return error.code().value();
      }
      co_await eddy::sleep(1ms);
    }
    co_return 0;
  };
  int error = eddy::run(main());
  CHECK((error == EPIPE || error == ECONNRESET));
}

TEST_CASE("connecting to a port nobody listens on throws std::system_error(ECONNREFUSED)",
          "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    std::optional<std::system_error> error =
        co_await caught<std::system_error>(eddy::open_connection("127.0.0.1", unused_port()));
    REQUIRE(error);
    CHECK(error->code().value() == ECONNREFUSED);
  };
  int before = eddy_test::open_descriptor_count();
  eddy::run(main());
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("drain waits while the peer does not read and resumes when it does",
          "[stream][backpressure]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    std::string big(8 * 1024 * 1024, 'b');
    server.second.write(big);
    CHECK(server.second.write_buffer_size() > 64 * 1024);
    eddy::task<void> draining = eddy::create_task(drain_of(server.second));
    co_await eddy::sleep(30ms);
    CHECK_FALSE(draining.done());
    std::string received =
        co_await client.first.readexactly(static_cast<std::ptrdiff_t>(big.size()));
    CHECK(received == big);
    co_await draining;
    CHECK(server.second.write_buffer_size() <= 16 * 1024);
  };
  eddy::run(main());
}

TEST_CASE("a cancelled read loses nothing: the bytes stay buffered", "[stream][cancel]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::task<std::string> reading = eddy::create_task(server.first.readexactly(10));
    client.second.write("12345");
    co_await eddy::sleep(10ms);
    reading.cancel();
    std::optional<eddy::cancelled_error> cancelled =
        co_await caught<eddy::cancelled_error>(reading);
    CHECK(cancelled);
    CHECK(server.first.buffered() == 5);
    client.second.write("67890");
    std::string all = co_await server.first.readexactly(10);
    CHECK(all == "1234567890");
  };
  eddy::run(main());
}

TEST_CASE("cancelling read, readline, readuntil, read(-1) and read_into is prompt",
          "[stream][cancel]") {
  auto cancel_soon = [](eddy::task<std::string> reading) -> eddy::coro<bool> {
    co_await eddy::sleep(5ms);
    auto started = eddy::clock::now();
    reading.cancel();
    std::optional<eddy::cancelled_error> cancelled =
        co_await caught<eddy::cancelled_error>(reading);
    co_return (cancelled && eddy::clock::now() - started < 1s);
  };
  auto main = [cancel_soon]() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::stream_reader reader = server.first;
    bool read_ok = co_await cancel_soon(eddy::create_task(reader.read(10)));
    bool line_ok = co_await cancel_soon(eddy::create_task(reader.readline()));
    bool until_ok = co_await cancel_soon(eddy::create_task(reader.readuntil("END")));
    bool all_ok = co_await cancel_soon(eddy::create_task(reader.read()));
    CHECK(read_ok);
    CHECK(line_ok);
    CHECK(until_ok);
    CHECK(all_ok);
    std::array<char, 16> space{};
    eddy::task<std::size_t> into = eddy::create_task(reader.read_into(space));
    co_await eddy::sleep(5ms);
    into.cancel();
    std::optional<eddy::cancelled_error> cancelled = co_await caught<eddy::cancelled_error>(into);
    CHECK(cancelled);
    // The reader still works afterwards.
    client.second.write("still fine\n");
    std::string line = co_await reader.readline();
    CHECK(line == "still fine\n");
  };
  eddy::run(main());
}

TEST_CASE("cancelling drain leaves the data queued", "[stream][cancel]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    std::string big(8 * 1024 * 1024, 'd');
    server.second.write(big);
    eddy::task<void> draining = eddy::create_task(drain_of(server.second));
    co_await eddy::sleep(10ms);
    draining.cancel();
    std::optional<eddy::cancelled_error> cancelled =
        co_await caught<eddy::cancelled_error>(draining);
    CHECK(cancelled);
    std::string received =
        co_await client.first.readexactly(static_cast<std::ptrdiff_t>(big.size()));
    CHECK(received.size() == big.size());
  };
  eddy::run(main());
}

TEST_CASE("cancelling open_connection is prompt and leaks no descriptor", "[stream][cancel]") {
  auto main = []() -> eddy::coro<void> {
    // A listener with a full accept queue drops further SYNs, so the connect stays pending.
    eddy::socket listener = eddy::socket::listen_tcp(eddy::address::parse("127.0.0.1", 0), 0);
    std::uint16_t port = listener.local_address().port();
    std::vector<streams> queued;
    for (int attempt = 0; attempt < 8; ++attempt) {
      eddy::task<streams> connecting = eddy::create_task(eddy::open_connection("127.0.0.1", port));
      co_await eddy::sleep(30ms);
      if (!connecting.done()) {
        auto started = eddy::clock::now();
        connecting.cancel();
        std::optional<eddy::cancelled_error> cancelled =
            co_await caught<eddy::cancelled_error>(connecting);
        CHECK(cancelled);
        CHECK(eddy::clock::now() - started < 1s);
        co_return;
      }
      queued.push_back(co_await connecting);
    }
    WARN("could not make a connect block on this kernel; nothing was cancelled");
  };
  int before = eddy_test::open_descriptor_count();
  eddy::run(main());
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("a read cancelled while the kernel owns the buffer never touches freed memory",
          "[stream][cancel]") {
  // Under ASan: the streams, their buffers and the task are all gone after the cancel, and
  // fresh allocations reuse the memory; a late kernel write would corrupt them.
  auto main = []() -> eddy::coro<void> {
    eddy::socket peer;
    {
      auto [left, right] = eddy::socket::pair();
      peer = std::move(right);
      streams stream = eddy::open_streams(std::move(left));
      eddy::task<std::string> reading = eddy::create_task(stream.first.read(1 << 16));
      co_await eddy::sleep(5ms);
      reading.cancel();
      std::optional<eddy::cancelled_error> cancelled =
          co_await caught<eddy::cancelled_error>(reading);
      CHECK(cancelled);
    }
    std::vector<std::unique_ptr<char[]>> reuse;
    for (int i = 0; i < 64; ++i) {
      reuse.push_back(std::make_unique<char[]>(16 * 1024));
      std::memset(reuse.back().get(), 'r', 16 * 1024);
    }
    static_cast<void>(::send(peer.fd(), "late", 4, MSG_NOSIGNAL));
    co_await eddy::sleep(5ms);
    for (auto& block : reuse) {
      CHECK(block[0] == 'r');
    }
  };
  eddy::run(main());
}

TEST_CASE("write after close is dropped silently; write after write_eof throws",
          "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    client.second.write("before eof");
    client.second.write_eof();
    CHECK_THROWS_AS(client.second.write("more"), std::runtime_error);
    std::string got = co_await server.first.read();
    CHECK(got == "before eof");
    // The write side is shut, the read side still works.
    server.second.write("reply");
    server.second.close();
    CHECK(server.second.is_closing());
    server.second.write("dropped");  // CPython 3.12 drops it silently
    std::string reply = co_await client.first.read();
    CHECK(reply == "reply");
    co_await server.second.wait_closed();
    std::optional<std::system_error> drained =
        co_await caught<std::system_error>(server.second.drain());
    REQUIRE(drained);
    CHECK(drained->code().value() == ECONNRESET);
  };
  eddy::run(main());
}

TEST_CASE("drain right after close throws Connection lost on both backends, and the data is sent",
          "[stream][fault]") {
  // io_uring still has the write in the kernel when close() is called, epoll has usually sent
  // it already: drain() must not tell the two apart.
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    server.second.write("last words");
    server.second.close();
    std::optional<std::system_error> drained =
        co_await caught<std::system_error>(server.second.drain());
    REQUIRE(drained);
    CHECK(drained->code().value() == ECONNRESET);
    CHECK(std::string(drained->what()).find("drain: Connection lost") != std::string::npos);
    co_await server.second.wait_closed();
    std::string got = co_await client.first.read();
    CHECK(got == "last words");
  };
  eddy::run(main());
}

TEST_CASE("drain right after abort throws Connection lost", "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    server.second.write("dropped");
    server.second.abort();
    std::optional<std::system_error> drained =
        co_await caught<std::system_error>(server.second.drain());
    REQUIRE(drained);
    CHECK(drained->code().value() == ECONNRESET);
  };
  eddy::run(main());
}

TEST_CASE("a drain waiting when close is called throws Connection lost once the buffer is gone",
          "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_options options;
    options.limit = 16 * 1024;
    auto [client, server] = co_await tcp_pair(options);
    server.second.write(std::string(8 * 1024 * 1024, 'x'));  // far above the high-water mark
    eddy::task<void> draining = eddy::create_task(drain_of(server.second));
    co_await eddy::sleep(10ms);
    REQUIRE_FALSE(draining.done());
    server.second.close();
    std::size_t received = 0;
    while (true) {
      std::string more = co_await client.first.read(1 << 20);
      if (more.empty()) {
        break;
      }
      received += more.size();
    }
    CHECK(received == 8 * 1024 * 1024);
    std::optional<std::system_error> drained = co_await caught<std::system_error>(draining);
    REQUIRE(drained);
    CHECK(drained->code().value() == ECONNRESET);
  };
  eddy::run(main());
}

TEST_CASE("get_extra_info gives peername, sockname and the socket", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    auto peer = std::any_cast<eddy::address>(client.second.get_extra_info("peername"));
    auto local = std::any_cast<eddy::address>(server.second.get_extra_info("sockname"));
    CHECK(peer == local);
    CHECK(std::any_cast<int>(client.second.get_extra_info("socket")) >= 0);
    CHECK_FALSE(client.second.get_extra_info("nonsense").has_value());
    // asyncio sets TCP_NODELAY on every TCP stream.
    int no_delay = 0;
    socklen_t size = sizeof no_delay;
    int fd = std::any_cast<int>(server.second.get_extra_info("socket"));
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, &size) == 0);
    CHECK(no_delay != 0);
  };
  eddy::run(main());
}

TEST_CASE("open_unix_connection to a missing path throws std::system_error(ENOENT)",
          "[stream][unix][fault]") {
  eddy_test::temp_dir dir;
  auto main = [](std::string path) -> eddy::coro<void> {
    std::optional<std::system_error> error =
        co_await caught<std::system_error>(eddy::open_unix_connection(std::move(path)));
    REQUIRE(error);
    CHECK(error->code().value() == ENOENT);
  };
  int before = eddy_test::open_descriptor_count();
  eddy::run(main(dir.file("nobody.sock")));
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("cancelling writer.wait_closed only stops the wait", "[stream][cancel]") {
  auto wait_closed_of = [](eddy::stream_writer writer) -> eddy::coro<void> {
    co_await writer.wait_closed();
  };
  auto main = [wait_closed_of]() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::task<void> waiting = eddy::create_task(wait_closed_of(client.second));
    co_await eddy::sleep(5ms);
    waiting.cancel();
    std::optional<eddy::cancelled_error> cancelled =
        co_await caught<eddy::cancelled_error>(waiting);
    CHECK(cancelled);
    CHECK_FALSE(client.second.is_closing());
    client.second.write("still open");
    client.second.close();
    co_await client.second.wait_closed();
    std::string got = co_await server.first.read();
    CHECK(got == "still open");
  };
  eddy::run(main());
}
