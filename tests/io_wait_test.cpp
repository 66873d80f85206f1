// The I/O wait of DESIGN.md §6 on its own: kernel_op (an operation the kernel holds) and
// io_wait (a task waiting for one), driven with real pipes on the backend EDDY_BACKEND names.
// Every socket, file, stream and accept awaiter is built on these two.
#include "eddy/detail/io_wait.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using eddy::detail::io_opcode;
using eddy::detail::io_wait;
using eddy::detail::kernel_op;

/// A pipe, closed on scope exit; read end first.
struct pipe_ends {
  int read_end = -1;
  int write_end = -1;
  pipe_ends() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  pipe_ends(const pipe_ends&) = delete;
  pipe_ends& operator=(const pipe_ends&) = delete;
  ~pipe_ends() {
    ::close(read_end);
    ::close(write_end);
  }
  void put(const char* bytes) const {
    REQUIRE(::write(write_end, bytes, std::char_traits<char>::length(bytes)) > 0);
  }
};

/// A poll for readability that counts its completions.
struct counted_poll : kernel_op {
  int completions = 0;
  explicit counted_poll(int fd_to_watch) {
    opcode = io_opcode::poll;
    fd = fd_to_watch;
    flags = POLLIN;
    on_completion<&count>();
  }
  static void count(kernel_op& op) noexcept { ++static_cast<counted_poll&>(op).completions; }
};

/// Lets the loop run until `done` holds, at most `limit` iterations of 1 ms.
template <class Predicate>
eddy::coro<bool> wait_until(Predicate done, int limit = 2000) {
  for (int i = 0; i < limit && !done(); ++i) {
    co_await eddy::sleep(std::chrono::milliseconds(1));
  }
  co_return done();
}

/// One read from a pipe, awaited the way every I/O awaiter of the library is: a kernel_op in
/// the frame, an io_wait for the task.
class pipe_read_awaiter final : kernel_op, io_wait {
 public:
  pipe_read_awaiter(int fd_to_read, std::string& into, int& started_count)
      : io_wait("pipe_read"), into_(into), started_count_(started_count) {
    into_.assign(16, '\0');
    opcode = io_opcode::read;
    fd = fd_to_read;
    buffer = into_.data();
    length = into_.size();
    on_completion<&completed>();
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> awaiting) {
    if (!begin(awaiting)) {
      return false;
    }
    ++started_count_;
    return wait_for(*this);
  }
  std::size_t await_resume() {
    // The kernel has let go of the buffer by the time the task runs again, whatever happened.
    REQUIRE_FALSE(in_flight());
    const auto count = static_cast<std::size_t>(settle_or_throw(result));
    into_.resize(count);
    return count;
  }

 private:
  static void completed(kernel_op& op) noexcept { static_cast<pipe_read_awaiter&>(op).resume(); }

  std::string& into_;
  int& started_count_;
};

/// A task that reads once from `fd` through a pipe_read_awaiter.
eddy::task<std::size_t> start_reader(int fd, std::string& data, int& started) {
  return eddy::create_task([fd, &data, &started]() -> eddy::coro<std::size_t> {
    co_return co_await pipe_read_awaiter(fd, data, started);
  });
}

}  // namespace

TEST_CASE("a kernel_op is in flight from its start until its completion", "[io_wait]") {
  eddy::run([]() -> eddy::coro<void> {
    pipe_ends pipe;
    counted_poll poll(pipe.read_end);
    REQUIRE_FALSE(poll.start(eddy::detail::core_of(eddy::get_running_loop())));
    CHECK(poll.in_flight());
    co_await eddy_test::run_briefly();
    CHECK(poll.completions == 0);  // nothing to read yet

    pipe.put("x");
    CHECK(co_await wait_until([&] { return poll.completions > 0; }));
    CHECK(poll.completions == 1);
    CHECK_FALSE(poll.in_flight());
    CHECK((poll.result & POLLIN) != 0);
  }());
}

TEST_CASE("a cancelled kernel_op completes once, with ECANCELED, however often it is cancelled",
          "[io_wait]") {
  eddy::run([]() -> eddy::coro<void> {
    pipe_ends pipe;
    counted_poll poll(pipe.read_end);
    REQUIRE_FALSE(poll.start(eddy::detail::core_of(eddy::get_running_loop())));
    poll.cancel();
    poll.cancel();            // a second request sends nothing more
    CHECK(poll.in_flight());  // until the completion says so
    CHECK(co_await wait_until([&] { return poll.completions > 0; }));
    co_await eddy_test::run_briefly();
    CHECK(poll.completions == 1);
    CHECK(poll.result == -ECANCELED);
    CHECK_FALSE(poll.in_flight());

    poll.cancel();  // not in flight: nothing happens
    co_await eddy_test::run_briefly();
    CHECK(poll.completions == 1);
  }());
}

TEST_CASE("an io_wait delivers the operation's result", "[io_wait]") {
  eddy::run([]() -> eddy::coro<void> {
    pipe_ends pipe;
    std::string data;
    int started = 0;
    auto reader = start_reader(pipe.read_end, data, started);
    co_await eddy_test::run_briefly();
    pipe.put("hello");
    CHECK(co_await reader == 5);
    CHECK(data == "hello");
    CHECK(started == 1);
  }());
}

TEST_CASE("cancelling an io_wait stops the operation and resumes the task after its completion",
          "[io_wait]") {
  eddy::run([]() -> eddy::coro<void> {
    pipe_ends pipe;
    std::string data;
    int started = 0;
    auto reader = start_reader(pipe.read_end, data, started);
    co_await eddy_test::run_briefly();
    REQUIRE(started == 1);
    reader.cancel("enough");
    CHECK_THROWS_AS(co_await reader, eddy::cancelled_error);

    // Nothing was read: the bytes written now are still in the pipe.
    pipe.put("kept");
    char buffer[8] = {};
    CHECK(::read(pipe.read_end, buffer, sizeof buffer) == 4);
  }());
}

TEST_CASE("an io_wait whose task is already cancelled starts nothing", "[io_wait]") {
  eddy::run([]() -> eddy::coro<void> {
    pipe_ends pipe;
    std::string data;
    int started = 0;
    auto reader = eddy::create_task([&]() -> eddy::coro<std::size_t> {
      eddy::current_task().cancel();  // pending: delivered at the next await
      co_return co_await pipe_read_awaiter(pipe.read_end, data, started);
    });
    CHECK_THROWS_AS(co_await reader, eddy::cancelled_error);
    CHECK(started == 0);
  }());
}
