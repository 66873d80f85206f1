// Debug mode's reports (asyncio's "Developing with asyncio"): slow callbacks and task steps
// with where they resumed, coroutines that were never awaited, and the live task dump that a
// signal asks for (loop_options::dump_signal, EDDY_DUMP_SIGNAL).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>

#include "dump_signal.hpp"
#include "eddy/loop.hpp"
#include "eddy/process.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "support.hpp"

extern char** environ;

using eddy_test::error_log;

namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Where blocking_step's sleep(0) is: the co_await its slow step resumes from.
int blocking_step_line = 0;

eddy::coro<void> blocking_step() {
  blocking_step_line = __LINE__ + 1;
  co_await eddy::sleep(0ms);
  std::this_thread::sleep_for(150ms);  // holds the loop: the step debug mode reports
}

eddy::coro<void> calls_blocking_step() { co_await blocking_step(); }

eddy::coro<void> blocks_at_once() {
  std::this_thread::sleep_for(150ms);
  co_return;
}

eddy::coro<int> fetch() { co_return 1; }

/// Runs `body` as a task named "worker" on a loop in debug mode and returns what reached the
/// loop's exception handler.
template <class Body>
error_log run_in_debug_mode(Body body, bool debug = true) {
  error_log errors;
  eddy::event_loop loop(eddy::loop_options{.debug = debug});
  errors.attach(loop);
  auto worker = loop.create_task(body(), {.name = "worker"});
  loop.run_until_complete(worker);
  return errors;
}

}  // namespace

// --- slow callbacks and task steps ------------------------------------------------------------

TEST_CASE("a slow task step is reported with the task's name and the co_await it resumed from",
          "[debug]") {
  const error_log errors = run_in_debug_mode(blocking_step);
  REQUIRE(errors.entries.size() == 1);
  const eddy::exception_context& report = errors.entries[0];
  INFO(report.message);
  // The step slept 150 ms; a loaded machine may make it longer, never shorter.
  CHECK_THAT(report.message,
             Catch::Matches("Executing a step of task 'worker' took [0-9]+\\.[0-9]{3} seconds .*"));
  CHECK_FALSE(contains(report.message, "took 0.0"));
  CHECK(contains(report.message, "resumed in blocking_step at "));
  CHECK(contains(report.message, "debug_mode_test.cpp:" + std::to_string(blocking_step_line)));
  CHECK(report.task_name == "worker");
  CHECK_FALSE(report.exception);
}

TEST_CASE("the step is placed in the innermost coroutine: the one that blocked", "[debug]") {
  const error_log errors = run_in_debug_mode(calls_blocking_step);
  REQUIRE(errors.entries.size() == 1);
  INFO(errors.entries[0].message);
  CHECK(contains(errors.entries[0].message, "resumed in blocking_step at "));
  CHECK(contains(errors.entries[0].message,
                 "debug_mode_test.cpp:" + std::to_string(blocking_step_line)));
}

TEST_CASE("a slow first step says which coroutine it started", "[debug]") {
  const error_log errors = run_in_debug_mode(blocks_at_once);
  REQUIRE(errors.entries.size() == 1);
  INFO(errors.entries[0].message);
  CHECK(contains(errors.entries[0].message, "(started blocks_at_once at "));
  CHECK(contains(errors.entries[0].message, "debug_mode_test.cpp:"));
}

TEST_CASE("without debug mode nothing is measured or reported", "[debug]") {
  CHECK(run_in_debug_mode(blocking_step, false).entries.empty());
}

TEST_CASE("slow_callback_duration can be changed, as asyncio's loop attribute", "[debug]") {
  error_log errors;
  eddy::event_loop loop(eddy::loop_options{.debug = true});
  errors.attach(loop);
  CHECK(loop.slow_callback_duration() == 100ms);
  loop.set_slow_callback_duration(10ms);
  CHECK(loop.slow_callback_duration() == 10ms);
  loop.call_soon([&loop] {
    std::this_thread::sleep_for(30ms);
    loop.stop();
  });
  loop.run_forever();
  REQUIRE(errors.entries.size() == 1);
  CHECK_THAT(errors.entries[0].message,
             Catch::Matches("Executing a callback took [0-9]+\\.[0-9]{3} seconds"));
  CHECK_THROWS_AS(loop.set_slow_callback_duration(-1ms), std::invalid_argument);
  CHECK(loop.slow_callback_duration() == 10ms);
}

// --- coroutines that were never awaited -------------------------------------------------------

TEST_CASE("a coro destroyed without being awaited is reported: 'coroutine ... was never awaited'",
          "[debug]") {
  const error_log errors = run_in_debug_mode([]() -> eddy::coro<void> {
    auto forgotten = fetch();  // made, never awaited: asyncio's RuntimeWarning
    co_return;
  });
  REQUIRE(errors.entries.size() == 1);
  const eddy::exception_context& report = errors.entries[0];
  INFO(report.message);
  CHECK_THAT(report.message, Catch::StartsWith("coroutine 'fetch' was never awaited (its body is "
                                               "at "));
  CHECK(contains(report.message, "debug_mode_test.cpp:"));
  CHECK(report.task_name == "worker");  // the task that dropped it
}

TEST_CASE("awaited coros, coros that became tasks and moved-from coros are not reported",
          "[debug]") {
  const error_log errors = run_in_debug_mode([]() -> eddy::coro<void> {
    // (Catch's CHECK may evaluate its expression twice under GCC: no co_await inside one.)
    int sum = co_await fetch();
    auto first = fetch();
    auto second = std::move(first);  // `first` is empty now: nothing to report for it
    sum += co_await std::move(second);
    auto task = eddy::create_task(fetch());
    sum += co_await task;
    CHECK(sum == 3);
  });
  CHECK(errors.entries.empty());
}

TEST_CASE("outside debug mode, or outside a running loop, a dropped coro is not reported",
          "[debug]") {
  CHECK(run_in_debug_mode(
            []() -> eddy::coro<void> {
              auto forgotten = fetch();
              co_return;
            },
            false)
            .entries.empty());
  error_log errors;
  eddy::event_loop loop(eddy::loop_options{.debug = true});
  errors.attach(loop);
  {
    auto forgotten = fetch();
  }  // the loop is not running: nobody to tell
  CHECK(errors.entries.empty());
}

// --- the live task dump -----------------------------------------------------------------------

TEST_CASE("parse_signal reads a signal's name, with or without SIG, or its number", "[debug]") {
  using eddy::detail::parse_signal;
  CHECK(parse_signal("SIGUSR1") == SIGUSR1);
  CHECK(parse_signal("usr2") == SIGUSR2);
  CHECK(parse_signal("SigTerm") == SIGTERM);
  CHECK(parse_signal("10") == 10);
  CHECK_FALSE(parse_signal(""));
  CHECK_FALSE(parse_signal("0"));
  CHECK_FALSE(parse_signal("SIG"));
  CHECK_FALSE(parse_signal("SIGNOTHING"));
  CHECK_FALSE(parse_signal("99999"));
  CHECK_FALSE(parse_signal("-1"));
  CHECK_FALSE(parse_signal("10x"));
}

TEST_CASE("a dump signal that cannot be installed fails the loop's construction", "[debug]") {
  CHECK_THROWS_AS(eddy::event_loop(eddy::loop_options{.dump_signal = 99999}),
                  std::invalid_argument);
  CHECK_THROWS_AS(eddy::event_loop(eddy::loop_options{.dump_signal = SIGKILL}),
                  std::invalid_argument);
  eddy::event_loop first(eddy::loop_options{.dump_signal = SIGUSR2});
  CHECK_THROWS_AS(eddy::event_loop(eddy::loop_options{.dump_signal = SIGUSR2}), std::runtime_error);
  eddy::event_loop unaffected(eddy::loop_options{.dump_signal = 0});
  CHECK_FALSE(unaffected.is_closed());
}

TEST_CASE("EDDY_DUMP_SIGNAL that names no signal, or one taken, leaves the loop without one",
          "[debug]") {
  {
    eddy_test::scoped_env dump("EDDY_DUMP_SIGNAL", "SIGNOTHING");
    eddy::event_loop loop;  // says so on stderr, and works
    CHECK(loop.run_until_complete(fetch()) == 1);
  }
  eddy_test::scoped_env dump("EDDY_DUMP_SIGNAL", "USR2");
  eddy::event_loop first;
  eddy::event_loop second;  // USR2 is the first loop's
  CHECK(second.run_until_complete(fetch()) == 1);
  CHECK(first.remove_signal_handler(SIGUSR2));  // the first loop's dump handler
  CHECK_FALSE(second.remove_signal_handler(SIGUSR2));
}

namespace {

eddy::coro<void> nap() { co_await eddy::sleep(20s); }

/// The child's environment: this process's, with EDDY_DUMP_SIGNAL=SIGUSR1.
std::map<std::string, std::string> environment_with_dump_signal() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string variable(*entry);
    const std::size_t equals = variable.find('=');
    if (equals != std::string::npos) {
      environment[variable.substr(0, equals)] = variable.substr(equals + 1);
    }
  }
  environment["EDDY_DUMP_SIGNAL"] = "SIGUSR1";
  return environment;
}

}  // namespace

// Run by the next test, in a child process: a loop with EDDY_DUMP_SIGNAL=SIGUSR1 whose main
// task awaits a sleeping task, until it is killed (or 20 s pass).
TEST_CASE("dump signal child", "[.]") {
  eddy::run([]() -> eddy::coro<void> {
    auto sleeper = eddy::create_task(nap(), {.name = "sleeper"});
    std::fputs("ready\n", stdout);
    std::fflush(stdout);
    co_await sleeper;
  }());
}

TEST_CASE("EDDY_DUMP_SIGNAL=SIGUSR1: the signal makes a running program print its task tree",
          "[debug]") {
  eddy::run([]() -> eddy::coro<void> {
    auto child = co_await eddy::create_subprocess_exec("/proc/self/exe", {"dump signal child"},
                                                       {.stdout_to = eddy::stdio::pipe(),
                                                        .stderr_to = eddy::stdio::pipe(),
                                                        .env = environment_with_dump_signal()});
    // Catch's own lines come first ("Filters: ..."); then the child is ready.
    for (;;) {
      const std::string line = co_await eddy::wait_for(child.stdout_stream()->readline(), 20s);
      REQUIRE_FALSE(line.empty());
      if (line == "ready\n") {
        break;
      }
    }
    child.send_signal(SIGUSR1);
    // The dump: a heading, then the tree; read until the sleeper's frame has come.
    std::string dump;
    while (!contains(dump, "nap()")) {
      const std::string line = co_await eddy::wait_for(child.stderr_stream()->readline(), 20s);
      REQUIRE_FALSE(line.empty());
      dump += line;
    }
    child.kill();
    const int returncode = co_await child.wait();
    CHECK(returncode == -SIGKILL);
    INFO(dump);
    CHECK(contains(dump, "eddy: tasks of the " +
                             std::string(eddy::get_running_loop().backend_name()) +
                             " loop in process " + std::to_string(child.pid()) + " (SIGUSR1):"));
    CHECK(contains(dump, "(T) sleeper  [waiting: sleep]"));
    CHECK(contains(dump, "debug_mode_test.cpp:"));
  }());
}

TEST_CASE("a coro that an eddy call refused by throwing is not reported as never awaited",
          "[debug]") {
  const error_log errors = run_in_debug_mode([]() -> eddy::coro<void> {
    bool threw = false;
    try {
      eddy::run(fetch());  // a loop is running: refused with std::runtime_error
    } catch (const std::runtime_error&) {
      threw = true;
    }
    CHECK(threw);
    co_return;
  });
  CHECK(errors.entries.empty());
}

TEST_CASE("in debug mode, create_task from another thread throws", "[debug]") {
  error_log errors;
  eddy::event_loop loop(eddy::loop_options{.debug = true});
  errors.attach(loop);
  bool threw = false;
  loop.call_soon([&] {
    std::thread other([&] {
      try {
        static_cast<void>(loop.create_task(fetch()));
      } catch (const std::runtime_error& error) {
        threw = contains(error.what(), "called from a thread other than the event loop's");
      }
    });
    other.join();
    loop.stop();
  });
  loop.run_forever();
  CHECK(threw);
  CHECK(errors.entries.empty());  // the refused coro is not reported either
}
