// The spellings an asyncio user writes first, written inline inside the co_await, run clean
// under ASan with every compiler, GCC 12 included (detail/gcc12.hpp, optional_arg.hpp). The
// spellings eddy refuses instead are in tests/compile_fail/.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

#include "eddy/eddy.hpp"

using namespace std::chrono_literals;

namespace {

/// Longer than any std::string keeps inline, so a double destruction frees memory twice.
const std::string long_text = "a string long enough to live on the heap, not inside the object";

/// A fresh directory with a long name, removed at the end of the scope.
struct temporary_directory {
  temporary_directory() {
    std::string pattern = "/tmp/eddy-natural-spellings-directory-with-a-long-name-XXXXXX";
    path = ::mkdtemp(pattern.data());
    REQUIRE(!path.empty());
  }
  ~temporary_directory() { ::rmdir(path.c_str()); }
  std::string path;
};

}  // namespace

// --- which temporaries GCC 12 would destroy twice --------------------------------------------

TEST_CASE("the GCC 12 check tells closures and aggregates from classes with constructors",
          "[spellings]") {
  std::string text = long_text;
  int number = 1;
  auto owning = [text] { return text.size(); };
  auto by_reference = [&text] { return text.size(); };
  auto by_value_int = [number] { return number; };
  struct aggregate {
    std::string name;
  };
  STATIC_REQUIRE(eddy::detail::built_without_constructor<decltype(owning)>);
  STATIC_REQUIRE(eddy::detail::built_without_constructor<aggregate>);
  // Nothing to destroy, or made by a constructor: never refused.
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<decltype(by_reference)>);
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<decltype(by_value_int)>);
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<std::string>);
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<eddy::host_port>);
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<decltype(eddy::sleep(1ms))>);
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<eddy::coro<void>>);
  STATIC_REQUIRE_FALSE(eddy::detail::built_without_constructor<eddy::process_args>);
  // Lvalues are copied, never refused.
  STATIC_REQUIRE_FALSE(eddy::detail::gcc12_destroys_twice<decltype(owning)&>);
  STATIC_REQUIRE(eddy::detail::gcc12_destroys_twice<decltype(owning)> ==
                 eddy::detail::gcc12_coroutine_temporaries);
}

TEST_CASE("every options struct may be written inside a co_await", "[spellings]") {
  // Trivially destructible, so a second destruction does nothing...
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::wait_options>);
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::loop_options>);
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::stream_options>);
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::connection_options>);
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::server_options>);
  STATIC_REQUIRE(std::is_trivially_destructible_v<eddy::addrinfo_options>);
  // ...or its owning fields are optional_args, which ignore it (tested below).
  STATIC_REQUIRE(
      std::is_same_v<decltype(eddy::process_options::cwd), eddy::optional_arg<std::string>>);
  STATIC_REQUIRE(std::is_same_v<decltype(eddy::datagram_endpoint_options::local_addr),
                                eddy::optional_arg<eddy::host_port>>);
}

// --- optional_arg ------------------------------------------------------------------------------

TEST_CASE("optional_arg behaves as std::optional", "[spellings]") {
  eddy::optional_arg<std::string> empty;
  CHECK_FALSE(empty.has_value());
  CHECK_FALSE(empty);
  CHECK_THROWS_AS(empty.value(), std::bad_optional_access);
  CHECK(empty.value_or("fallback") == "fallback");
  CHECK_FALSE(empty.to_optional().has_value());

  eddy::optional_arg<std::string> text = long_text;
  REQUIRE(text);
  CHECK(*text == long_text);
  CHECK(text->size() == long_text.size());
  CHECK(text.value() == long_text);

  eddy::optional_arg<std::string> copy = text;
  eddy::optional_arg<std::string> moved = std::move(copy);
  CHECK(*moved == long_text);
  copy = moved;  // assigning into a moved-from value
  CHECK(*copy == long_text);
  copy = std::nullopt;
  CHECK_FALSE(copy);
  copy = "short";
  CHECK(*copy == "short");
  copy = empty;
  CHECK_FALSE(copy);
  copy.emplace(3, 'x');
  CHECK(*copy == "xxx");
  copy.reset();
  CHECK_FALSE(copy);
  CHECK(eddy::optional_arg<std::string>(std::optional<std::string>("from std")).value() ==
        "from std");
}

TEST_CASE("a bitwise copy of an optional_arg reads its original and frees nothing", "[spellings]") {
  // What GCC 12 does to an aggregate member in a co_await: makes a bitwise copy of it at
  // another address, may pass that copy on, and destroys both. ASan reports a double free
  // (or a free of the original's inline buffer) if the copy owns anything.
  for (const std::string& text : {long_text, std::string("short")}) {
    eddy::optional_arg<std::string> real = text;
    alignas(eddy::optional_arg<std::string>) unsigned char
        bytes[sizeof(eddy::optional_arg<std::string>)];
    std::memcpy(bytes, static_cast<void*>(&real), sizeof bytes);
    auto& copy = *std::launder(reinterpret_cast<eddy::optional_arg<std::string>*>(bytes));
    CHECK(*copy == text);
    eddy::optional_arg<std::string> moved = std::move(copy);  // as a callee's parameter copy does
    CHECK(*moved == text);
    copy.~optional_arg();
    CHECK(real.has_value());  // moved from, and freed once when `real` goes
  }
}

// Awaits go into a local before CHECK: GCC 12 evaluates a CHECK's expression twice
// (docs/design-notes.md).

// --- subprocesses ------------------------------------------------------------------------------

TEST_CASE("create_subprocess_exec with braced arguments and designated options inline",
          "[spellings]") {
  eddy::run([]() -> eddy::coro<void> {
    // asyncio: await create_subprocess_exec("echo", "-n", "hello", stdout=PIPE)
    eddy::process echo = co_await eddy::create_subprocess_exec("echo", {"-n", "hello"},
                                                               {.stdout_to = eddy::stdio::pipe()});
    std::string said = co_await echo.stdout_stream()->read();
    CHECK(said == "hello");
    int echo_code = co_await echo.wait();
    CHECK(echo_code == 0);

    // One argument may be bare; a std::string argument works as a literal does.
    eddy::process one = co_await eddy::create_subprocess_exec("echo", long_text,
                                                              {.stdout_to = eddy::stdio::pipe()});
    std::string line = co_await one.stdout_stream()->readline();
    CHECK(line == long_text + "\n");
    int one_code = co_await one.wait();
    CHECK(one_code == 0);
  }());
}

TEST_CASE("process_options' cwd and env written inside the co_await", "[spellings]") {
  temporary_directory directory;
  const std::map<std::string, std::string> environment{{"GREETING", long_text}};
  eddy::run([&]() -> eddy::coro<void> {
    eddy::process pwd = co_await eddy::create_subprocess_exec(
        "/bin/pwd", {}, {.stdout_to = eddy::stdio::pipe(), .cwd = directory.path});
    std::string where = co_await pwd.stdout_stream()->readline();
    CHECK(where == directory.path + "\n");
    int pwd_code = co_await pwd.wait();
    CHECK(pwd_code == 0);

    eddy::process shell = co_await eddy::create_subprocess_shell(
        "printf %s \"$GREETING\"", {.stdout_to = eddy::stdio::pipe(), .env = environment});
    std::string greeting = co_await shell.stdout_stream()->read();
    CHECK(greeting == long_text);
    int shell_code = co_await shell.wait();
    CHECK(shell_code == 0);
  }());
}

// --- datagrams ---------------------------------------------------------------------------------

TEST_CASE("create_datagram_endpoint with its options inline", "[spellings]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::datagram_socket server =
        co_await eddy::create_datagram_endpoint({.local_addr = eddy::host_port{"127.0.0.1", 0}});
    const eddy::address at = server.local_address();
    eddy::datagram_socket client = co_await eddy::create_datagram_endpoint(
        {.remote_addr = eddy::host_port{at.host(), at.port()}});
    co_await client.sendto(long_text);
    auto received = co_await server.recvfrom();
    CHECK(received.data == long_text);
  }());
}

// --- callables ---------------------------------------------------------------------------------

TEST_CASE("to_thread with the captured values passed as arguments, or a named lambda",
          "[spellings]") {
  eddy::run([]() -> eddy::coro<void> {
    std::string path = long_text;
    std::size_t size =
        co_await eddy::to_thread([](const std::string& p) { return p.size(); }, path);
    CHECK(size == long_text.size());
    auto measure = [path] { return path.size(); };
    std::size_t measured = co_await eddy::to_thread(measure);
    CHECK(measured == long_text.size());
  }());
}

TEST_CASE("with_task_group, timeout and start_server given named capturing lambdas",
          "[spellings]") {
  eddy::run([]() -> eddy::coro<void> {
    std::string name = long_text;
    std::string seen;
    auto body = [name, &seen](eddy::task_group& group) -> eddy::coro<void> {
      group.create_task([name, &seen]() -> eddy::coro<void> {
        co_await eddy::sleep(1ms);
        seen = name;
      });
      co_return;
    };
    co_await eddy::with_task_group(body);
    CHECK(seen == long_text);

    auto bounded = [name](eddy::timeout_scope&) -> eddy::coro<std::size_t> {
      co_await eddy::sleep(1ms);
      co_return name.size();
    };
    std::size_t bounded_size = co_await eddy::timeout(10s, bounded);
    CHECK(bounded_size == long_text.size());

    auto greet = [name](eddy::stream_reader, eddy::stream_writer writer) -> eddy::coro<void> {
      writer.write(name);
      co_await writer.drain();
      writer.close();
    };
    eddy::server server = co_await eddy::start_server(greet, "127.0.0.1", 0);
    auto [reader, writer] =
        co_await eddy::open_connection("127.0.0.1", server.sockets().at(0).port());
    std::string greeting = co_await reader.read();
    CHECK(greeting == long_text);
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}
