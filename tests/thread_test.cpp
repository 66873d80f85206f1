#include "eddy/thread.hpp"
// The thread bridge (asyncio.to_thread, loop.run_in_executor, run_coroutine_threadsafe,
// concurrent.futures.ThreadPoolExecutor): results and exceptions both ways, arguments owned by
// the call, cancellation before and during a call, executor shutdown, a loop in a background
// thread entered and stopped from other threads. Also run under TSan (tests/CMakeLists.txt).

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/gather.hpp"
#include "eddy/invoke.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;
using eddy_test::error_log;

using eddy_test::custom_error;

/// A door a worker thread waits at until the test opens it; records that someone waits.
class gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    opened_.wait(lock, [this] { return open_; });
  }
  void open() {
    // Notified under the lock: a waiter that returns may destroy the gate at once.
    std::lock_guard guard(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  [[nodiscard]] bool someone_waits() {
    std::lock_guard guard(mutex_);
    return waiting_ > 0;
  }
  [[nodiscard]] bool is_open() {
    std::lock_guard guard(mutex_);
    return open_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  int waiting_ = 0;
  bool open_ = false;
};

/// Calls meet here: arrive() returns true once `expected` calls are inside it at the same
/// time, false if that does not happen within 10 s (the calls did not run concurrently).
class rendezvous {
 public:
  explicit rendezvous(int expected) : expected_(expected) {}
  bool arrive() {
    std::unique_lock lock(mutex_);
    ++arrived_;
    all_here_.notify_all();
    return all_here_.wait_for(lock, 10s, [this] { return arrived_ >= expected_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_here_;
  int expected_;
  int arrived_ = 0;
};

eddy::coro<bool> arrive_in_thread(rendezvous* meeting) {
  co_return co_await eddy::to_thread(&rendezvous::arrive, meeting);
}

/// Counts live instances, and where the last one died.
struct tracked {
  static inline std::atomic<int> alive{0};
  static inline std::atomic<int> copies{0};
  tracked() { ++alive; }
  tracked(const tracked&) {
    ++alive;
    ++copies;
  }
  tracked(tracked&&) noexcept { ++alive; }
  tracked& operator=(const tracked&) = delete;
  ~tracked() { --alive; }
};

/// Yields on the loop until `door` has a waiter (a call is running on a worker).
eddy::coro<void> until_someone_waits(gate* door) {
  while (!door->someone_waits()) {
    co_await eddy::sleep(1ms);
  }
}

/// Yields on the loop until `flag` is set by another thread.
eddy::coro<void> until_set(const std::atomic<bool>* flag) {
  while (!flag->load()) {
    co_await eddy::sleep(1ms);
  }
}

eddy::coro<void> wait_at(gate* door) { co_await eddy::to_thread(&gate::wait, door); }

eddy::coro<tracked> wait_at_then_make_tracked(gate* door) {
  co_return co_await eddy::to_thread([door] {
    door->wait();
    return tracked{};
  });
}

eddy::coro<void> mark_in_thread(std::atomic<bool>* ran) {
  co_await eddy::to_thread([ran] { ran->store(true); });
}

eddy::coro<long> add_one_in_thread(long value) {
  co_return co_await eddy::to_thread([](long x) { return x + 1; }, value);
}

eddy::coro<int> value_after_yield(int value) {
  co_await eddy::sleep(0s);
  co_return value;
}

eddy::coro<void> fail_after_yield(std::string message) {
  co_await eddy::sleep(0s);
  throw custom_error(message);
}

/// Sleeps until cancelled; records that the cancellation reached it, and rethrows.
eddy::coro<int> sleep_until_cancelled(std::atomic<bool>* saw_cancel) {
  try {
    co_await eddy::sleep(1h);
  } catch (const eddy::cancelled_error&) {
    saw_cancel->store(true);
    throw;
  }
  co_return 0;
}

eddy::coro<void> nothing() { co_return; }

/// A loop running in a background std::jthread (the pattern in docs/threads.md): built here,
/// run, cleaned up and closed on its own thread, stopped from any thread with
/// call_soon_threadsafe.
///
/// The thread closes the loop only after request_stop() has returned: loop_core's
/// schedule_threadsafe touches the backend after releasing its lock, so a close() racing with
/// a call_soon_threadsafe that is still returning would free the backend under it (reported;
/// the latch can go once that is fixed).
class background_loop {
 public:
  background_loop()
      : thread_([this] {
          loop.run_forever();
          stop_posted_.wait();
          loop.run_until_complete(loop.shutdown_default_executor());
          loop.close();
          finished.store(true);
        }) {}
  background_loop(const background_loop&) = delete;
  background_loop& operator=(const background_loop&) = delete;
  ~background_loop() {
    request_stop();
    thread_.join();
  }

  /// Any thread; only the first call does something.
  void request_stop() {
    if (!stop_requested_.exchange(true)) {
      loop.call_soon_threadsafe([this] { loop.stop(); });
      stop_posted_.count_down();
    }
  }

  eddy::event_loop loop;
  std::atomic<bool> finished{false};

 private:
  std::atomic<bool> stop_requested_{false};
  std::latch stop_posted_{1};
  std::jthread thread_;
};

}  // namespace

// --- to_thread: results, exceptions, arguments ---------------------------------------------

TEST_CASE("to_thread runs the function on another thread and yields its result", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    std::thread::id call_thread;
    int value = co_await eddy::to_thread(
        [&call_thread](int a, int b) {
          call_thread = std::this_thread::get_id();
          return a * b;
        },
        6, 7);
    CHECK(value == 42);
    CHECK(call_thread != loop_thread);
    CHECK(std::this_thread::get_id() == loop_thread);
  };
  eddy::run(main());
}

TEST_CASE(
    "a to_thread call that outlasts the loop's brief yield still wakes the loop, which sleeps meanwhile",
    "[thread]") {
  // After handing a single call to a worker the loop yields the CPU a few times instead of
  // blocking at once; a call that takes longer must still wake the loop when it returns, and
  // the loop must block (not spin) in between.
  auto main = []() -> eddy::coro<void> {
    timespec cpu_before{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_before);
    const auto wall_before = std::chrono::steady_clock::now();
    int value = co_await eddy::to_thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return 7;
    });
    const auto wall = std::chrono::steady_clock::now() - wall_before;
    timespec cpu_after{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_after);
    const auto cpu = std::chrono::seconds(cpu_after.tv_sec - cpu_before.tv_sec) +
                     std::chrono::nanoseconds(cpu_after.tv_nsec - cpu_before.tv_nsec);
    CHECK(value == 7);
    CHECK(wall >= std::chrono::milliseconds(200));
    CHECK(cpu < wall / 2);  // the loop thread slept through the call
  };
  eddy::run(main());
}

TEST_CASE("one to_thread call after another, each back on the loop thread", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    long sum = 0;
    for (int i = 0; i < 2000; ++i) {
      sum += co_await eddy::to_thread([](int x) { return x + 1; }, i);
      CHECK(std::this_thread::get_id() == loop_thread);
    }
    CHECK(sum == 2000L * 2001 / 2);
  };
  eddy::run(main());
}

TEST_CASE("to_thread rethrows the function's exception on the loop thread", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    std::optional<custom_error> error =
        co_await caught<custom_error>(eddy::to_thread([]() -> int { throw custom_error("boom"); }));
    REQUIRE(error);
    CHECK(std::string(error->what()) == "boom");
    CHECK(std::this_thread::get_id() == loop_thread);
  };
  eddy::run(main());
}

TEST_CASE("to_thread with a void function, a member function and a move-only result", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    std::atomic<int> calls{0};
    co_await eddy::to_thread([&calls] { ++calls; });
    CHECK(calls == 1);

    std::string text = "hello";
    std::size_t size = co_await eddy::to_thread(&std::string::size, &text);
    CHECK(size == 5);

    std::unique_ptr<int> boxed = co_await eddy::to_thread([] { return std::make_unique<int>(9); });
    REQUIRE(boxed);
    CHECK(*boxed == 9);
  };
  eddy::run(main());
}

TEST_CASE("to_thread copies or moves the arguments: a changed or destroyed original is not seen",
          "[thread]") {
  auto main = []() -> eddy::coro<void> {
    std::string text = "original";
    auto awaitable = eddy::to_thread([](const std::string& seen) { return seen; }, text);
    text = "changed after the call was made";
    std::string seen = co_await std::move(awaitable);
    CHECK(seen == "original");

    // A temporary dies at the end of the full expression that creates the awaitable.
    auto from_temporary =
        eddy::to_thread([](const std::string& seen) { return seen.size(); }, std::string(100, 'x'));
    std::size_t size = co_await std::move(from_temporary);
    CHECK(size == 100);

    // A lambda owning its captures, built in a statement of its own (see docs/threads.md on
    // GCC 12), is copied into the call.
    auto owns_text = [text] { return text.size(); };
    std::size_t captured_size = co_await eddy::to_thread(owns_text);
    CHECK(captured_size == text.size());

    // Move-only arguments are moved in.
    auto owned = std::make_unique<int>(5);
    int unboxed =
        co_await eddy::to_thread([](std::unique_ptr<int> box) { return *box; }, std::move(owned));
    CHECK(unboxed == 5);
    CHECK_FALSE(owned);
  };
  eddy::run(main());
}

TEST_CASE("to_thread destroys the arguments on the worker before the await returns", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    tracked::alive = 0;
    tracked argument;
    int alive_during_call = co_await eddy::to_thread([](tracked) { return tracked::alive.load(); },
                                                     std::move(argument));
    CHECK(alive_during_call == 3);  // `argument`, the call's copy, the parameter
    CHECK(tracked::alive == 1);     // only `argument` (moved from) is left
  };
  eddy::run(main());
}

TEST_CASE("to_thread passes a reference only on purpose, with std::ref", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    int counter = 0;
    co_await eddy::to_thread([](int& shared) { shared += 1; }, std::ref(counter));
    CHECK(counter == 1);
    co_await eddy::to_thread([](int copy) { return copy + 1; }, counter);  // by value
    CHECK(counter == 1);
  };
  eddy::run(main());
}

TEST_CASE("a to_thread awaitable that is never awaited runs nothing", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    std::atomic<bool> ran{false};
    {
      auto unused = eddy::to_thread([&ran] { ran = true; });
    }
    co_await eddy::to_thread([] {});
    CHECK_FALSE(ran);
  };
  eddy::run(main());
}

TEST_CASE("to_thread awaitables can be handed to gather and wait_for", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    auto [a, b] =
        co_await eddy::gather(eddy::to_thread([] { return 1; }), eddy::to_thread([] { return 2; }));
    CHECK(a + b == 3);

    // The call owns a reference to the gate, so the gate outlives this await. Passed as an
    // argument, not captured: GCC 12 miscompiles a lambda whose captures have destructors when
    // it is written inside a co_await expression (docs/threads.md).
    auto door = std::make_shared<gate>();
    std::optional<eddy::timeout_error> timed_out =
        co_await caught<eddy::timeout_error>(eddy::wait_for(
            eddy::to_thread([](const std::shared_ptr<gate>& shared) { shared->wait(); }, door),
            10ms));
    CHECK(timed_out);
    CHECK_FALSE(door->is_open());  // the call is still running; wait_for did not wait for it
    door->open();
  };
  eddy::run(main());
}

TEST_CASE("10,000 concurrent to_thread calls", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    constexpr long count = 10'000;
    std::vector<eddy::task<long>> calls;
    calls.reserve(count);
    for (long i = 0; i < count; ++i) {
      calls.push_back(eddy::create_task(add_one_in_thread(i)));
    }
    long sum = 0;
    for (auto& call : calls) {
      sum += co_await call;
    }
    CHECK(sum == count * (count + 1) / 2);
  };
  eddy::run(main());
}

TEST_CASE("a burst of blocking to_thread calls runs concurrently, up to max_workers", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    eddy::get_running_loop().set_default_executor(std::make_shared<eddy::thread_pool_executor>(4));
    co_await eddy::to_thread([] {});  // leaves a worker searching for the next call
    rendezvous meeting(4);
    std::vector<eddy::task<bool>> calls;
    for (int i = 0; i < 4; ++i) {
      calls.push_back(
          eddy::create_task(arrive_in_thread(&meeting)));  // all queued in one iteration
    }
    int met = 0;
    for (auto& call : calls) {
      met += co_await call ? 1 : 0;
    }
    CHECK(met == 4);
  };
  eddy::run(main());
}

TEST_CASE("thread_pool_executor::submit runs a burst concurrently, up to max_workers", "[thread]") {
  eddy::thread_pool_executor pool(3);
  pool.submit([] {}).get();  // leaves a worker searching
  rendezvous meeting(3);
  std::vector<eddy::concurrent_future<bool>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(pool.submit(&rendezvous::arrive, &meeting));
  }
  int met = 0;
  for (auto& call : calls) {
    met += call.get() ? 1 : 0;
  }
  CHECK(met == 3);
}

// --- cancellation -------------------------------------------------------------------------

TEST_CASE("cancelling a task whose to_thread call has not started: the call never runs",
          "[thread]") {
  auto main = []() -> eddy::coro<void> {
    eddy::get_running_loop().set_default_executor(std::make_shared<eddy::thread_pool_executor>(1));
    gate door;
    std::atomic<bool> second_ran{false};
    eddy::task<void> first = eddy::create_task(wait_at(&door));
    eddy::task<void> second = eddy::create_task(mark_in_thread(&second_ran));
    co_await until_someone_waits(&door);  // the only worker is busy: the second call is queued

    second.cancel();
    CHECK(co_await caught<eddy::cancelled_error>(second));
    CHECK(second.cancelled());
    CHECK_FALSE(door.is_open());  // promptly: the worker is still busy

    door.open();
    co_await first;
    co_await eddy::to_thread([] {});  // FIFO: the cancelled call was skipped before this one ran
    CHECK_FALSE(second_ran);
  };
  eddy::run(main());
}

TEST_CASE(
    "cancelling a task during its to_thread call: cancelled_error at once, the result is dropped",
    "[thread]") {
  auto main = []() -> eddy::coro<void> {
    eddy::get_running_loop().set_default_executor(std::make_shared<eddy::thread_pool_executor>(1));
    tracked::alive = 0;
    gate door;
    eddy::task<tracked> waiter = eddy::create_task(wait_at_then_make_tracked(&door));
    co_await until_someone_waits(&door);

    waiter.cancel();
    CHECK(co_await caught<eddy::cancelled_error>(waiter));
    CHECK(waiter.cancelled());
    CHECK_FALSE(door.is_open());  // the call is still blocked on its thread

    door.open();
    co_await eddy::to_thread([] {});  // the dropped result came back (and died) before this
    CHECK(tracked::alive == 0);
  };
  eddy::run(main());
}

TEST_CASE("a task cancelled before it awaits to_thread never queues the call", "[thread]") {
  auto main = []() -> eddy::coro<void> {
    std::atomic<bool> ran{false};
    eddy::task<void> doomed = eddy::create_task(mark_in_thread(&ran));
    doomed.cancel();
    CHECK(co_await caught<eddy::cancelled_error>(doomed));
    co_await eddy::to_thread([] {});
    CHECK_FALSE(ran);
  };
  eddy::run(main());
}

TEST_CASE("closing a loop with a task suspended in to_thread frees the call (ASan: no leak)",
          "[thread]") {
  auto pool = std::make_shared<eddy::thread_pool_executor>(1);
  gate door;
  tracked::alive = 0;
  error_log errors;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    loop.set_default_executor(pool);
    eddy::task<tracked> running = loop.create_task(wait_at_then_make_tracked(&door));
    eddy::task<tracked> queued = loop.create_task(wait_at_then_make_tracked(&door));
    loop.run_until_complete(until_someone_waits(&door));
    loop.close();  // destroys both pending tasks; the running call cannot be stopped
  }
  CHECK(errors.count("Task was destroyed but it is pending!") == 2);
  door.open();
  pool->shutdown(true);  // the running call finishes after its loop is gone: dropped on the worker
  CHECK(tracked::alive == 0);
}

// --- run_in_executor ----------------------------------------------------------------------

TEST_CASE("run_in_executor queues at once and returns a future, on a given or the default executor",
          "[thread]") {
  auto main = []() -> eddy::coro<void> {
    eddy::thread_pool_executor pool(2);
    eddy::future<int> on_pool = eddy::run_in_executor(&pool, [](int x) { return x * 2; }, 21);
    eddy::future<std::string> on_default =
        eddy::get_running_loop().run_in_executor(nullptr, [] { return std::string("default"); });
    CHECK(co_await on_pool == 42);
    CHECK(co_await on_default == "default");

    eddy::future<void> failing =
        eddy::run_in_executor(&pool, [] { throw custom_error("in pool"); });
    CHECK(co_await caught<custom_error>(failing));
  };
  eddy::run(main());
}

TEST_CASE("cancelling a run_in_executor future before the call starts keeps it from running",
          "[thread]") {
  auto main = []() -> eddy::coro<void> {
    eddy::thread_pool_executor pool(1);
    gate door;
    std::atomic<bool> ran{false};
    eddy::future<void> blocker = eddy::run_in_executor(&pool, &gate::wait, &door);
    eddy::future<void> queued = eddy::run_in_executor(&pool, [&ran] { ran = true; });
    co_await until_someone_waits(&door);
    CHECK(queued.cancel());
    CHECK(queued.cancelled());
    door.open();
    co_await blocker;
    co_await eddy::run_in_executor(&pool, [] {});
    CHECK_FALSE(ran);
  };
  eddy::run(main());
}

// --- thread_pool_executor -----------------------------------------------------------------

TEST_CASE("thread_pool_executor::submit: values, exceptions, wait_for, from any thread",
          "[thread]") {
  eddy::thread_pool_executor pool(2);
  CHECK(pool.max_workers() == 2);
  eddy::concurrent_future<int> sum = pool.submit([](int a, int b) { return a + b; }, 2, 3);
  CHECK(sum.get() == 5);
  CHECK(sum.done());
  CHECK_FALSE(sum.cancel());  // done: too late

  eddy::concurrent_future<void> failing = pool.submit([] { throw custom_error("worker"); });
  CHECK_THROWS_AS(failing.get(), custom_error);
  CHECK(failing.exception() != nullptr);

  gate door;
  eddy::concurrent_future<void> blocked = pool.submit(&gate::wait, &door);
  CHECK_FALSE(blocked.wait_for(10ms));
  door.open();
  CHECK(blocked.wait_for(10s));

  eddy::concurrent_future<std::unique_ptr<int>> boxed =
      pool.submit([] { return std::make_unique<int>(3); });
  std::unique_ptr<int> moved_out = std::move(boxed).get();
  CHECK(*moved_out == 3);
}

TEST_CASE("thread_pool_executor: cancelling a queued call keeps it from running", "[thread]") {
  eddy::thread_pool_executor pool(1);
  gate door;
  std::atomic<bool> ran{false};
  auto blocker = pool.submit(&gate::wait, &door);
  while (!door.someone_waits()) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(blocker.running());
  CHECK_FALSE(blocker.cancel());  // running: cannot be cancelled
  auto queued = pool.submit([&ran] { ran = true; });
  CHECK(queued.cancel());
  CHECK(queued.cancelled());
  CHECK_THROWS_AS(queued.get(), eddy::cancelled_error);
  door.open();
  pool.shutdown(true);
  CHECK_FALSE(ran);
}

TEST_CASE("thread_pool_executor::shutdown(wait) runs what is queued, then refuses new calls",
          "[thread]") {
  eddy::thread_pool_executor pool(1);
  std::atomic<int> ran{0};
  std::vector<eddy::concurrent_future<void>> calls;
  for (int i = 0; i < 5; ++i) {
    calls.push_back(pool.submit([&ran] {
      std::this_thread::sleep_for(1ms);
      ++ran;
    }));
  }
  pool.shutdown(true);
  CHECK(ran == 5);
  for (auto& call : calls) {
    CHECK(call.done());
  }
  CHECK_THROWS_AS(pool.submit([] {}), std::runtime_error);
  pool.shutdown(true);  // idempotent
}

TEST_CASE("thread_pool_executor::shutdown(cancel_futures) cancels queued calls, also for awaiters",
          "[thread]") {
  auto pool = std::make_shared<eddy::thread_pool_executor>(1);
  gate door;
  std::atomic<int> ran{0};
  auto blocker = pool->submit(&gate::wait, &door);
  while (!door.someone_waits()) {
    std::this_thread::sleep_for(1ms);
  }
  auto queued = pool->submit([&ran] { ++ran; });

  // The loop's side: an awaiter and a run_in_executor future whose calls are queued behind
  // the blocker.
  eddy::runner runner;
  eddy::event_loop& loop = runner.get_loop();
  loop.set_default_executor(pool);
  std::atomic<int>* counter = &ran;
  eddy::task<void> awaiting = loop.create_task(eddy::invoke(
      [counter]() -> eddy::coro<void> { co_await eddy::to_thread([counter] { ++*counter; }); }));
  eddy::future<void> as_future = loop.run_in_executor(nullptr, [counter] { ++*counter; });
  loop.run_until_complete(value_after_yield(0));  // the task queues its call
  pool->shutdown(false, true);
  CHECK(queued.cancelled());
  CHECK_THROWS_AS(loop.run_until_complete(awaiting), eddy::cancelled_error);
  CHECK(awaiting.cancelled());
  CHECK_THROWS_AS(loop.run_until_complete(as_future), eddy::cancelled_error);
  door.open();
  blocker.get();
  pool->shutdown(true);
  CHECK(ran == 0);
}

TEST_CASE("thread_pool_executor rejects bad arguments", "[thread]") {
  CHECK_THROWS_AS(eddy::thread_pool_executor(0), std::invalid_argument);
  CHECK(eddy::thread_pool_executor::default_max_workers() ==
        std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4));
  eddy::event_loop loop;
  CHECK_THROWS_AS(loop.set_default_executor(nullptr), std::invalid_argument);
  eddy::concurrent_future<int> empty;
  CHECK_FALSE(empty.valid());
  CHECK_THROWS_AS(empty.get(), eddy::invalid_state_error);
}

// --- the default executor's life ----------------------------------------------------------

TEST_CASE("after shutdown_default_executor, to_thread and run_in_executor(nullptr) throw",
          "[thread]") {
  auto main = []() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    co_await eddy::to_thread([] {});  // makes the default executor
    co_await loop.shutdown_default_executor();
    CHECK(co_await caught<std::runtime_error>(eddy::to_thread([] {})));
    CHECK_THROWS_AS(loop.run_in_executor(nullptr, [] {}), std::runtime_error);
    eddy::thread_pool_executor own(1);
    CHECK(co_await loop.run_in_executor(&own, [] { return 1; }) ==
          1);  // other executors still work
  };
  eddy::run(main());
}

TEST_CASE("eddy::run waits at exit for a call that is still running", "[thread]") {
  struct progress {
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
  } call;
  auto start_and_leave = [](progress* seen) -> eddy::coro<void> {
    eddy::create_task(eddy::invoke([seen]() -> eddy::coro<void> {
      co_await eddy::to_thread([seen] {
        seen->started = true;
        std::this_thread::sleep_for(50ms);
        seen->finished = true;
      });
    }));
    co_await until_set(&seen->started);
  };
  eddy::run(start_and_leave(&call));
  CHECK(call.finished);  // the leftover task was cancelled, but run() waited for the worker
}

TEST_CASE("the runner's executor shutdown keeps the loop running for calls that need it",
          "[thread]") {
  // A worker blocks on a coroutine it runs on the loop while run() shuts the executor down:
  // asyncio's shutdown_default_executor lets the loop run meanwhile, so this must not hang.
  struct progress {
    std::atomic<bool> started{false};
    std::atomic<int> answer{0};
  } call;
  auto start_and_leave = [](progress* seen) -> eddy::coro<void> {
    eddy::event_loop* loop = &eddy::get_running_loop();
    eddy::create_task(eddy::invoke([loop, seen]() -> eddy::coro<void> {
      co_await eddy::to_thread([loop, seen] {
        seen->started = true;
        std::this_thread::sleep_for(20ms);  // run() is shutting down by now
        seen->answer = eddy::run_coroutine_threadsafe(value_after_yield(7), *loop).get();
      });
    }));
    co_await until_set(&seen->started);
  };
  eddy::run(start_and_leave(&call));
  CHECK(call.answer == 7);
}

// --- a loop in another thread ---------------------------------------------------------------

TEST_CASE("a loop in a background jthread is stopped from another thread with call_soon_threadsafe",
          "[thread]") {
  background_loop background;
  auto ran_on = eddy::run_coroutine_threadsafe(value_after_yield(1), background.loop);
  CHECK(ran_on.get() == 1);
  std::thread stopper([&background] { background.request_stop(); });  // call_soon_threadsafe(stop)
  stopper.join();
  for (int i = 0; i < 10'000 && !background.finished; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(background.finished);
}

TEST_CASE("run_coroutine_threadsafe from a plain thread: get, exceptions, wait_for, cancel",
          "[thread]") {
  background_loop background;
  eddy::event_loop& loop = background.loop;
  struct observations {
    int value = 0;
    bool threw_custom = false;
    bool first_wait_timed_out = false;
    bool cancel_returned = false;
    bool cancelled = false;
    bool get_threw_cancelled = false;
    bool second_cancel_returned = false;
  } seen;
  std::atomic<bool> task_saw_cancel{false};

  std::thread client([&] {
    seen.value = eddy::run_coroutine_threadsafe(value_after_yield(42), loop).get();

    auto failing = eddy::run_coroutine_threadsafe(fail_after_yield("from the loop"), loop);
    try {
      failing.get();
    } catch (const custom_error&) {
      seen.threw_custom = true;
    }

    auto slow = eddy::run_coroutine_threadsafe(sleep_until_cancelled(&task_saw_cancel), loop);
    seen.first_wait_timed_out = !slow.wait_for(20ms);
    seen.cancel_returned = slow.cancel();
    seen.cancelled = slow.cancelled();
    try {
      slow.get();
    } catch (const eddy::cancelled_error&) {
      seen.get_threw_cancelled = true;
    }
    seen.second_cancel_returned = slow.cancel();
    // Messages to the loop keep their order: by the time this returns, the cancel has been
    // delivered and the cancelled task has run.
    eddy::run_coroutine_threadsafe(value_after_yield(0), loop).get();
  });
  client.join();

  CHECK(seen.value == 42);
  CHECK(seen.threw_custom);
  CHECK(seen.first_wait_timed_out);
  CHECK(seen.cancel_returned);
  CHECK(seen.cancelled);
  CHECK(seen.get_threw_cancelled);
  CHECK(seen.second_cancel_returned);
  CHECK(task_saw_cancel);
}

TEST_CASE(
    "run_coroutine_threadsafe: a loop that closes first cancels the future; a closed loop throws",
    "[thread]") {
  std::atomic<bool> ran{false};
  auto body = [](std::atomic<bool>* flag) -> eddy::coro<int> {
    flag->store(true);
    co_return 1;
  };
  eddy::concurrent_future<int> never_started;
  {
    eddy::event_loop loop;
    never_started = eddy::run_coroutine_threadsafe(body(&ran), loop);
    loop.close();
    CHECK_THROWS_AS(eddy::run_coroutine_threadsafe(body(&ran), loop), std::runtime_error);
  }
  CHECK(never_started.cancelled());
  CHECK_FALSE(ran);

  // Started, then the loop closes with the task still pending.
  error_log errors;
  std::atomic<bool> saw_cancel{false};
  eddy::concurrent_future<int> pending;
  {
    eddy::event_loop loop;
    errors.attach(loop);
    pending = eddy::run_coroutine_threadsafe(sleep_until_cancelled(&saw_cancel), loop);
    loop.run_until_complete(value_after_yield(0));
    loop.close();
  }
  CHECK(pending.cancelled());
}

TEST_CASE("a call_soon_threadsafe handle cancelled from another thread never runs", "[thread]") {
  background_loop background;
  eddy::event_loop& loop = background.loop;
  gate loop_busy;
  std::atomic<bool> ran{false};
  std::atomic<bool> reported_cancelled{false};
  loop.call_soon_threadsafe([&loop_busy] { loop_busy.wait(); });  // holds the loop's thread
  while (!loop_busy.someone_waits()) {
    std::this_thread::sleep_for(1ms);
  }
  std::thread other([&] {
    eddy::handle callback = loop.call_soon_threadsafe([&ran] { ran = true; });
    callback.cancel();
    reported_cancelled = callback.cancelled();
  });
  other.join();
  loop_busy.open();
  eddy::run_coroutine_threadsafe(nothing(), loop).get();  // queued after the cancelled callback
  CHECK(reported_cancelled);
  CHECK_FALSE(ran);
}

TEST_CASE("to_thread and run_coroutine_threadsafe on a loop in a background thread", "[thread]") {
  background_loop background;
  auto body = []() -> eddy::coro<long> {
    long sum = 0;
    for (long i = 0; i < 100; ++i) {
      sum += co_await add_one_in_thread(i);
    }
    co_return sum;
  };
  std::vector<eddy::concurrent_future<long>> results;
  for (int i = 0; i < 4; ++i) {
    results.push_back(eddy::run_coroutine_threadsafe(body(), background.loop));
  }
  for (auto& result : results) {
    CHECK(result.get() == 5050);
  }
}
