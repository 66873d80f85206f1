#include "eddy/detail/resource_warning.hpp"
// asyncio's ResourceWarning in debug mode ("unclosed transport <...>"), eddy's way: a stream,
// server, datagram socket, file or process pipe destroyed while it still holds its descriptor
// is reported through its loop's exception handler, once, and then closed as always. Closed
// first, or outside debug mode, nothing is reported; a loop that is gone hears nothing.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/file.hpp"
#include "eddy/loop.hpp"
#include "eddy/net/datagram.hpp"
#include "eddy/net/server.hpp"
#include "eddy/net/stream.hpp"
#include "eddy/process.hpp"
#include "eddy/run.hpp"
#include "support.hpp"

namespace {

using eddy_test::error_log;
using eddy_test::temp_dir;

/// The reports of unclosed resources among what reached the handler (debug mode also reports
/// slow callbacks, which these tests do not count).
std::vector<std::string> resource_reports(const error_log& log) {
  std::vector<std::string> reports;
  for (const eddy::exception_context& entry : log.entries) {
    const std::string_view message = entry.message;
    if (message.starts_with("unclosed ") || message.starts_with("process <")) {
      reports.push_back(entry.message);
    }
  }
  return reports;
}

bool contains(std::string_view text, std::string_view fragment) {
  return text.find(fragment) != std::string_view::npos;
}

/// Loop options with debug mode on or off (explicitly, whatever EDDY_DEBUG says).
eddy::loop_options debug_mode(bool on) {
  eddy::loop_options options;
  options.debug = on;
  return options;
}

std::uint16_t port_of(const eddy::server& server) { return server.sockets().front().port(); }

// --- streams ---------------------------------------------------------------------------------

/// Echoes lines until the client closes, then closes its side.
eddy::coro<void> echo_lines(eddy::stream_reader reader, eddy::stream_writer writer) {
  for (std::string line = co_await reader.readline(); !line.empty();
       line = co_await reader.readline()) {
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
}

/// Connects to an echo server, exchanges a line and lets the streams go, closed first or not.
/// Returns the server's port.
eddy::coro<std::uint16_t> talk_to_echo_server(bool close_first) {
  eddy::server server = co_await eddy::start_server(echo_lines, "127.0.0.1", 0);
  const std::uint16_t port = port_of(server);
  {
    auto [reader, writer] = co_await eddy::open_connection("127.0.0.1", port);
    writer.write("ping\n");
    std::string echoed = co_await reader.readline();
    CHECK(echoed == "ping\n");
    if (close_first) {
      writer.close();
      co_await writer.wait_closed();
    }
  }  // the last handles go here
  server.close();
  co_await server.wait_closed();  // the server's side closes once it sees end of file
  co_return port;
}

TEST_CASE("debug mode reports a stream_writer whose last handle goes before close()",
          "[resource_warning][stream]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  const std::uint16_t port = runner.run(talk_to_echo_server(false));
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].starts_with("unclosed stream_writer <fd="));
  CHECK(contains(reports[0], " peer=127.0.0.1:" + std::to_string(port) + ">"));
}

TEST_CASE("a stream_writer closed before its handles go is not reported",
          "[resource_warning][stream]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(talk_to_echo_server(true));
  CHECK(resource_reports(log).empty());
}

TEST_CASE("outside debug mode an unclosed stream_writer is not reported",
          "[resource_warning][stream]") {
  error_log log;
  eddy::runner runner(debug_mode(false));
  log.attach(runner.get_loop());
  runner.run(talk_to_echo_server(false));
  CHECK(log.entries.empty());
}

/// Drops copies of a connected pair's handles one by one; `reports` counts after each drop.
eddy::coro<void> drop_copies_one_by_one(const error_log* log, std::vector<std::size_t>* counts) {
  auto [mine, theirs] = eddy::socket::pair();
  auto [their_reader, their_writer] = eddy::open_streams(std::move(theirs));
  std::optional<std::pair<eddy::stream_reader, eddy::stream_writer>> streams(
      eddy::open_streams(std::move(mine)));
  std::optional<eddy::stream_writer> copy(streams->second);
  streams.reset();
  counts->push_back(resource_reports(*log).size());  // the copy still holds the connection
  copy.reset();
  counts->push_back(resource_reports(*log).size());
  their_writer.close();
  co_await their_writer.wait_closed();
}

TEST_CASE("a stream is reported once, when its last handle goes", "[resource_warning][stream]") {
  error_log log;
  std::vector<std::size_t> counts;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(drop_copies_one_by_one(&log, &counts));
  CHECK(counts == std::vector<std::size_t>{0, 1});
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  // A socketpair has no names: the descriptor alone identifies it.
  CHECK(reports[0].starts_with("unclosed stream_writer <fd="));
}

/// A client callback that never closes its writer (asyncio 3.12 warns about it too).
eddy::coro<void> answer_without_closing(eddy::stream_reader reader, eddy::stream_writer writer) {
  std::string line = co_await reader.readline();
  writer.write(line);
  co_await writer.drain();
}

eddy::coro<void> connect_to_forgetful_server() {
  eddy::server server = co_await eddy::start_server(answer_without_closing, "127.0.0.1", 0);
  auto [reader, writer] = co_await eddy::open_connection("127.0.0.1", port_of(server));
  writer.write("ping\n");
  std::string echoed = co_await reader.readline();
  CHECK(echoed == "ping\n");
  std::string rest = co_await reader.read();  // the server's side goes when its callback ends
  CHECK(rest.empty());
  writer.close();
  co_await writer.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_CASE("a client callback that returns without closing its writer is reported",
          "[resource_warning][stream][server]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(connect_to_forgetful_server());
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].starts_with("unclosed stream_writer <fd="));
  CHECK(contains(reports[0], " peer=127.0.0.1:"));
}

/// A pipe writer dropped while the read end is open (reported), then one dropped after the
/// read end was closed (not reported: asyncio's pipe transport closes by itself then).
eddy::coro<void> drop_pipe_writers(const error_log* log, std::vector<std::size_t>* counts) {
  for (int round = 0; round < 2; ++round) {
    const bool reader_gone = round == 1;
    int ends[2];
    REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0);
    {
      eddy::stream_writer writer = eddy::stream_writer::from_pipe(ends[1]);
      writer.write("data");
      if (reader_gone) {
        ::close(ends[0]);
      }
    }
    counts->push_back(resource_reports(*log).size());
    if (!reader_gone) {
      ::close(ends[0]);
    }
  }
  co_return;
}

TEST_CASE("a pipe stream_writer is reported while its reader is still there",
          "[resource_warning][stream][pipe]") {
  error_log log;
  std::vector<std::size_t> counts;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(drop_pipe_writers(&log, &counts));
  CHECK(counts == std::vector<std::size_t>{1, 1});
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].starts_with("unclosed stream_writer <fd="));
  CHECK(reports[0].ends_with(" pipe>"));
}

// --- servers ---------------------------------------------------------------------------------

/// Starts a server and leaves it serving (or closes it first): the runner's close() cancels
/// its accept loops. Returns the port.
eddy::coro<std::uint16_t> leave_server_running(bool close_first) {
  eddy::server server = co_await eddy::start_server(echo_lines, "127.0.0.1", 0);
  const std::uint16_t port = port_of(server);
  if (close_first) {
    server.close();
    co_await server.wait_closed();
  }
  co_return port;
}

TEST_CASE("debug mode reports a server the loop tears down without close()",
          "[resource_warning][server]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  const std::uint16_t port = runner.run(leave_server_running(false));
  CHECK(resource_reports(log).empty());  // still serving: no handle is needed for that
  runner.close();
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0] == "unclosed server <listening on 127.0.0.1:" + std::to_string(port) + ">");
}

TEST_CASE("a server closed first is not reported", "[resource_warning][server]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(leave_server_running(true));
  runner.close();
  CHECK(resource_reports(log).empty());
}

TEST_CASE("outside debug mode an unclosed server is not reported", "[resource_warning][server]") {
  error_log log;
  eddy::runner runner(debug_mode(false));
  log.attach(runner.get_loop());
  runner.run(leave_server_running(false));
  runner.close();
  CHECK(log.entries.empty());
}

/// A server made with start_serving = false whose only handle goes without close().
eddy::coro<std::uint16_t> drop_server_never_served() {
  eddy::server_options options;
  options.start_serving = false;
  eddy::server server = co_await eddy::start_server(echo_lines, "127.0.0.1", 0, options);
  co_return port_of(server);
}

TEST_CASE("a server that never served, dropped without close(), is reported as bound",
          "[resource_warning][server]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  const std::uint16_t port = runner.run(drop_server_never_served());
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0] == "unclosed server <bound to 127.0.0.1:" + std::to_string(port) + ">");
}

// --- datagram sockets ------------------------------------------------------------------------

/// An endpoint on 127.0.0.1 that goes unclosed, or closed first; returns its port.
eddy::coro<std::uint16_t> drop_datagram_endpoint(bool close_first) {
  eddy::datagram_endpoint_options options;
  options.local_addr = eddy::host_port("127.0.0.1", 0);
  auto creating = eddy::create_datagram_endpoint(std::move(options));
  eddy::datagram_socket endpoint = co_await std::move(creating);
  const std::uint16_t port = endpoint.local_address().port();
  if (close_first) {
    endpoint.close();
  }
  co_return port;
}

TEST_CASE("debug mode reports a datagram_socket destroyed unclosed",
          "[resource_warning][datagram]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  const std::uint16_t port = runner.run(drop_datagram_endpoint(false));
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].starts_with("unclosed datagram_socket <fd="));
  CHECK(reports[0].ends_with(" local=127.0.0.1:" + std::to_string(port) + ">"));
}

TEST_CASE("a datagram_socket closed first, or outside debug mode, is not reported",
          "[resource_warning][datagram]") {
  const bool debug = GENERATE(true, false);
  error_log log;
  eddy::runner runner(debug_mode(debug));
  log.attach(runner.get_loop());
  runner.run(drop_datagram_endpoint(debug));  // closed first in debug mode, left open outside
  CHECK(resource_reports(log).empty());
}

/// Assigning one endpoint over another that is open drops the open one.
eddy::coro<void> assign_over_open_endpoint() {
  eddy::datagram_endpoint_options options;
  options.local_addr = eddy::host_port("127.0.0.1", 0);
  auto creating_first = eddy::create_datagram_endpoint(options);
  eddy::datagram_socket endpoint = co_await std::move(creating_first);
  auto creating_second = eddy::create_datagram_endpoint(options);
  eddy::datagram_socket second = co_await std::move(creating_second);
  endpoint = std::move(second);
  endpoint.close();
}

TEST_CASE("assigning over an open datagram_socket reports it", "[resource_warning][datagram]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(assign_over_open_endpoint());
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].starts_with("unclosed datagram_socket <fd="));
}

// --- files -----------------------------------------------------------------------------------

/// Opens `path` for writing, writes, and lets the file go unclosed or closed first.
eddy::coro<void> write_and_drop(std::string path, bool close_first) {
  eddy::file written = co_await eddy::open_file(std::move(path), "w");
  co_await written.write("data");
  if (close_first) {
    co_await written.close();
  }
}

TEST_CASE("debug mode reports a file destroyed unclosed", "[resource_warning][file]") {
  temp_dir dir;
  const std::string path = dir.file("data.txt");
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(write_and_drop(path, false));
  const std::vector<std::string> reports = resource_reports(log);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].starts_with("unclosed file <fd="));
  CHECK(reports[0].ends_with(" path='" + path + "'>"));
}

TEST_CASE("a file closed first is not reported", "[resource_warning][file]") {
  temp_dir dir;
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(write_and_drop(dir.file("data.txt"), true));
  CHECK(resource_reports(log).empty());
}

TEST_CASE("outside debug mode an unclosed file is not reported", "[resource_warning][file]") {
  temp_dir dir;
  error_log log;
  eddy::runner runner(debug_mode(false));
  log.attach(runner.get_loop());
  runner.run(write_and_drop(dir.file("data.txt"), false));
  CHECK(log.entries.empty());
}

/// read_file and write_file, succeeding and failing (a directory opens for reading, then the
/// read fails with EISDIR): they close what they open themselves.
eddy::coro<void> read_and_write_whole_files(std::string directory) {
  co_await eddy::write_file(directory + "/whole.txt", "content");
  std::string content = co_await eddy::read_file(directory + "/whole.txt");
  CHECK(content == "content");
  auto reading_directory = eddy_test::caught<std::system_error>(eddy::read_file(directory));
  std::optional<std::system_error> failure = co_await std::move(reading_directory);
  CHECK(failure.has_value());
}

TEST_CASE("read_file and write_file leave no file to report, even when they fail",
          "[resource_warning][file]") {
  temp_dir dir;
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(read_and_write_whole_files(dir.path()));
  CHECK(resource_reports(log).empty());
}

eddy::coro<void> open_into(std::string path, eddy::file* kept) {
  *kept = co_await eddy::open_file(std::move(path), "w");
}

TEST_CASE("a file that outlives its loop is closed silently", "[resource_warning][file]") {
  temp_dir dir;
  eddy_test::stderr_capture captured;
  {
    eddy::file kept;
    eddy::run(open_into(dir.file("data.txt"), &kept), debug_mode(true));
    CHECK(kept.is_open());
  }  // the loop is gone: nobody to report to
  CHECK(captured.text().empty());
}

// --- processes -------------------------------------------------------------------------------

/// /bin/cat with its stdin and stdout piped.
eddy::coro<eddy::process> start_cat() {
  eddy::process_options options;
  options.stdin_from = eddy::stdio::pipe();
  options.stdout_to = eddy::stdio::pipe();
  co_return co_await eddy::create_subprocess_exec("/bin/cat", eddy::process_args(),
                                                  std::move(options));
}

/// Starts cat and drops it while it runs, its pipes open. Returns its pid.
eddy::coro<pid_t> drop_running_cat() {
  eddy::process cat = co_await start_cat();
  co_return cat.pid();
}

TEST_CASE("debug mode reports a process dropped while its pipes are open",
          "[resource_warning][process]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  const pid_t pid = runner.run(drop_running_cat());
  const std::vector<std::string> reports = resource_reports(log);
  // One report for the process: its stdin writer is not reported a second time.
  REQUIRE(reports.size() == 1);
  CHECK(reports[0] == "process <pid=" + std::to_string(pid) +
                          " running> destroyed while its pipes were open: stdin, stdout");
}

/// Closes cat's stdin, reads its stdout to end of file and waits for it.
eddy::coro<void> finish_cat_properly() {
  eddy::process cat = co_await start_cat();
  cat.stdin_stream()->write("hello");
  cat.stdin_stream()->close();
  std::string echoed = co_await cat.stdout_stream()->read();
  CHECK(echoed == "hello");
  const int code = co_await cat.wait();
  CHECK(code == 0);
}

TEST_CASE("a process whose pipes were closed and read to the end is not reported",
          "[resource_warning][process]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(finish_cat_properly());
  CHECK(resource_reports(log).empty());
}

/// /bin/true with stdout piped, waited for but never read: the child closed its end.
eddy::coro<void> wait_for_true_without_reading() {
  eddy::process_options options;
  options.stdout_to = eddy::stdio::pipe();
  eddy::process done =
      co_await eddy::create_subprocess_exec("/bin/true", eddy::process_args(), std::move(options));
  const int code = co_await done.wait();
  CHECK(code == 0);
}

TEST_CASE("a child that exited has no pipe left open, read or not", "[resource_warning][process]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  runner.run(wait_for_true_without_reading());
  CHECK(resource_reports(log).empty());
}

TEST_CASE("outside debug mode a process with open pipes is not reported",
          "[resource_warning][process]") {
  error_log log;
  eddy::runner runner(debug_mode(false));
  log.attach(runner.get_loop());
  runner.run(drop_running_cat());
  CHECK(log.entries.empty());
}

/// Copies of a process share its pipes: only the last one to go reports.
eddy::coro<std::size_t> drop_process_copies(const error_log* log) {
  eddy::process cat = co_await start_cat();
  std::optional<eddy::process> copy(cat);
  copy.reset();
  const std::size_t after_copy = resource_reports(*log).size();
  co_return after_copy;
}

TEST_CASE("a process is reported when its last handle goes", "[resource_warning][process]") {
  error_log log;
  eddy::runner runner(debug_mode(true));
  log.attach(runner.get_loop());
  CHECK(runner.run(drop_process_copies(&log)) == 0);
  CHECK(resource_reports(log).size() == 1);
}

}  // namespace
