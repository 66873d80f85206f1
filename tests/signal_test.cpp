#include "eddy/signal.hpp"
// Unix signals on the loop (asyncio's loop.add_signal_handler / remove_signal_handler) and
// Ctrl-C in eddy::run (asyncio.Runner). Signals are real: kill(getpid()), raise() on another
// thread, and SIGINT sent to a forked child that runs eddy::run, so the test runner itself is
// never interrupted.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::error_log;

/// The handler a signal has right now (SIG_DFL, SIG_IGN or a function).
void (*current_disposition(int signo))(int) {
  struct sigaction current{};
  ::sigaction(signo, nullptr, &current);
  return current.sa_handler;
}

/// Sets a disposition for one scope, restoring the old one afterwards.
class scoped_disposition {
 public:
  scoped_disposition(int signo, void (*handler)(int)) : signo_(signo) {
    struct sigaction action{};
    action.sa_handler = handler;
    ::sigaction(signo_, &action, &previous_);
  }
  scoped_disposition(const scoped_disposition&) = delete;
  scoped_disposition& operator=(const scoped_disposition&) = delete;
  ~scoped_disposition() { ::sigaction(signo_, &previous_, nullptr); }

 private:
  int signo_;
  struct sigaction previous_{};
};

eddy::coro<void> pause(std::chrono::milliseconds delay) { co_await eddy::sleep(delay); }

eddy::coro<int> wait_for_signal(eddy::future<int> received) {
  co_return co_await eddy::wait_for(received, 5s);
}

TEST_CASE("add_signal_handler runs the callback on the loop's thread when the signal arrives") {
  eddy::event_loop loop;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id ran_on;
  int calls = 0;
  eddy::future<int> received = loop.create_future<int>();
  loop.add_signal_handler(SIGUSR1, [&] {
    ran_on = std::this_thread::get_id();
    if (++calls == 1) {
      received.set_result(SIGUSR1);
    }
  });
  ::kill(::getpid(), SIGUSR1);
  int signo = loop.run_until_complete(wait_for_signal(received));
  CHECK(signo == SIGUSR1);
  CHECK(calls == 1);
  CHECK(ran_on == loop_thread);
  CHECK(loop.remove_signal_handler(SIGUSR1));
  loop.close();
}

TEST_CASE(
    "eddy::add_signal_handler(loop, ...) and remove_signal_handler are the loop's, as functions") {
  eddy::event_loop loop;
  eddy::future<int> received = loop.create_future<int>();
  eddy::add_signal_handler(loop, SIGUSR2, [&] {
    if (!received.done()) {
      received.set_result(SIGUSR2);
    }
  });
  CHECK_THROWS_AS(eddy::add_signal_handler(loop, SIGKILL, [] {}), std::invalid_argument);
  ::kill(::getpid(), SIGUSR2);
  CHECK(loop.run_until_complete(wait_for_signal(received)) == SIGUSR2);
  CHECK(eddy::remove_signal_handler(loop, SIGUSR2));
  CHECK_FALSE(eddy::remove_signal_handler(loop, SIGUSR2));
  CHECK(current_disposition(SIGUSR2) == SIG_DFL);
  loop.close();
}

TEST_CASE("a signal that arrives while the loop is idle, blocked waiting for I/O, wakes it") {
  eddy::event_loop loop;
  eddy::future<int> received = loop.create_future<int>();
  loop.add_signal_handler(SIGUSR2, [&] { received.set_result(SIGUSR2); });
  // Nothing else is pending: the loop blocks in the backend until the signal comes.
  std::thread sender([] {
    std::this_thread::sleep_for(50ms);
    ::kill(::getpid(), SIGUSR2);
  });
  auto started = std::chrono::steady_clock::now();
  int signo = loop.run_until_complete(received);
  sender.join();
  CHECK(signo == SIGUSR2);
  CHECK(std::chrono::steady_clock::now() - started < 4s);
  loop.close();
}

TEST_CASE("a signal delivered to another thread still runs the handler on the loop's thread") {
  eddy::event_loop loop;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id ran_on;
  eddy::future<int> received = loop.create_future<int>();
  loop.add_signal_handler(SIGUSR1, [&] {
    ran_on = std::this_thread::get_id();
    received.set_result(SIGUSR1);
  });
  // raise() directs the signal at the calling thread, which has no special mask.
  std::thread other([] { ::raise(SIGUSR1); });
  other.join();
  int signo = loop.run_until_complete(wait_for_signal(received));
  CHECK(signo == SIGUSR1);
  CHECK(ran_on == loop_thread);
  loop.close();
}

TEST_CASE("a signal that arrives before the loop runs is handled once it runs") {
  eddy::event_loop loop;
  int calls = 0;
  loop.add_signal_handler(SIGUSR1, [&] { ++calls; });
  ::kill(::getpid(), SIGUSR1);
  CHECK(calls == 0);
  loop.run_until_complete(pause(20ms));
  CHECK(calls == 1);
  loop.close();
}

TEST_CASE("add_signal_handler again replaces the loop's handler for that signal") {
  eddy::event_loop loop;
  std::string ran;
  loop.add_signal_handler(SIGUSR1, [&] { ran += "first "; });
  loop.add_signal_handler(SIGUSR1, [&] { ran += "second "; });
  ::kill(::getpid(), SIGUSR1);
  loop.run_until_complete(pause(20ms));
  CHECK(ran == "second ");
  loop.close();
}

TEST_CASE("remove_signal_handler restores the previous disposition and says whether it removed") {
  scoped_disposition ignored(SIGUSR2, SIG_IGN);
  eddy::event_loop loop;
  CHECK_FALSE(loop.remove_signal_handler(SIGUSR2));
  loop.add_signal_handler(SIGUSR2, [] {});
  CHECK(current_disposition(SIGUSR2) != SIG_IGN);
  CHECK(loop.remove_signal_handler(SIGUSR2));
  CHECK(current_disposition(SIGUSR2) == SIG_IGN);
  CHECK_FALSE(loop.remove_signal_handler(SIGUSR2));
  loop.close();
}

TEST_CASE("closing the loop restores the disposition of every handled signal") {
  scoped_disposition ignored(SIGUSR1, SIG_IGN);
  {
    eddy::event_loop loop;
    loop.add_signal_handler(SIGUSR1, [] {});
    loop.add_signal_handler(SIGHUP, [] {});
    loop.close();
  }
  CHECK(current_disposition(SIGUSR1) == SIG_IGN);
  CHECK(current_disposition(SIGHUP) == SIG_DFL);
}

TEST_CASE("an exception thrown by a signal handler goes to the exception handler") {
  eddy::event_loop loop;
  error_log errors;
  errors.attach(loop);
  loop.add_signal_handler(SIGUSR1, [] { throw std::runtime_error("handler failed"); });
  ::kill(::getpid(), SIGUSR1);
  loop.run_until_complete(pause(20ms));
  REQUIRE(errors.entries.size() == 1);
  CHECK(errors.entries[0].message == "Exception in the handler of signal 10 (SIGUSR1)");
  CHECK(eddy_test::holds<std::runtime_error>(errors.entries[0].exception));
  loop.close();
}

TEST_CASE("a handler may remove itself; a removed handler never runs") {
  eddy::event_loop loop;
  int first_calls = 0;
  int second_calls = 0;
  loop.add_signal_handler(SIGUSR1, [&] {
    ++first_calls;
    loop.remove_signal_handler(SIGUSR1);
    loop.remove_signal_handler(SIGUSR2);
  });
  loop.add_signal_handler(SIGUSR2, [&] { ++second_calls; });
  {
    scoped_disposition ignored(SIGUSR2, SIG_IGN);  // restored after remove: keep the runner alive
    ::kill(::getpid(), SIGUSR1);
    loop.run_until_complete(pause(20ms));
  }
  CHECK(first_calls == 1);
  CHECK(second_calls == 0);
  loop.close();
}

TEST_CASE(
    "add_signal_handler rejects bad signal numbers, uncatchable signals and empty callbacks") {
  eddy::event_loop loop;
  CHECK_THROWS_WITH(loop.add_signal_handler(0, [] {}),
                    "add_signal_handler: 0 is not a signal number");
  CHECK_THROWS_AS(loop.add_signal_handler(NSIG, [] {}), std::invalid_argument);
  CHECK_THROWS_AS(loop.add_signal_handler(-3, [] {}), std::invalid_argument);
  CHECK_THROWS_WITH(loop.add_signal_handler(SIGKILL, [] {}),
                    "add_signal_handler: signal 9 (SIGKILL) cannot be caught");
  CHECK_THROWS_AS(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
  CHECK_THROWS_AS(loop.add_signal_handler(SIGUSR1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(loop.remove_signal_handler(NSIG + 1), std::invalid_argument);
  loop.close();
  CHECK_THROWS_AS(loop.add_signal_handler(SIGUSR1, [] {}), std::runtime_error);
}

TEST_CASE("a signal is handled by one loop at a time") {
  eddy::event_loop first;
  eddy::event_loop second;
  first.add_signal_handler(SIGUSR1, [] {});
  CHECK_THROWS_WITH(
      second.add_signal_handler(SIGUSR1, [] {}),
      "add_signal_handler: signal 10 (SIGUSR1) is already handled by another event loop");
  first.close();
  second.add_signal_handler(SIGUSR1, [] {});
  CHECK(second.remove_signal_handler(SIGUSR1));
  second.close();
}

// --- Ctrl-C in eddy::run: a forked child runs eddy::run and gets SIGINT ----------------------

/// A child process running `body`; its stdout is a pipe the parent reads.
class child_process {
 public:
  explicit child_process(const std::function<int(int report_fd)>& body) {
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ends[0]);
      // Catch2 handles SIGINT during a test case; the child starts from the default, as a
      // program would.
      struct sigaction default_action{};
      default_action.sa_handler = SIG_DFL;
      ::sigaction(SIGINT, &default_action, nullptr);
      int status = 99;
      try {
        status = body(ends[1]);
      } catch (...) {
        status = 98;
      }
      ::_exit(status);
    }
    ::close(ends[1]);
    report_fd_ = ends[0];
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(report_fd_);
  }

  /// Reads what the child reported until `marker` appears (or 5 s pass, or it exits).
  std::string read_until(const std::string& marker) {
    auto give_up = std::chrono::steady_clock::now() + 5s;
    while (reported_.find(marker) == std::string::npos &&
           std::chrono::steady_clock::now() < give_up) {
      pollfd readable{report_fd_, POLLIN, 0};
      if (::poll(&readable, 1, 100) <= 0) {
        continue;
      }
      char chunk[256];
      ssize_t count = ::read(report_fd_, chunk, sizeof chunk);
      if (count <= 0) {
        break;
      }
      reported_.append(chunk, static_cast<std::size_t>(count));
    }
    return reported_;
  }

  /// Waits (at most 5 s) for the child to exit and returns its wait status.
  int wait_status() {
    auto give_up = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    while (std::chrono::steady_clock::now() < give_up) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(5ms);
    }
    FAIL("the child did not exit");
    return -1;
  }

  void send(int signo) const { ::kill(pid_, signo); }

 private:
  pid_t pid_ = -1;
  int report_fd_ = -1;
  std::string reported_;
};

void report(int fd, const std::string& text) {
  [[maybe_unused]] ssize_t written = ::write(fd, text.data(), text.size());
}

struct says_goodbye {
  int fd;
  ~says_goodbye() { report(fd, "destructor ran\n"); }
};

/// Waits for Ctrl-C; its catch block and destructors run, then the cancellation goes on.
eddy::coro<int> main_that_is_interrupted(int fd) {
  says_goodbye goodbye{fd};
  try {
    report(fd, "ready\n");
    co_await eddy::sleep(10s);
  } catch (const eddy::cancelled_error&) {
    report(fd, "main cancelled\n");
    throw;
  }
  co_return 0;
}

/// Swallows the cancellation Ctrl-C brings and returns 7.
eddy::coro<int> main_that_swallows_the_interrupt(int fd) {
  try {
    report(fd, "ready\n");
    co_await eddy::sleep(10s);
  } catch (const eddy::cancelled_error&) {
    co_return 7;
  }
  co_return 0;
}

/// Cleans up slowly after Ctrl-C: a second Ctrl-C kills it.
eddy::coro<int> main_with_slow_cleanup(int fd) {
  bool cancelled = false;
  try {
    report(fd, "ready\n");
    co_await eddy::sleep(10s);
  } catch (const eddy::cancelled_error&) {
    cancelled = true;
  }
  if (cancelled) {
    report(fd, "cleaning up\n");
    co_await eddy::sleep(10s);
  }
  co_return 0;
}

TEST_CASE("run: the first SIGINT cancels the main task and run throws keyboard_interrupt") {
  child_process child([](int fd) {
    try {
      eddy::run(main_that_is_interrupted(fd));
    } catch (const eddy::keyboard_interrupt&) {
      report(fd, "keyboard_interrupt\n");
      return current_disposition(SIGINT) == SIG_DFL ? 42 : 41;
    }
    return 1;
  });
  child.read_until("ready\n");
  child.send(SIGINT);
  int status = child.wait_status();
  std::string reported = child.read_until("keyboard_interrupt\n");
  CHECK(reported == "ready\nmain cancelled\ndestructor ran\nkeyboard_interrupt\n");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);  // and SIGINT had its default disposition back
}

TEST_CASE("run: a main task that swallows the SIGINT cancellation returns normally") {
  child_process child([](int fd) { return eddy::run(main_that_swallows_the_interrupt(fd)); });
  child.read_until("ready\n");
  child.send(SIGINT);
  int status = child.wait_status();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);
}

TEST_CASE("run: a second SIGINT ends the process as if eddy were not there") {
  child_process child([](int fd) { return eddy::run(main_with_slow_cleanup(fd)); });
  child.read_until("ready\n");
  child.send(SIGINT);
  CHECK(child.read_until("cleaning up\n") == "ready\ncleaning up\n");
  child.send(SIGINT);
  int status = child.wait_status();
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);
}

TEST_CASE("run leaves SIGINT alone when the program handles it itself") {
  // Catch2 handles SIGINT while a test case runs: run() must not replace that handler.
  void (*before)(int) = current_disposition(SIGINT);
  int value = eddy::run([]() -> eddy::coro<int> {
    co_await eddy::sleep(1ms);
    co_return 3;
  }());
  CHECK(value == 3);
  CHECK(current_disposition(SIGINT) == before);
}

}  // namespace
