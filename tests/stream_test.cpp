#include "eddy/net/stream.hpp"
// stream_reader / stream_writer semantics, ported in spirit from CPython's test_streams.py:
// read, readline, readuntil, readexactly, at_eof, limits, pipes, Unix sockets, and copyable
// handles. Every stream here sits on a real socketpair, TCP connection or pipe.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/generator.hpp"
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

/// A TCP connection over loopback: {client streams, server streams}.
eddy::coro<std::pair<streams, streams>> tcp_pair() {
  eddy::event_loop& loop = eddy::get_running_loop();
  eddy::socket listener = eddy::socket::listen_tcp(eddy::address::parse("127.0.0.1", 0));
  eddy::socket client = eddy::socket::tcp();
  co_await loop.sock_connect(client, listener.local_address());
  auto accepted = co_await loop.sock_accept(listener);
  co_return std::pair{eddy::open_streams(std::move(client)),
                      eddy::open_streams(std::move(accepted.first))};
}

/// The exception set_exception() is given in these tests (asyncio's tests use ValueError).
std::exception_ptr value_error() {
  return std::make_exception_ptr(std::invalid_argument("value error"));
}

/// Every line lines() yields, until it ends.
eddy::coro<std::vector<std::string>> all_lines(eddy::stream_reader reader) {
  eddy::async_generator<std::string> lines = reader.lines();
  std::vector<std::string> seen;
  while (std::optional<std::string> line = co_await lines.next()) {
    seen.push_back(std::move(*line));
  }
  co_return seen;
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
    CHECK_THROWS_AS(eddy::stream_reader().read(), eddy::invalid_state_error);
    CHECK_THROWS_AS(eddy::stream_writer().write("x"), eddy::invalid_state_error);
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

TEST_CASE("a reader that does not read stops taking data; the rest waits in the socket",
          "[stream]") {
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

// --- exception() / set_exception() (test_streams.py: test_exception*) -----------------------

TEST_CASE("test_exception: exception() is null until set_exception(), then the one set",
          "[stream][exception]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    CHECK_FALSE(server.first.exception());
    std::exception_ptr error = value_error();
    server.first.set_exception(error);
    CHECK(server.first.exception() == error);
    std::exception_ptr replaced = value_error();
    server.first.set_exception(replaced);
    CHECK(server.first.exception() == replaced);
    CHECK_THROWS_AS(server.first.set_exception(nullptr), std::invalid_argument);
    CHECK_THROWS_AS(eddy::stream_reader().exception(), eddy::invalid_state_error);
    CHECK_THROWS_AS(eddy::stream_reader().set_exception(error), eddy::invalid_state_error);
    co_return;
  };
  eddy::run(main());
}

TEST_CASE("test_exception_waiter: set_exception() wakes the waiting readline, which throws it",
          "[stream][exception]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    eddy::task<std::string> reading = eddy::create_task(server.first.readline());
    co_await eddy::sleep(5ms);
    REQUIRE_FALSE(reading.done());
    server.first.set_exception(value_error());
    std::optional<std::invalid_argument> error = co_await caught<std::invalid_argument>(reading);
    REQUIRE(error);
    CHECK(std::string(error->what()) == "value error");
    // The connection itself stays open: the other direction still works.
    server.second.write("still open\n");
    std::string line = co_await client.first.readline();
    CHECK(line == "still open\n");
  };
  eddy::run(main());
}

TEST_CASE("set_exception() wakes a waiting readexactly and read_into too", "[stream][exception]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    eddy::task<std::string> exactly = eddy::create_task(server.first.readexactly(10));
    co_await eddy::sleep(2ms);
    client.second.write("abc");  // part of what readexactly waits for
    co_await eddy::sleep(5ms);
    REQUIRE_FALSE(exactly.done());
    server.first.set_exception(value_error());
    std::optional<std::invalid_argument> error = co_await caught<std::invalid_argument>(exactly);
    CHECK(error);

    auto [client2, server2] = stream_pair();
    std::array<char, 8> into{};
    eddy::task<std::size_t> reading = eddy::create_task(server2.first.read_into(into));
    co_await eddy::sleep(5ms);
    REQUIRE_FALSE(reading.done());
    server2.first.set_exception(value_error());
    std::optional<std::invalid_argument> error2 = co_await caught<std::invalid_argument>(reading);
    CHECK(error2);
  };
  eddy::run(main());
}

TEST_CASE("test_exception_cancel: set_exception() right after the waiting read was cancelled",
          "[stream][exception][cancel]") {
  auto main = []() -> eddy::coro<void> {
    for (int yields = 0; yields < 2; ++yields) {
      auto [client, server] = stream_pair();
      eddy::task<std::string> reading = eddy::create_task(server.first.readline());
      co_await eddy::sleep(5ms);
      reading.cancel();
      if (yields == 1) {
        co_await eddy::sleep(0s);  // as the CPython test: run_briefly between the two
      }
      // Must not disturb the cancelled waiter: it ends cancelled, not with the exception.
      server.first.set_exception(value_error());
      std::optional<eddy::cancelled_error> cancelled =
          co_await caught<eddy::cancelled_error>(reading);
      CHECK(cancelled);
      CHECK(reading.cancelled());
      // The next read throws the exception, and waits for nothing.
      std::optional<std::invalid_argument> error =
          co_await caught<std::invalid_argument>(server.first.readline());
      CHECK(error);
    }
  };
  eddy::run(main());
}

TEST_CASE(
    "test_read_exception and friends: after set_exception() every read throws it, even "
    "with data buffered",
    "[stream][exception]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_reader reader = reader_fed("line\nmore\n");
    std::string first = co_await reader.read(2);
    CHECK(first == "li");
    reader.set_exception(value_error());
    std::optional<std::invalid_argument> thrown1 =
        co_await caught<std::invalid_argument>(reader.read(2));
    CHECK(thrown1);
    std::optional<std::invalid_argument> thrown2 =
        co_await caught<std::invalid_argument>(reader.read());
    CHECK(thrown2);
    std::optional<std::invalid_argument> thrown3 =
        co_await caught<std::invalid_argument>(reader.readline());
    CHECK(thrown3);
    std::optional<std::invalid_argument> thrown4 =
        co_await caught<std::invalid_argument>(reader.readuntil("\n"));
    CHECK(thrown4);
    std::optional<std::invalid_argument> thrown5 =
        co_await caught<std::invalid_argument>(reader.readexactly(2));
    CHECK(thrown5);
    std::array<char, 4> into{};
    std::optional<std::invalid_argument> thrown6 =
        co_await caught<std::invalid_argument>(reader.read_into(into));
    CHECK(thrown6);
    CHECK(reader.buffered() == 8);  // nothing was taken
  };
  eddy::run(main());
}

TEST_CASE("drain() throws the exception set on the reader, as asyncio's drain()",
          "[stream][exception]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    co_await server.second.drain();  // nothing set: returns
    server.first.set_exception(value_error());
    std::optional<std::invalid_argument> error =
        co_await caught<std::invalid_argument>(server.second.drain());
    CHECK(error);
  };
  eddy::run(main());
}

TEST_CASE("exception() is the connection's failure; set_exception() replaces it",
          "[stream][exception][fault]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::task<std::string> reading = eddy::create_task(server.first.read(100));
    co_await eddy::sleep(5ms);
    client.second.abort();  // SO_LINGER 0: the peer gets RST
    std::optional<std::system_error> reset = co_await caught<std::system_error>(reading);
    REQUIRE(reset);
    CHECK(reset->code().value() == ECONNRESET);
    std::exception_ptr failure = server.first.exception();
    REQUIRE(failure);
    CHECK(eddy_test::holds<std::system_error>(failure));
    try {
      std::rethrow_exception(failure);
    } catch (const std::system_error& error) {
      CHECK(error.code().value() == ECONNRESET);
    }
    server.first.set_exception(value_error());
    CHECK(eddy_test::holds<std::invalid_argument>(server.first.exception()));
    std::optional<std::invalid_argument> thrown7 =
        co_await caught<std::invalid_argument>(server.first.read(1));
    CHECK(thrown7);
  };
  eddy::run(main());
}

// --- lines(): async for line in reader --------------------------------------------------------

TEST_CASE(
    "async for line in reader: lines() yields each line with its newline, then the last "
    "partial line",
    "[stream][lines]") {
  auto main = []() -> eddy::coro<void> {
    std::vector<std::string> partial_end = co_await all_lines(reader_fed("line1\nline2\nlast"));
    CHECK(partial_end == std::vector<std::string>{"line1\n", "line2\n", "last"});
    std::vector<std::string> newline_end = co_await all_lines(reader_fed("a\n\nb\n"));
    CHECK(newline_end == std::vector<std::string>{"a\n", "\n", "b\n"});
    std::vector<std::string> nothing = co_await all_lines(reader_fed(""));
    CHECK(nothing.empty());
    std::vector<std::string> collected = co_await eddy::collect(reader_fed("x\ny").lines());
    CHECK(collected == std::vector<std::string>{"x\n", "y"});
    CHECK_THROWS_AS(eddy::stream_reader().lines(), eddy::invalid_state_error);
  };
  eddy::run(main());
}

TEST_CASE("lines() waits for each line as it arrives and ends at end of file", "[stream][lines]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = co_await tcp_pair();
    eddy::task<std::vector<std::string>> reading = eddy::create_task(all_lines(server.first));
    client.second.write("one\ntw");
    co_await eddy::sleep(5ms);
    client.second.write("o\nthree");
    co_await eddy::sleep(5ms);
    CHECK_FALSE(reading.done());
    client.second.close();
    std::vector<std::string> seen = co_await reading;
    CHECK(seen == std::vector<std::string>{"one\n", "two\n", "three"});
  };
  eddy::run(main());
}

TEST_CASE("lines(): a line over the limit comes out of next(); lines() again goes on",
          "[stream][lines][limit]") {
  auto main = []() -> eddy::coro<void> {
    eddy::stream_reader reader = reader_fed("ok\n12345678\nafter\n", 7);
    eddy::async_generator<std::string> lines = reader.lines();
    std::optional<std::string> first = co_await lines.next();
    CHECK(first == "ok\n");
    std::optional<eddy::limit_overrun_error> overrun =
        co_await caught<eddy::limit_overrun_error>(lines.next());
    CHECK(overrun);
    CHECK(lines.done());
    std::vector<std::string> rest = co_await all_lines(reader);
    CHECK(rest == std::vector<std::string>{"after\n"});
  };
  eddy::run(main());
}

TEST_CASE("lines(): set_exception() comes out of the waiting next()",
          "[stream][lines][exception]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    eddy::task<std::vector<std::string>> reading = eddy::create_task(all_lines(server.first));
    client.second.write("first\n");
    co_await eddy::sleep(5ms);
    REQUIRE_FALSE(reading.done());
    server.first.set_exception(value_error());
    std::optional<std::invalid_argument> error = co_await caught<std::invalid_argument>(reading);
    CHECK(error);
  };
  eddy::run(main());
}

TEST_CASE("lines(): cancelling the consuming task loses nothing", "[stream][lines][cancel]") {
  auto main = []() -> eddy::coro<void> {
    auto [client, server] = stream_pair();
    eddy::task<std::vector<std::string>> reading = eddy::create_task(all_lines(server.first));
    client.second.write("par");
    co_await eddy::sleep(5ms);
    reading.cancel();
    std::optional<eddy::cancelled_error> cancelled =
        co_await caught<eddy::cancelled_error>(reading);
    CHECK(cancelled);
    client.second.write("tial\n");
    std::string line = co_await server.first.readline();
    CHECK(line == "partial\n");
  };
  eddy::run(main());
}
