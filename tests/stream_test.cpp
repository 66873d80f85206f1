#include "eddy/net/stream.hpp"
// stream_reader / stream_writer semantics, ported in spirit from CPython's test_streams.py:
// read, readline, readuntil, readexactly, at_eof, limits, pipes, Unix sockets, and copyable
// handles. Every stream here sits on a real socketpair, TCP connection or pipe.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;
using streams = std::pair<eddy::stream_reader, eddy::stream_writer>;

/// Two connected ends of a Unix socketpair, each wrapped in streams.
std::pair<streams, streams> stream_pair(eddy::stream_options options = {}) {
  auto [left, right] = eddy::socket::pair();
  return {eddy::open_streams(std::move(left), options),
          eddy::open_streams(std::move(right), options)};
}

/// A reader whose peer wrote `data` and then shut down its side (end of file after data).
eddy::stream_reader reader_fed(std::string data,
                               std::size_t limit = eddy::stream_reader::default_limit) {
  auto [left, right] = eddy::socket::pair();
  if (!data.empty()) {
    REQUIRE(::send(right.fd(), data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
  }
  right.shutdown(SHUT_WR);
  eddy::stream_options options;
  options.limit = limit;
  return eddy::open_streams(std::move(left), options).first;
}

}  // namespace

TEST_CASE("read(n) returns what is buffered, up to n; read() reads to end of file", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_reader reader = reader_fed("line1\nline2\nline3\n");
    std::string first = co_await reader.read(5);
    CHECK(first == "line1");
    std::string rest = co_await reader.read();
    CHECK(rest == "\nline2\nline3\n");
    CHECK(reader.at_eof());
    std::string after = co_await reader.read(10);
    CHECK(after.empty());
    std::string zero = co_await reader.read(0);
    CHECK(zero.empty());
  };
  eddy::run(main());
}

TEST_CASE("read(n) waits for data when nothing is buffered", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    eddy::task<std::string> reading = eddy::create_task(server.first.read(100));
    co_await eddy::sleep(10ms);
    CHECK_FALSE(reading.done());
    client.second.write("hello");
    std::string got = co_await reading;
    CHECK(got == "hello");
  };
  eddy::run(main());
}

TEST_CASE("readline returns one line at a time, and the rest at end of file", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_reader reader = reader_fed("line1\nline2\nlast");
    std::string one = co_await reader.readline();
    std::string two = co_await reader.readline();
    std::string last = co_await reader.readline();
    std::string none = co_await reader.readline();
    CHECK(one == "line1\n");
    CHECK(two == "line2\n");
    CHECK(last == "last");
    CHECK(none.empty());
    CHECK(reader.at_eof());
  };
  eddy::run(main());
}

TEST_CASE("readline of a line longer than the limit throws limit_overrun_error and drops it",
          "[stream][limit]") {
  auto main = []() -> eddy::coro<void> {
    // As test_readline_limit: the overlong line is discarded through its newline.
    eddy::stream_reader reader = reader_fed("12345678\n89\n", 7);
    std::optional<eddy::limit_overrun_error> error =
        co_await caught<eddy::limit_overrun_error>(reader.readline());
    CHECK(error);
    std::string next = co_await reader.readline();
    CHECK(next == "89\n");
  };
  eddy::run(main());
}

TEST_CASE("readline over the limit without a newline in the buffer drops the buffer",
          "[stream][limit]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair({.limit = 4});
    client.second.write("0123456789");
    std::optional<eddy::limit_overrun_error> error =
        co_await caught<eddy::limit_overrun_error>(server.first.readline());
    CHECK(error);
    CHECK(server.first.buffered() == 0);
  };
  eddy::run(main());
}

TEST_CASE("readuntil finds the separator; over the limit the data stays buffered",
          "[stream][limit]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_reader reader = reader_fed("lineAAA;more", 3);
    std::optional<eddy::limit_overrun_error> error =
        co_await caught<eddy::limit_overrun_error>(reader.readuntil("AAA;"));
    // "Separator is found, but chunk is longer than limit": consumed is where it starts.
    REQUIRE(error);
    CHECK(error->consumed() == 4);
    CHECK(reader.buffered() == 12);
    std::string head = co_await reader.readexactly(4);
    CHECK(head == "line");
    std::string sep = co_await reader.readuntil("AAA;");
    CHECK(sep == "AAA;");
  };
  eddy::run(main());
}

TEST_CASE("readuntil without the separator within the limit reports how far it looked",
          "[stream][limit]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair({.limit = 3});
    client.second.write("aaaaaaa");
    std::optional<eddy::limit_overrun_error> error =
        co_await caught<eddy::limit_overrun_error>(server.first.readuntil("!!"));
    REQUIRE(error);
    CHECK(error->consumed() == 6);  // offset = buflen + 1 - len(separator)
    CHECK(server.first.buffered() == 7);
  };
  eddy::run(main());
}

TEST_CASE("readuntil with several separators ends at the one that ends first", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_reader reader = reader_fed("abc\r\ndef\nghi");
    std::vector<std::string> separators{"\n", "\r\n"};
    std::string first = co_await reader.readuntil(separators);
    std::string second = co_await reader.readuntil(separators);
    CHECK(first == "abc\r\n");
    CHECK(second == "def\n");
    std::optional<eddy::incomplete_read_error> error =
        co_await caught<eddy::incomplete_read_error>(reader.readuntil(separators));
    REQUIRE(error);
    CHECK(error->partial() == "ghi");
    CHECK_FALSE(error->expected());
  };
  eddy::run(main());
}

TEST_CASE("readexactly at end of file throws incomplete_read_error with the partial data",
          "[stream][fault]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    client.second.write("12345");
    client.second.close();
    std::string two = co_await server.first.readexactly(2);
    CHECK(two == "12");
    std::optional<eddy::incomplete_read_error> error =
        co_await caught<eddy::incomplete_read_error>(server.first.readexactly(10));
    REQUIRE(error);
    CHECK(error->partial() == "345");
    CHECK(error->expected() == 10u);
    CHECK(server.first.at_eof());
  };
  eddy::run(main());
}

TEST_CASE("bad arguments throw std::invalid_argument at once", "[stream][args]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    CHECK_THROWS_AS(server.first.read(-2), std::invalid_argument);
    CHECK_THROWS_AS(server.first.readexactly(-1), std::invalid_argument);
    CHECK_THROWS_AS(server.first.readuntil(""), std::invalid_argument);
    CHECK_THROWS_AS(server.first.readuntil(std::vector<std::string>{}), std::invalid_argument);
    auto [a, b] = eddy::socket::pair();
    CHECK_THROWS_AS(eddy::open_streams(std::move(a), {.limit = 0}), std::invalid_argument);
    CHECK_THROWS_AS(eddy::stream_reader().read(), std::runtime_error);
    CHECK_THROWS_AS(eddy::stream_writer().write("x"), std::runtime_error);
    co_return;
  };
  eddy::run(main());
}

TEST_CASE("a second concurrent read throws std::runtime_error naming the function", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    eddy::task<std::string> first = eddy::create_task(server.first.readline());
    co_await eddy::sleep(5ms);
    std::optional<std::runtime_error> error =
        co_await caught<std::runtime_error>(server.first.readuntil("x"));
    REQUIRE(error);
    CHECK(std::string(error->what()) ==
          "readuntil called while another coroutine is already waiting for incoming data");
    client.second.write("ok\n");
    std::string line = co_await first;
    CHECK(line == "ok\n");
  };
  eddy::run(main());
}

TEST_CASE("read_into fills the caller's buffer", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    std::array<char, 4> small{};
    eddy::task<std::size_t> reading = eddy::create_task(server.first.read_into(small));
    co_await eddy::sleep(5ms);
    client.second.write("abcdef");
    std::size_t count = co_await reading;
    CHECK(count == 4);
    CHECK(std::string(small.data(), 4) == "abcd");
    std::string rest = co_await server.first.read(100);
    CHECK(rest == "ef");
  };
  eddy::run(main());
}

TEST_CASE("copies of a writer share the connection; the last handle closes it", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    {
      std::vector<eddy::stream_writer> writers{client.second, client.second};
      writers[0].write("a");
      writers[1].write("b");
    }
    client.second.write("c");
    client = {};  // every handle of the client is gone: it is closed once flushed
    std::string all = co_await server.first.read();
    CHECK(all == "abc");
  };
  eddy::run(main());
}

TEST_CASE("pipes: from_pipe reads and writes with end of file on close", "[stream][pipe]") {
  auto main = []() -> eddy::coro<void> {
    int ends[2];
    REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0);
    eddy::stream_reader reader = eddy::stream_reader::from_pipe(ends[0]);
    eddy::stream_writer writer = eddy::stream_writer::from_pipe(ends[1]);
    CHECK(writer.can_write_eof());
    writer.writelines({"one\n", "two\n"});
    co_await writer.drain();
    std::string line = co_await reader.readline();
    CHECK(line == "one\n");
    writer.close();
    co_await writer.wait_closed();
    std::string rest = co_await reader.read();
    CHECK(rest == "two\n");
    CHECK(reader.at_eof());
  };
  int before = eddy_test::open_descriptor_count();
  eddy::run(main());
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("pipes: a writer whose reader is gone gets EPIPE from drain, not SIGPIPE",
          "[stream][pipe][fault]") {
  auto main = []() -> eddy::coro<int> {
    int ends[2];
    REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0);
    eddy::stream_writer writer = eddy::stream_writer::from_pipe(ends[1]);
    ::close(ends[0]);
    // The failure shows at the first drain() after the write has been tried.
    for (int attempt = 0; attempt < 100; ++attempt) {
      writer.write("nobody reads this");
      try {
        co_await writer.drain();
      } catch (const std::system_error& error) {
        co_return error.code().value();
      }
      co_await eddy::sleep(1ms);
    }
    co_return 0;
  };
  CHECK(eddy::run(main()) == EPIPE);
}

TEST_CASE("a reader on a pipe sees data written before the writer closed, then end of file",
          "[stream][pipe]") {
  auto main = []() -> eddy::coro<void> {
    int ends[2];
    REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0);
    eddy::stream_reader reader = eddy::stream_reader::from_pipe(ends[0], 16);
    CHECK(reader.limit() == 16);
    eddy::task<std::string> reading = eddy::create_task(reader.readexactly(6));
    co_await eddy::sleep(5ms);
    REQUIRE(::write(ends[1], "abc", 3) == 3);
    co_await eddy::sleep(5ms);
    REQUIRE(::write(ends[1], "def", 3) == 3);
    ::close(ends[1]);
    std::string got = co_await reading;
    CHECK(got == "abcdef");
    std::string rest = co_await reader.read();
    CHECK(rest.empty());
    CHECK(reader.at_eof());
  };
  eddy::run(main());
}

TEST_CASE("a reader that does not read stops taking data; the rest waits in the socket", "[stream]") {
  // asyncio pauses reading above 2 x limit. On io_uring one multishot receive reads ahead and
  // is paused there (completions already in the kernel's queue still land, so the bound is
  // loose); on epoll the reader receives only when a read needs bytes. Either way nothing is
  // lost once reading resumes.
  auto main = []() -> eddy::coro<void> {
    eddy::stream_options options;
    options.limit = 16 * 1024;
    auto [client, server] = stream_pair(options);
    std::string sent(4 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < sent.size(); ++i) {
      sent[i] = static_cast<char>('a' + (i * 7) % 26);
    }
    client.second.write(sent);
    std::string first = co_await server.first.read(10);  // arms the receive, if multishot
    co_await eddy::sleep(30ms);                          // the peer keeps sending meanwhile
    CHECK(server.first.buffered() < 1024 * 1024);
    std::string received = first;
    while (received.size() < sent.size()) {
      std::string more = co_await server.first.read(65536);
      REQUIRE_FALSE(more.empty());
      received += more;
    }
    const bool intact = received == sent;  // (not printed: 4 MiB)
    CHECK(intact);
    co_await client.second.drain();
  };
  eddy::run(main());
}

TEST_CASE("a cancelled read loses nothing that arrives afterwards", "[stream]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    for (int round = 0; round < 20; ++round) {
      eddy::task<std::string> reading = eddy::create_task(server.first.readexactly(6));
      co_await eddy::sleep(0s);
      reading.cancel();
      auto outcome = co_await caught<eddy::cancelled_error>(reading);
      CHECK(outcome.has_value());
      client.second.write("round" + std::to_string(round % 10));
      std::string got = co_await server.first.readexactly(6);
      CHECK(got == "round" + std::to_string(round % 10));
    }
  };
  eddy::run(main());
}
