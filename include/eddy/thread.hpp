// The thread bridge: thread_pool_executor, to_thread, run_in_executor and
// run_coroutine_threadsafe (asyncio.to_thread, loop.run_in_executor,
// asyncio.run_coroutine_threadsafe, concurrent.futures.ThreadPoolExecutor).
//
// Blocking calls must not freeze the loop: run them on a thread pool and await the result.
// Other threads enter a loop through run_coroutine_threadsafe and call_soon_threadsafe.
// docs/threads.md explains the patterns, the cancellation rules and the lifetimes.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/detail/gcc12.hpp"
#include "eddy/detail/thread_call.hpp"
#include "eddy/detail/thread_concurrent.hpp"
#include "eddy/errors.hpp"
#include "eddy/future.hpp"
#include "eddy/loop.hpp"

namespace eddy {

namespace detail {
class executor_core;
}

/// A result computed on another thread (Python's concurrent.futures.Future): what
/// thread_pool_executor::submit and run_coroutine_threadsafe return.
///
/// Unlike eddy::future, this is thread-safe: copies share one state with an atomic reference
/// count, and every member may be called from any thread. Blocking members (get, wait,
/// wait_for, exception) block the calling thread, so never call them on a loop's thread for
/// work that needs that loop; inside a coroutine, await run_in_executor / to_thread instead.
/// An empty (default-constructed) handle throws invalid_state_error from every member but
/// valid().
template <class T = void>
class concurrent_future {
 public:
  using value_type = T;
  using state_type = detail::concurrent_state<T>;

  concurrent_future() noexcept = default;
  explicit concurrent_future(detail::concurrent_ref<state_type> state) noexcept
      : state_(std::move(state)) {}

  /// Cancels the work if it has not started: a submitted call that is still queued will not
  /// run; for run_coroutine_threadsafe, the task on the loop is cancelled (its coroutine sees
  /// cancelled_error where it is suspended). Returns false if the call is running or done,
  /// true if the future is (now) cancelled. The future is cancelled at once: waiters wake and
  /// get() throws cancelled_error, even if the coroutine then swallows the cancellation.
  bool cancel() { return live()->cancel(); }

  [[nodiscard]] bool cancelled() const { return live()->state() == state_type::status::cancelled; }
  /// Whether an executor is running the call now (never true for run_coroutine_threadsafe).
  [[nodiscard]] bool running() const { return live()->state() == state_type::status::running; }
  /// Finished, failed or cancelled.
  [[nodiscard]] bool done() const { return live()->done(); }

  /// Blocks until done.
  void wait() const { live()->wait(); }
  /// Blocks until done or `timeout` has passed; returns whether it is done.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return live()->wait_until(std::chrono::steady_clock::now() + timeout);
  }
  /// Blocks until done or `deadline`; returns whether it is done.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) const {
    return live()->wait_until(deadline);
  }

  /// Blocks until done, then returns the value (a reference into the shared state), or
  /// throws the call's exception, or cancelled_error if it was cancelled.
  decltype(auto) get() & {
    live()->wait_and_rethrow();
    return live()->value();
  }
  /// The same, moving the value out: `std::move(f).get()`.
  T get() && {
    live()->wait_and_rethrow();
    if constexpr (!std::is_void_v<T>) {
      return std::move(live()->value());
    }
  }

  /// Blocks until done; null if it succeeded, the exception if it failed. Throws
  /// cancelled_error if cancelled.
  [[nodiscard]] std::exception_ptr exception() const { return live()->exception(); }

  /// Whether it refers to a state (false for a default-constructed handle).
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(state_); }
  explicit operator bool() const noexcept { return valid(); }

 private:
  state_type* live() const {
    if (!state_) {
      throw invalid_state_error("concurrent_future: the handle is empty");
    }
    return state_.get();
  }

  detail::concurrent_ref<state_type> state_;
};

/// A pool of worker threads that runs calls (Python's ThreadPoolExecutor). Every member is
/// thread-safe.
///
/// Workers start on demand, one per submission that finds no idle worker, up to
/// max_workers; an idle worker waits a few microseconds for new work before it sleeps. Calls
/// run in submission order (FIFO) and with no lock held. Worker threads block all
/// asynchronous signals, so signals reach the loop's thread.
///
/// Destruction calls shutdown(wait = true): it blocks until every queued call has run. Do not
/// destroy an executor on a loop's thread while one of its calls waits for that loop.
class thread_pool_executor {
 public:
  /// asyncio's default for a loop's executor: min(32, hardware threads + 4).
  [[nodiscard]] static std::size_t default_max_workers() noexcept;

  /// Throws std::invalid_argument if max_workers is 0.
  explicit thread_pool_executor(std::size_t max_workers = default_max_workers());
  ~thread_pool_executor();
  thread_pool_executor(const thread_pool_executor&) = delete;
  thread_pool_executor& operator=(const thread_pool_executor&) = delete;

  /// Queues `function(args...)` and returns its future (Executor.submit). The function and
  /// the arguments are copied or moved into the call (pass std::ref(x) to pass a reference on
  /// purpose: x must then outlive the call) and destroyed on the worker right after it
  /// returns, before the future is done. Throws std::runtime_error after shutdown.
  template <class Function, class... Args>
    requires detail::thread_callable<Function, Args...>
  [[nodiscard]] concurrent_future<detail::thread_result_t<Function, Args...>> submit(
      Function&& function, Args&&... args) {
    using result_type = detail::thread_result_t<Function, Args...>;
    using call_type = detail::pool_call<result_type, std::decay_t<Function>, std::decay_t<Args>...>;
    auto* call = new call_type(std::forward<Function>(function), std::forward<Args>(args)...);
    concurrent_future<result_type> result(
        detail::concurrent_ref<detail::concurrent_state<result_type>>::adopt(call));
    try {
      detail::enqueue(*this, *call);
    } catch (...) {
      call->release();  // the executor's reference; `result` drops the other
      throw;
    }
    return result;
  }

  /// Executor.shutdown: no new calls are accepted (submit, to_thread and run_in_executor throw
  /// std::runtime_error). Calls already queued still run, unless cancel_futures: then they are
  /// cancelled (their futures and awaiters get cancelled_error). With wait, blocks until every
  /// worker has finished (a worker thread calling it does not wait for itself). Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false);

  [[nodiscard]] std::size_t max_workers() const noexcept;

 private:
  friend void detail::enqueue(thread_pool_executor& executor, detail::thread_work& work);

  std::shared_ptr<detail::executor_core> core_;  ///< shared with the worker threads
};

/// Runs `function(args...)` on the running loop's default executor and yields its result
/// (asyncio.to_thread): `int n = co_await eddy::to_thread(count_lines, path);`.
///
/// Lazy: the call is queued when the awaiter is awaited, not before. The function and the
/// arguments are copied or moved into the call (never referenced: a temporary or a local of
/// a frame that goes away is safe); pass std::ref(x) / std::cref(x) to share x on purpose,
/// which must then outlive the call. They are destroyed on the worker right after the call.
/// The result comes back by value (a reference result is copied); an exception the function
/// throws is rethrown from the co_await. Throws std::logic_error outside an eddy task and
/// std::runtime_error once the default executor is shut down.
///
/// Cancel safety: cancelling the awaiting task ends the await at once with cancelled_error.
/// A call still waiting for a worker never runs; a call already running cannot be stopped:
/// it finishes on its thread and its result or exception is destroyed when it arrives.
///
/// On GCC 12, a lambda with captures (or an aggregate) passed as an rvalue is refused at
/// compile time, since to_thread is awaited in the expression that makes it and GCC 12
/// destroys such a temporary twice there (docs/coroutine-lifetimes.md, trap 5): pass the
/// captures as arguments, or name the lambda and pass the name.
template <class Function, class... Args>
  requires detail::thread_callable<Function, Args...>
[[nodiscard]] detail::to_thread_awaiter<detail::thread_result_t<Function, Args...>> to_thread(
    Function&& function, Args&&... args) {
  static_assert(
      !detail::gcc12_destroys_any_twice<Function, Args...>,
      "eddy::to_thread: GCC 12 destroys twice a lambda with captures (or an aggregate) created "
      "inside a co_await expression (docs/coroutine-lifetimes.md, trap 5). Pass what it captures "
      "as arguments: co_await eddy::to_thread([](const std::string& p) { ... }, path); or name "
      "it first and pass the name: auto work = [path] { ... }; co_await eddy::to_thread(work);");
  return {new detail::worker_call_for<Function, Args...>(std::forward<Function>(function),
                                                         std::forward<Args>(args)...),
          nullptr};
}

/// Runs `function(args...)` on `executor` (nullptr: the running loop's default executor)
/// and returns a future of its result, on the running loop (asyncio's loop.run_in_executor).
/// Unlike to_thread, the call is queued at once. Arguments as for to_thread. Throws
/// std::runtime_error when no loop is running or the executor is shut down.
///
/// Cancel safety: cancelling the future (or a task awaiting it, which cancels the future)
/// keeps a queued call from running; a running call finishes and its outcome is dropped.
///
/// On GCC 12, do not write a lambda with captures inside the co_await itself (`co_await
/// eddy::run_in_executor(nullptr, [path] {...})`): GCC 12 destroys that closure twice
/// (docs/coroutine-lifetimes.md, trap 5). `auto f = run_in_executor(nullptr, [path] {...});`
/// is fine, which is why this is not refused at compile time as it is for to_thread. Pass the
/// captures as arguments instead.
template <class Function, class... Args>
  requires detail::thread_callable<Function, Args...>
[[nodiscard]] future<detail::thread_result_t<Function, Args...>> run_in_executor(
    thread_pool_executor* executor, Function&& function, Args&&... args) {
  return get_running_loop().run_in_executor(executor, std::forward<Function>(function),
                                            std::forward<Args>(args)...);
}

/// Schedules `body` as a task on `loop` from any thread and returns a thread-safe future of
/// its outcome (asyncio.run_coroutine_threadsafe). The loop may be running in another thread
/// (or be this thread's, though blocking on the future there would deadlock). cancel() on the
/// future cancels the task on the loop. If the loop closes before the task finishes, the
/// future is cancelled. Throws std::runtime_error if the loop is already closed.
template <class T>
[[nodiscard]] concurrent_future<T> run_coroutine_threadsafe(coro<T> body, event_loop& loop) {
  if (!body) {
    throw invalid_state_error(
        "run_coroutine_threadsafe: the coro is empty (moved from or already awaited)");
  }
  auto* call = new detail::coroutine_call<T>(std::move(body), detail::core_of(loop));
  concurrent_future<T> result(detail::concurrent_ref<detail::concurrent_state<T>>::adopt(call));
  call->post_start();
  return result;
}

}  // namespace eddy
