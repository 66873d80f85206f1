#include "eddy/format.hpp"
// Printing eddy's objects (eddy/format.hpp): each object in each of its states prints what
// asyncio's repr() shows, the same through fmt::format and through std::ostream.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <any>
#include <chrono>
#include <cstdint>
#include <exception>
#include <source_location>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task_group.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Matches;
using eddy_test::run_briefly;

const std::string this_file = std::source_location::current().file_name();

/// The text of `object`, checking that fmt and std::ostream print the same.
template <class T>
std::string printed(const T& object) {
  std::string with_fmt = fmt::format("{}", object);
  std::ostringstream stream;
  stream << object;
  CHECK(stream.str() == with_fmt);
  return with_fmt;
}

/// What a task prints for its coroutine suspended (or ended) at `line` of this file.
std::string coro_at(const char* function, int line) {
  return fmt::format("coro={}() at {}:{}", function, this_file, line);
}

/// A type fmt cannot format: a result or item of this type is not printed.
struct opaque {
  int value = 0;
};

eddy::coro<int> sleep_then_one() {
  co_await eddy::sleep(1h);
  co_return 1;
}
constexpr int sleep_then_one_line = __LINE__ - 3;

eddy::coro<int> one_after_a_turn() {
  co_await eddy::sleep(0s);
  co_return 1;
}
constexpr int one_after_a_turn_line = __LINE__ - 3;

eddy::coro<std::string> word_after_a_turn() {
  co_await eddy::sleep(0s);
  co_return "it's";
}
constexpr int word_after_a_turn_line = __LINE__ - 3;

eddy::coro<opaque> opaque_after_a_turn() {
  co_await eddy::sleep(0s);
  co_return opaque{7};
}
constexpr int opaque_after_a_turn_line = __LINE__ - 3;

eddy::coro<void> nothing_after_a_turn() { co_await eddy::sleep(0s); }
constexpr int nothing_after_a_turn_line = __LINE__ - 1;

eddy::coro<void> fail_after_a_turn() {
  co_await eddy::sleep(0s);
  throw std::runtime_error("boom");
}
constexpr int fail_after_a_turn_line = __LINE__ - 3;

eddy::coro<void> await_task(eddy::task<int> awaited) { static_cast<void>(co_await awaited); }
constexpr int await_task_line = __LINE__ - 1;

}  // namespace

TEST_CASE("a task prints its name, state and coroutine, as asyncio's Task repr", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> sleeper = eddy::create_task(sleep_then_one(), "sleeper");
    // Not started yet: the coroutine is at its beginning (a line of its body, which GCC and
    // clang choose differently).
    CHECK_THAT(printed(sleeper),
               Matches("<task name='sleeper' state=pending coro=sleep_then_one\\(\\) at "
                       ".*format_test\\.cpp:[0-9]+>"));
    eddy::task<void> waiter = eddy::create_task(await_task(sleeper), "waiter");
    co_await run_briefly();

    // Suspended: where, and in what (asyncio's wait_for=).
    CHECK(printed(sleeper) == "<task name='sleeper' state=pending " +
                                  coro_at("sleep_then_one", sleep_then_one_line) +
                                  " wait_for=<sleep>>");
    CHECK(printed(waiter) == "<task name='waiter' state=pending " +
                                 coro_at("await_task", await_task_line) +
                                 " wait_for=<task 'sleeper'>>");
    CHECK(printed(eddy::any_task(waiter)) == printed(waiter));

    // Asked to cancel, not yet done: "cancelling", as asyncio's.
    sleeper.cancel();
    CHECK(printed(sleeper) == "<task name='sleeper' state=cancelling " +
                                  coro_at("sleep_then_one", sleep_then_one_line) + ">");
    co_await run_briefly();
    CHECK(printed(sleeper) == "<task name='sleeper' state=cancelled " +
                                  coro_at("sleep_then_one", sleep_then_one_line) + ">");
    CHECK(printed(waiter) ==
          "<task name='waiter' state=cancelled " + coro_at("await_task", await_task_line) + ">");
  }());
}

TEST_CASE("a finished task prints its result when fmt can format it", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> number = eddy::create_task(one_after_a_turn(), "number");
    eddy::task<std::string> word = eddy::create_task(word_after_a_turn(), "word");
    eddy::task<opaque> thing = eddy::create_task(opaque_after_a_turn(), "thing");
    eddy::task<void> nothing = eddy::create_task(nothing_after_a_turn(), "nothing");
    co_await run_briefly();
    CHECK(printed(number) == "<task name='number' state=finished result=1 " +
                                 coro_at("one_after_a_turn", one_after_a_turn_line) + ">");
    // Strings are quoted as Python's repr quotes them.
    CHECK(printed(word) == "<task name='word' state=finished result='it\\'s' " +
                               coro_at("word_after_a_turn", word_after_a_turn_line) + ">");
    // No formatter for the result, no result=; nor for a void task.
    CHECK(printed(thing) == "<task name='thing' state=finished " +
                                coro_at("opaque_after_a_turn", opaque_after_a_turn_line) + ">");
    CHECK(printed(nothing) == "<task name='nothing' state=finished " +
                                  coro_at("nothing_after_a_turn", nothing_after_a_turn_line) + ">");
    // A handle of any type knows no result type.
    CHECK(printed(eddy::any_task(number)) ==
          "<task name='number' state=finished " +
              coro_at("one_after_a_turn", one_after_a_turn_line) + ">");
  }());
}

TEST_CASE("a task named by default, the running task and an empty handle", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::task<int> unnamed = eddy::create_task(one_after_a_turn());
    CHECK_THAT(printed(unnamed), Matches("<task name='Task-[0-9]+' state=pending coro=.*>"));
    // The running task is pending, with no wait_for.
    CHECK_THAT(printed(eddy::current_task()),
               Matches("<task name='Task-[0-9]+' state=pending coro=.*format_test\\.cpp:[0-9]+>"));
    co_await run_briefly();
  }());
  CHECK(printed(eddy::task<int>()) == "<task empty>");
  CHECK(printed(eddy::any_task()) == "<task empty>");
}

TEST_CASE("a failed task prints its exception, and printing does not retrieve it", "[format]") {
  eddy_test::error_log log;
  eddy::event_loop loop;
  log.attach(loop);
  loop.run_until_complete([]() -> eddy::coro<void> {
    eddy::task<void> failing = eddy::create_task(fail_after_a_turn(), "failing");
    co_await run_briefly();
    CHECK(printed(failing) ==
          "<task name='failing' state=finished exception=std::runtime_error: "
          "boom " +
              coro_at("fail_after_a_turn", fail_after_a_turn_line) + ">");
  }());
  // The handle is gone and nobody retrieved the exception: asyncio's report still comes.
  INFO(log.messages());
  CHECK(log.count("Task exception was never retrieved") == 1);
}

TEST_CASE("a future prints pending, finished with its result or exception, cancelled", "[format]") {
  eddy::event_loop loop;
  eddy::future<int> number(loop);
  CHECK(printed(number) == "<future pending>");
  number.set_result(3);
  CHECK(printed(number) == "<future finished result=3>");

  eddy::future<std::string> word(loop);
  word.set_result("three");
  CHECK(printed(word) == "<future finished result='three'>");

  eddy::future<void> done(loop);
  done.set_result();
  CHECK(printed(done) == "<future finished>");

  eddy::future<int> failed(loop);
  failed.set_exception(std::invalid_argument("bad"));
  CHECK(printed(failed) == "<future finished exception=std::invalid_argument: bad>");
  CHECK(failed.exception() != nullptr);  // retrieved: no report when it goes

  eddy::future<int> cancelled(loop);
  cancelled.cancel("no longer needed");
  CHECK(printed(cancelled) == "<future cancelled>");

  eddy::future<int> moved = std::move(number);
  CHECK(printed(number) == "<future empty>");  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("the event loop prints its backend, running, closed and debug", "[format]") {
  eddy::event_loop loop;
  const std::string backend(loop.backend_name());
  CHECK((backend == "uring" || backend == "epoll"));
  CHECK(printed(loop) ==
        "<event_loop backend=" + backend + " running=false closed=false debug=false>");
  loop.set_debug(true);
  const std::string inside = loop.run_until_complete(
      []() -> eddy::coro<std::string> { co_return printed(eddy::get_running_loop()); }());
  CHECK(inside == "<event_loop backend=" + backend + " running=true closed=false debug=true>");
  loop.close();
  CHECK(printed(loop) == "<event_loop running=false closed=true debug=true>");
}

TEST_CASE("a process prints its pid, running or its return code", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::process sleeper = co_await eddy::create_subprocess_exec("/bin/sleep", "10");
    CHECK(printed(sleeper) == fmt::format("<process pid={} running>", sleeper.pid()));
    sleeper.kill();
    const int killed = co_await sleeper.wait();
    CHECK(killed == -9);
    CHECK(printed(sleeper) == fmt::format("<process pid={} returncode=-9>", sleeper.pid()));

    eddy::process quick = co_await eddy::create_subprocess_exec("/bin/true");
    const int code = co_await quick.wait();
    CHECK(code == 0);
    CHECK(printed(quick) == fmt::format("<process pid={} returncode=0>", quick.pid()));
  }());
  CHECK(printed(eddy::process()) == "<process empty>");
}

namespace {

/// Holds its connection open without reading until the task is cancelled.
eddy::coro<void> hold_open(eddy::stream_reader /*reader*/, eddy::stream_writer /*writer*/) {
  co_await eddy::sleep(1h);
}

/// Greets and closes.
eddy::coro<void> greet(eddy::stream_reader /*reader*/, eddy::stream_writer writer) {
  writer.write("hello\n");
  writer.close();
  co_await writer.wait_closed();
}

eddy::coro<void> wait_for_connection(const eddy::server* listening) {
  for (int tries = 0; tries < 1000 && listening->connection_count() == 0; ++tries) {
    co_await eddy::sleep(1ms);
  }
}

}  // namespace

TEST_CASE("a server prints its sockets and whether it serves", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::server listening = co_await eddy::start_server(hold_open, "127.0.0.1", 0);
    const std::string where = listening.sockets().front().to_string();
    CHECK(printed(listening) == "<server sockets=(" + where + ") serving>");

    auto [reader, writer] =
        co_await eddy::open_connection("127.0.0.1", listening.sockets().front().port());
    co_await wait_for_connection(&listening);
    CHECK(printed(listening) == "<server sockets=(" + where + ") serving connections=1>");
    writer.abort();
    listening.close();
    CHECK(printed(listening) == "<server closed>");

    eddy::server_options later;
    later.start_serving = false;
    eddy::server idle = co_await eddy::start_server(hold_open, "127.0.0.1", 0, later);
    CHECK(printed(idle) ==
          "<server sockets=(" + idle.sockets().front().to_string() + ") not serving>");
    idle.close();
  }());
  CHECK(printed(eddy::server()) == "<server empty>");
}

TEST_CASE("a socket's reader and writer print the buffer, eof, limit and the peer", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::server listening = co_await eddy::start_server(greet, "127.0.0.1", 0);
    const std::string peer = listening.sockets().front().to_string();
    auto [reader, writer] =
        co_await eddy::open_connection("127.0.0.1", listening.sockets().front().port());
    const int fd = std::any_cast<int>(writer.get_extra_info("socket"));
    CHECK(printed(reader) == fmt::format("<stream_reader limit=65536 fd={} peer={}>", fd, peer));
    CHECK(printed(writer) == fmt::format("<stream_writer fd={} peer={}>", fd, peer));

    const std::string greeting = co_await reader.readline();
    CHECK(greeting == "hello\n");
    const std::string rest = co_await reader.read();
    CHECK(rest.empty());
    CHECK(printed(reader) ==
          fmt::format("<stream_reader eof limit=65536 fd={} peer={}>", fd, peer));

    writer.close();
    co_await writer.wait_closed();
    CHECK(printed(reader) == "<stream_reader eof limit=65536 closed>");
    CHECK(printed(writer) == "<stream_writer closed>");
    listening.close();
    co_await listening.wait_closed();
  }());
  CHECK(printed(eddy::stream_reader()) == "<stream_reader empty>");
  CHECK(printed(eddy::stream_writer()) == "<stream_writer empty>");
}

TEST_CASE("a writer whose peer does not read prints what is unsent, and closing", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::server listening = co_await eddy::start_server(hold_open, "127.0.0.1", 0);
    const std::string peer = listening.sockets().front().to_string();
    auto [reader, writer] =
        co_await eddy::open_connection("127.0.0.1", listening.sockets().front().port());
    const int fd = std::any_cast<int>(writer.get_extra_info("socket"));
    // More than the two kernel buffers of a loopback connection hold.
    writer.write(std::string(std::size_t{64} << 20, 'x'));
    co_await run_briefly();
    REQUIRE(writer.write_buffer_size() > 0);
    CHECK(printed(writer) == fmt::format("<stream_writer fd={} peer={} bufsize={}>", fd, peer,
                                         writer.write_buffer_size()));
    writer.close();
    CHECK(printed(writer) == fmt::format("<stream_writer fd={} peer={} closing bufsize={}>", fd,
                                         peer, writer.write_buffer_size()));
    writer.abort();
    co_await writer.wait_closed();
    CHECK(printed(writer) == "<stream_writer closed>");
    listening.close();
  }());
}

TEST_CASE("a pipe reader prints its buffered bytes and its limit", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    int ends[2] = {-1, -1};
    REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0);
    eddy::stream_reader reader = eddy::stream_reader::from_pipe(ends[0], 1024);
    REQUIRE(::write(ends[1], "hello\n", 6) == 6);
    const std::string first = co_await reader.read(1);
    CHECK(first == "h");
    CHECK(printed(reader) == fmt::format("<stream_reader 5 bytes limit=1024 fd={} pipe>", ends[0]));
    ::close(ends[1]);
    const std::string rest = co_await reader.read();
    CHECK(rest == "ello\n");
    CHECK(printed(reader) == fmt::format("<stream_reader eof limit=1024 fd={} pipe>", ends[0]));
  }());
}

namespace {

eddy::coro<void> acquire_then_release(eddy::lock* mutex) {
  co_await mutex->acquire();
  mutex->release();
}

eddy::coro<void> wait_for_event(eddy::event* flag) { co_await flag->wait(); }

eddy::coro<void> wait_on_condition(eddy::condition* cond) {
  auto held = co_await cond->scoped();
  co_await cond->wait();
}

eddy::coro<void> acquire_permit(eddy::semaphore* sem) { co_await sem->acquire(); }

/// Whether the barrier broke while this task waited.
eddy::coro<bool> broke_while_waiting(eddy::barrier* meeting) {
  bool broken = false;
  try {
    static_cast<void>(co_await meeting->wait());
  } catch (const eddy::broken_barrier_error&) {
    broken = true;
  }
  co_return broken;
}

}  // namespace

TEST_CASE("lock, event and condition print their state and waiters, as asyncio's", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::lock mutex;
    CHECK(printed(mutex) == "<lock [unlocked]>");
    REQUIRE(mutex.try_acquire());
    CHECK(printed(mutex) == "<lock [locked]>");
    eddy::task<void> contender = eddy::create_task(acquire_then_release(&mutex));
    co_await run_briefly();
    CHECK(printed(mutex) == "<lock [locked, waiters:1]>");
    mutex.release();  // handed to the waiter
    CHECK(printed(mutex) == "<lock [locked]>");
    co_await contender;
    CHECK(printed(mutex) == "<lock [unlocked]>");

    eddy::event flag;
    CHECK(printed(flag) == "<event [unset]>");
    eddy::task<void> first = eddy::create_task(wait_for_event(&flag));
    eddy::task<void> second = eddy::create_task(wait_for_event(&flag));
    co_await run_briefly();
    CHECK(printed(flag) == "<event [unset, waiters:2]>");
    flag.set();
    CHECK(printed(flag) == "<event [set]>");
    co_await first;
    co_await second;

    eddy::condition cond;
    CHECK(printed(cond) == "<condition [unlocked]>");
    eddy::task<void> waiter = eddy::create_task(wait_on_condition(&cond));
    co_await run_briefly();
    CHECK(printed(cond) == "<condition [unlocked, waiters:1]>");
    REQUIRE(cond.try_acquire());
    cond.notify();
    CHECK(printed(cond) == "<condition [locked]>");
    cond.release();
    co_await waiter;
  }());
}

TEST_CASE("semaphores print their value or waiters, barriers their state", "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::semaphore sem(2);
    CHECK(printed(sem) == "<semaphore [unlocked, value:2]>");
    REQUIRE(sem.try_acquire());
    REQUIRE(sem.try_acquire());
    CHECK(printed(sem) == "<semaphore [locked]>");
    eddy::task<void> waiting = eddy::create_task(acquire_permit(&sem));
    co_await run_briefly();
    CHECK(printed(sem) == "<semaphore [locked, waiters:1]>");
    sem.release();
    co_await waiting;

    eddy::bounded_semaphore bounded(3);
    CHECK(printed(bounded) == "<bounded_semaphore [unlocked, value:3]>");

    eddy::barrier meeting(3);
    CHECK(printed(meeting) == "<barrier [filling, waiters:0/3]>");
    eddy::task<bool> early = eddy::create_task(broke_while_waiting(&meeting));
    co_await run_briefly();
    CHECK(printed(meeting) == "<barrier [filling, waiters:1/3]>");
    meeting.abort();
    const bool broken = co_await early;
    CHECK(broken);
    CHECK(printed(meeting) == "<barrier [broken, waiters:0/3]>");
  }());
}

namespace {

eddy::coro<int> get_one(eddy::queue<int>* items) { co_return co_await items->get(); }

eddy::coro<void> put_one(eddy::queue<int>* items, int item) { co_await items->put(item); }

}  // namespace

TEST_CASE("a queue prints maxsize, its items, waiters and unfinished tasks, as asyncio's",
          "[format]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::queue<int> numbers;
    CHECK(printed(numbers) == "<queue maxsize=0>");
    numbers.put_nowait(1);
    numbers.put_nowait(2);
    CHECK(printed(numbers) == "<queue maxsize=0 _queue=[1, 2] tasks=2>");
    CHECK(numbers.get_nowait() == 1);
    CHECK(numbers.get_nowait() == 2);
    numbers.task_done();
    CHECK(printed(numbers) == "<queue maxsize=0 tasks=1>");
    numbers.task_done();

    eddy::task<int> getter = eddy::create_task(get_one(&numbers));
    co_await run_briefly();
    CHECK(printed(numbers) == "<queue maxsize=0 _getters[1]>");
    getter.cancel();
    co_await run_briefly();

    eddy::queue<int> bounded(1);
    bounded.put_nowait(1);
    eddy::task<void> putter = eddy::create_task(put_one(&bounded, 2));
    co_await run_briefly();
    CHECK(printed(bounded) == "<queue maxsize=1 _queue=[1] _putters[1] tasks=1>");
    putter.cancel();
    co_await run_briefly();
    bounded.shutdown();
    CHECK(printed(bounded) == "<queue maxsize=1 _queue=[1] tasks=1 shutdown>");
  }());
}

TEST_CASE("queue items print quoted when strings, as a count when fmt cannot format them",
          "[format]") {
  eddy::queue<std::string> words(5);
  words.put_nowait("a");
  words.put_nowait("b c");
  CHECK(printed(words) == "<queue maxsize=5 _queue=['a', 'b c'] tasks=2>");

  eddy::queue<opaque> things;
  things.put_nowait(opaque{1});
  things.put_nowait(opaque{2});
  CHECK(printed(things) == "<queue maxsize=0 qsize=2 tasks=2>");

  // In storage order, as asyncio's: a priority queue's heap, a lifo queue's list.
  eddy::priority_queue<int> ranked;
  ranked.put_nowait(3);
  ranked.put_nowait(1);
  ranked.put_nowait(2);
  CHECK(printed(ranked) == "<priority_queue maxsize=0 _queue=[1, 3, 2] tasks=3>");
  eddy::lifo_queue<int> stacked;
  stacked.put_nowait(1);
  stacked.put_nowait(2);
  stacked.put_nowait(3);
  CHECK(printed(stacked) == "<lifo_queue maxsize=0 _queue=[1, 2, 3] tasks=3>");
}

TEST_CASE("an address prints as to_string", "[format]") {
  CHECK(printed(eddy::address::parse("127.0.0.1", 8080)) == "127.0.0.1:8080");
  CHECK(printed(eddy::address::parse("::1", 80)) == "[::1]:80");
  CHECK(printed(eddy::address::unix_path("/run/eddy.sock")) == "unix:/run/eddy.sock");
  CHECK(printed(eddy::address()).empty());
}

TEST_CASE("eddy's exceptions print their type and message, as Python's traceback's last line",
          "[format]") {
  CHECK(printed(eddy::cancelled_error()) == "eddy::cancelled_error");
  CHECK(printed(eddy::cancelled_error("shutting down")) == "eddy::cancelled_error: shutting down");
  CHECK(printed(eddy::timeout_error()) == "eddy::timeout_error: timed out");
  CHECK(printed(eddy::invalid_state_error("result(): the result is not set yet")) ==
        "eddy::invalid_state_error: result(): the result is not set yet");
  CHECK(printed(eddy::keyboard_interrupt()) ==
        "eddy::keyboard_interrupt: keyboard interrupt (SIGINT)");
  CHECK(printed(eddy::queue_empty("queue.get_nowait(): the queue is empty")) ==
        "eddy::queue_empty: queue.get_nowait(): the queue is empty");
  CHECK(printed(eddy::queue_full("full")) == "eddy::queue_full: full");
  CHECK(printed(eddy::queue_shut_down("shut")) == "eddy::queue_shut_down: shut");
  CHECK(printed(eddy::broken_barrier_error("broken")) == "eddy::broken_barrier_error: broken");
  CHECK(printed(eddy::incomplete_read_error("abc", 10)) ==
        "eddy::incomplete_read_error: 3 bytes read on a total of 10 expected bytes");
  CHECK(printed(eddy::limit_overrun_error("Separator is not found", 4)) ==
        "eddy::limit_overrun_error: Separator is not found");

  std::vector<std::exception_ptr> errors;
  errors.push_back(std::make_exception_ptr(std::runtime_error("boom")));
  errors.push_back(std::make_exception_ptr(std::logic_error("bad")));
  CHECK(printed(eddy::exception_group("unhandled errors in a task_group", errors)) ==
        "eddy::exception_group: unhandled errors in a task_group (2 sub-exceptions): "
        "std::runtime_error: boom; std::logic_error: bad");
}

TEST_CASE("a task_group's exception_group prints its sub-exceptions", "[format]") {
  const std::string text = eddy::run([]() -> eddy::coro<std::string> {
    std::string caught;
    try {
      co_await eddy::with_task_group([](eddy::task_group& group) -> eddy::coro<void> {
        group.create_task(fail_after_a_turn());
        co_return;
      });
    } catch (const eddy::exception_group& errors) {
      caught = printed(errors);
    }
    co_return caught;
  }());
  CHECK(text ==
        "eddy::exception_group: unhandled errors in a task_group (1 sub-exception): "
        "std::runtime_error: boom");
}

TEST_CASE("std::exception_ptr formats as the exception it holds", "[format]") {
  CHECK(fmt::format("{}", std::make_exception_ptr(std::runtime_error("boom"))) ==
        "std::runtime_error: boom");
  CHECK(fmt::format("{}", std::make_exception_ptr(eddy_test::custom_error("mine"))) ==
        "eddy_test::custom_error: mine");
  CHECK(fmt::format("{}", std::make_exception_ptr(eddy::cancelled_error("why"))) ==
        "eddy::cancelled_error: why");
  CHECK(fmt::format("{}", std::make_exception_ptr(eddy::keyboard_interrupt())) ==
        "eddy::keyboard_interrupt: keyboard interrupt (SIGINT)");
  CHECK(fmt::format("{}", std::make_exception_ptr(42)) == "int (not a std::exception)");
  CHECK(fmt::format("{}", std::exception_ptr()) == "no exception");
}

TEST_CASE("the format specification of a string applies to the whole text", "[format]") {
  eddy::lock mutex;
  CHECK(fmt::format("[{:>20}]", mutex) == "[   <lock [unlocked]>]");
  CHECK(fmt::format("[{:.5}]", mutex) == "[<lock]");
  std::ostringstream stream;
  stream.width(20);
  stream << mutex;
  CHECK(stream.str() == "   <lock [unlocked]>");
}
