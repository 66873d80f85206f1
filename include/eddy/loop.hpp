// eddy::event_loop: one per thread; runs tasks and callbacks, timers and I/O
// (asyncio's AbstractEventLoop, low-level API included).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/detail/callback_node.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/thread_call.hpp"
#include "eddy/exception_context.hpp"
#include "eddy/future.hpp"
#include "eddy/loop_options.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/detail/datagram_awaiter.hpp"
#include "eddy/net/detail/io_awaiter.hpp"
#include "eddy/net/socket.hpp"
#include "eddy/signal.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"

namespace eddy {

/// What call_soon and call_soon_threadsafe return (asyncio.Handle): cancel() stops a callback
/// that has not run yet. A shared handle; dropping it does not cancel.
class handle {
 public:
  handle() noexcept = default;
  explicit handle(detail::callback_node* node) noexcept : node_(node) {}  // adopts a reference
  handle(const handle& other) noexcept : node_(other.node_) {
    if (node_ != nullptr) {
      node_->add_ref();
    }
  }
  handle(handle&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  handle& operator=(handle other) noexcept {
    std::swap(node_, other.node_);
    return *this;
  }
  ~handle() {
    if (node_ != nullptr) {
      node_->release();
    }
  }

  /// Prevents the callback from running if it has not run yet. Safe from any thread for
  /// call_soon_threadsafe handles; on the loop's thread for the others.
  void cancel() noexcept {
    if (node_ != nullptr) {
      node_->cancel();
    }
  }
  [[nodiscard]] bool cancelled() const noexcept { return node_ != nullptr && node_->cancelled(); }
  explicit operator bool() const noexcept { return node_ != nullptr; }

 protected:
  detail::callback_node* node_ = nullptr;
};

/// What call_later and call_at return (asyncio.TimerHandle). Cancelling removes the timer.
class timer_handle : public handle {
 public:
  using handle::handle;
  /// When the callback is (or was) due. Throws invalid_state_error for an empty handle.
  [[nodiscard]] clock::time_point when() const {
    if (node_ == nullptr) {
      throw invalid_state_error("timer_handle::when: the handle is empty");
    }
    return node_->deadline;
  }
};

/// The exception handler's type: called on the loop thread with the loop and the context.
using exception_handler = std::function<void(class event_loop&, const exception_context&)>;

/// An event loop (asyncio's). Create one per thread, or let run()/runner make it.
///
/// Everything here must be called on the loop's thread except the *_threadsafe functions;
/// debug mode checks that. Methods that schedule throw std::runtime_error on a closed loop.
///
/// Ordering guarantees: the ready queue is FIFO; what is scheduled while an iteration runs
/// its callbacks runs in the next iteration; timers with equal deadlines fire in the order
/// they were scheduled.
class event_loop : private detail::loop_core {
 public:
  /// Creates the backend (see loop_options). Throws std::system_error if the requested backend
  /// cannot start, std::invalid_argument for a bad EDDY_BACKEND value or a negative
  /// virtual_clock::jump_after_idle.
  explicit event_loop(loop_options options = {});
  /// Closes the loop if it is not closed. Must not be running.
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // --- callbacks and time -------------------------------------------------------------------

  /// Runs `callback(args...)` in the next iteration, after what is already queued (FIFO), as
  /// asyncio's `loop.call_soon(callback, *args)`. The loop owns copies (or the moved
  /// originals) of the callback and the arguments until it has run or been cancelled, so a
  /// lambda with captures and arguments from a scope that has ended are fine. An exception it
  /// throws goes to the exception handler. Throws std::runtime_error on a closed loop
  /// (std::bad_alloc if the callback cannot be stored); a callback that cannot be called with
  /// the arguments does not compile.
  template <class Callback, class... Args>
  handle call_soon(Callback&& callback, Args&&... args) {
    check_usable("call_soon");
    auto bound =
        detail::bind_callback(std::forward<Callback>(callback), std::forward<Args>(args)...);
    auto* node = new detail::callback_impl<decltype(bound)>(*this, std::move(bound));
    node->add_ref();  // the loop's reference, dropped after it runs
    schedule(*node);
    return handle(node);
  }

  /// Runs `callback(args...)` once `delay` has passed (a delay <= 0 runs it in the next
  /// iteration); any std::chrono duration, `0.5s` included. Owns callback and arguments as
  /// call_soon does. Throws as call_soon, and std::invalid_argument for a NaN delay.
  template <class Rep, class Period, class Callback, class... Args>
  timer_handle call_later(std::chrono::duration<Rep, Period> delay, Callback&& callback,
                          Args&&... args) {
    return call_at(time() + detail::to_clock_duration(delay), std::forward<Callback>(callback),
                   std::forward<Args>(args)...);
  }

  /// Runs `callback(args...)` at `when` on the loop's clock (see time()); a time already past
  /// runs it in the next iteration. Owns callback and arguments as call_soon does.
  template <class Callback, class... Args>
  timer_handle call_at(clock::time_point when, Callback&& callback, Args&&... args) {
    check_usable("call_at");
    auto bound =
        detail::bind_callback(std::forward<Callback>(callback), std::forward<Args>(args)...);
    auto* node = new detail::callback_impl<decltype(bound)>(*this, std::move(bound));
    node->add_ref();
    node->deadline = when;
    add_timer(*node);
    return timer_handle(node);
  }

  /// call_soon from any thread: wakes the loop if it is blocked waiting for I/O. The returned
  /// handle can be cancelled from any thread. Throws std::runtime_error on a closed loop.
  template <class Callback, class... Args>
  handle call_soon_threadsafe(Callback&& callback, Args&&... args) {
    auto bound =
        detail::bind_callback(std::forward<Callback>(callback), std::forward<Args>(args)...);
    auto* node = new detail::callback_impl<decltype(bound)>(*this, std::move(bound));
    node->add_ref();
    try {
      schedule_threadsafe(*node);
    } catch (...) {
      node->release();
      node->release();
      throw;
    }
    return handle(node);
  }

  /// The loop's clock (loop.time()): monotonic, or virtual (loop_options::virtual_time).
  [[nodiscard]] clock::time_point time() const noexcept { return now(); }

  // --- running -----------------------------------------------------------------------------

  /// Runs until `main` (made a task) is done; returns its value or rethrows its exception.
  /// Throws std::runtime_error if the loop is closed or already running, or if stop() ends
  /// the loop before the task is done.
  template <class T>
  T run_until_complete(coro<T> main) {
    check_can_run();  // before the coroutine becomes a task on this loop
    return run_until_complete(create_task(std::move(main)));
  }
  /// Same, for a task or future already made.
  template <class Awaitable>
    requires requires(Awaitable a) { a.state()->done(); }
  typename Awaitable::value_type run_until_complete(Awaitable awaited) {
    run_until_done(*awaited.state());
    using value_type = typename Awaitable::value_type;
    if constexpr (std::is_void_v<value_type>) {
      awaited.result();
    } else if constexpr (!std::is_copy_constructible_v<value_type>) {
      return std::move(awaited.result());
    } else {
      return awaited.result();
    }
  }

  /// Runs until stop() is called. Throws std::runtime_error if closed or already running, or
  /// if another loop is running on this thread.
  void run_forever();
  /// Ends run_forever() after the current iteration's callbacks (or, if called before it,
  /// after one iteration).
  void stop() noexcept { stopping_ = true; }
  [[nodiscard]] bool is_running() const noexcept { return running_; }
  [[nodiscard]] bool is_closed() const noexcept { return closed_; }
  /// Closes the loop: stops every I/O operation (waiting for the kernel to let go of its
  /// buffers), drops pending callbacks and timers, and destroys tasks that are still pending
  /// (each reported as "Task was destroyed but it is pending!"). Idempotent. Throws
  /// std::runtime_error if the loop is running.
  void close();

  // --- tasks and futures -------------------------------------------------------------------

  /// Schedules `body` as a task on this loop (see eddy::create_task).
  template <class T>
  task<T> create_task(coro<T>&& body) {
    return detail::spawn_task(*this, std::move(body));
  }
  template <class T, detail::task_name Name>
  task<T> create_task(coro<T>&& body, Name&& name) {
    return detail::spawn_task(*this, std::move(body), std::string(std::forward<Name>(name)));
  }
  /// With a name and eager start (see eddy::task_options).
  template <class T>
  task<T> create_task(coro<T>&& body, task_options options) {
    return detail::spawn_task(*this, std::move(body), std::move(options));
  }
  /// A named coro is moved into its task: `loop.create_task(std::move(c))`.
  template <class T>
  task<T> create_task(coro<T>& body, std::string name = {}) {
    static_assert(detail::always_false<T>,
                  "create_task: a coro is consumed by its task: write create_task(std::move(c))");
    return create_task(std::move(body), std::move(name));
  }
  /// A task on this loop awaiting any awaitable (see eddy::create_task).
  template <class Awaitable>
    requires detail::task_awaitable<Awaitable>
  auto create_task(Awaitable&& awaitable) {
    return create_task(detail::body_for(std::forward<Awaitable>(awaitable)));
  }
  template <class Awaitable, detail::task_name Name>
    requires detail::task_awaitable<Awaitable>
  auto create_task(Awaitable&& awaitable, Name&& name) {
    return create_task(detail::body_for(std::forward<Awaitable>(awaitable)),
                       std::string(std::forward<Name>(name)));
  }
  template <class Awaitable>
    requires detail::task_awaitable<Awaitable>
  auto create_task(Awaitable&& awaitable, task_options options) {
    return create_task(detail::body_for(std::forward<Awaitable>(awaitable)), std::move(options));
  }
  /// A task on this loop running `callable(args...)`, both owned by the task (see
  /// eddy::create_task).
  template <class Callable, class... Args>
    requires detail::task_callable<Callable, Args...>
  auto create_task(Callable&& callable, Args&&... args) {
    return create_task(
        detail::body_for_call(std::forward<Callable>(callable), std::forward<Args>(args)...));
  }
  template <class Callable>
    requires detail::task_callable<Callable>
  auto create_task(Callable&& callable, task_options options) {
    return create_task(detail::body_for_call(std::forward<Callable>(callable)), std::move(options));
  }
  /// A pending future on this loop.
  template <class T = void>
  future<T> create_future() {
    check_usable("create_future");
    return future<T>(static_cast<detail::loop_core&>(*this));
  }
  /// Tasks on this loop that are not done yet.
  [[nodiscard]] std::vector<any_task> pending_tasks() const;

  // --- threads (eddy/thread.hpp) -----------------------------------------------------------

  /// Runs `function(args...)` on `executor` (nullptr: this loop's default executor) and
  /// returns a future of its result (asyncio's loop.run_in_executor); see eddy/thread.hpp.
  template <class Function, class... Args>
    requires detail::thread_callable<Function, Args...>
  [[nodiscard]] future<detail::thread_result_t<Function, Args...>> run_in_executor(
      thread_pool_executor* executor, Function&& function, Args&&... args) {
    return detail::start_in_executor(*this, executor, std::forward<Function>(function),
                                     std::forward<Args>(args)...);
  }
  /// Replaces the executor that to_thread and run_in_executor(nullptr, ...) use; the loop
  /// shares ownership. Otherwise one with thread_pool_executor::default_max_workers() workers
  /// is made on first use. Throws std::invalid_argument for a null executor.
  void set_default_executor(std::shared_ptr<thread_pool_executor> executor);
  /// Shuts the default executor down, letting the loop run while its workers finish (asyncio's
  /// loop.shutdown_default_executor; eddy::run and runner::close do it). Afterwards to_thread
  /// and run_in_executor(nullptr, ...) throw std::runtime_error.
  [[nodiscard]] coro<void> shutdown_default_executor();

  // --- errors and debug --------------------------------------------------------------------

  /// Replaces the handler for errors that have no caller; an empty one restores the default.
  void set_exception_handler(exception_handler handler) { exception_handler_ = std::move(handler); }
  [[nodiscard]] const exception_handler& get_exception_handler() const noexcept {
    return exception_handler_;
  }
  /// The default: prints the context to stderr.
  void default_exception_handler(const exception_context& context) noexcept;
  /// Calls the handler (or the default); a handler that throws is reported by the default.
  using loop_core::call_exception_handler;

  [[nodiscard]] bool get_debug() const noexcept { return debug_; }
  void set_debug(bool enabled) noexcept { debug_ = enabled; }
  /// How long a callback or task step may run before debug mode reports it (asyncio's
  /// loop.slow_callback_duration; default 100 ms).
  [[nodiscard]] std::chrono::nanoseconds slow_callback_duration() const noexcept {
    return slow_callback_duration_;
  }
  /// Throws std::invalid_argument for a negative duration.
  void set_slow_callback_duration(duration_arg limit);
  /// loop_options::eager_task_factory, read and changed at run time (asyncio's
  /// set_task_factory(eager_task_factory) and set_task_factory(None)).
  [[nodiscard]] bool get_eager_task_factory() const noexcept { return eager_tasks_; }
  void set_eager_task_factory(bool enabled) noexcept { eager_tasks_ = enabled; }
  /// "uring" or "epoll"; "closed" once the loop is closed.
  [[nodiscard]] std::string_view backend_name() const noexcept;
  /// Whether file operations (eddy/file.hpp) are io_uring operations on this loop (true), or
  /// run on the default executor (false: the epoll backend, or a kernel without the file
  /// opcodes). Results and errors are the same either way.
  [[nodiscard]] bool native_file_ops() const noexcept;

  // --- low-level socket operations (asyncio's loop.sock_*) ---------------------------------
  // Each awaits one operation on a non-blocking socket and throws std::system_error with the
  // errno on failure. Cancel safety is io_awaiter_base's: cancelling is prompt; on io_uring the
  // task resumes only after the kernel has let go of the buffer; a result that arrived before
  // the cancel took effect is delivered and the cancel is thrown at the next await.

  /// Receives up to max_bytes; an empty string means the peer closed.
  [[nodiscard]] detail::recv_awaiter sock_recv(const socket& sock, std::size_t max_bytes) {
    return detail::recv_awaiter(sock.fd(), max_bytes);
  }
  /// Receives into `buffer` (which must stay alive until the await ends); returns the count,
  /// 0 when the peer closed.
  [[nodiscard]] detail::recv_into_awaiter sock_recv_into(const socket& sock,
                                                         std::span<std::byte> buffer) noexcept {
    return detail::recv_into_awaiter(sock.fd(), buffer, 0);
  }
  [[nodiscard]] detail::recv_into_awaiter sock_recv_into(const socket& sock,
                                                         std::span<char> buffer) noexcept {
    return detail::recv_into_awaiter(sock.fd(), std::as_writable_bytes(buffer), 0);
  }
  /// Sends once; returns how many bytes the kernel took.
  [[nodiscard]] detail::send_awaiter sock_send(const socket& sock, std::string_view data) noexcept {
    return detail::send_awaiter(sock.fd(), std::as_bytes(std::span(data.data(), data.size())));
  }
  /// Sends all of `data` (which must stay alive until the await ends). If cancelled part way,
  /// an unknown prefix has been sent (as asyncio).
  [[nodiscard]] coro<void> sock_sendall(const socket& sock, std::string_view data);
  /// Accepts a connection: the new socket (non-blocking, close-on-exec) and the peer address.
  [[nodiscard]] detail::accept_awaiter sock_accept(const socket& listener) noexcept {
    return detail::accept_awaiter(listener.fd());
  }
  /// Connects to `target` (a literal address; see address::parse). A Unix listener whose
  /// backlog is full refuses at once with std::system_error(EAGAIN), on both backends: the
  /// kernel gives no readiness for room in it (asyncio's selector loop waits for writability
  /// and then wrongly reports success). open_unix_connection retries such a refusal.
  [[nodiscard]] detail::connect_awaiter sock_connect(const socket& sock,
                                                     const address& target) noexcept {
    return detail::connect_awaiter(sock.fd(), target);
  }
  /// Sends `data` (alive until the await ends) as one datagram to `target` (copied); yields
  /// the bytes sent. For datagram sockets; see also eddy::datagram_socket (net/datagram.hpp).
  [[nodiscard]] detail::sendto_awaiter sock_sendto(const socket& sock, std::string_view data,
                                                   const address& target) noexcept {
    return {sock.fd(), std::as_bytes(std::span(data.data(), data.size())), &target, nullptr,
            "sock_sendto"};
  }
  /// Receives one datagram of at most max_bytes: {data, from, truncated}. Throws
  /// std::invalid_argument if max_bytes is 0.
  [[nodiscard]] detail::recvfrom_awaiter sock_recvfrom(const socket& sock, std::size_t max_bytes) {
    if (max_bytes == 0) {
      throw std::invalid_argument("sock_recvfrom: max_bytes must be at least 1, got 0");
    }
    return {sock.fd(), max_bytes, nullptr, "sock_recvfrom"};
  }
  /// Receives one datagram into `buffer` (alive until the await ends): {size, from,
  /// truncated}. Throws std::invalid_argument for an empty buffer.
  [[nodiscard]] detail::recvfrom_into_awaiter sock_recvfrom_into(const socket& sock,
                                                                 std::span<std::byte> buffer) {
    if (buffer.empty()) {
      throw std::invalid_argument("sock_recvfrom_into: the buffer is empty");
    }
    return {sock.fd(), buffer, nullptr, "sock_recvfrom_into"};
  }

  // --- watching descriptors (asyncio's add_reader / add_writer) ----------------------------

  /// Calls `callback()` on the loop whenever fd is readable (level-triggered), until
  /// remove_reader(fd). Replaces an earlier reader of the same fd. Throws std::invalid_argument
  /// for a negative fd.
  void add_reader(int fd, std::function<void()> callback);
  /// Stops watching fd for reading; returns whether a reader was registered.
  bool remove_reader(int fd);
  /// As add_reader, for writability.
  void add_writer(int fd, std::function<void()> callback);
  bool remove_writer(int fd);

  // --- Unix signals (asyncio's add_signal_handler; how it works: eddy/signal.hpp) -----------

  /// Calls `callback()` on the loop's thread, as an ordinary callback, each time signal
  /// `signo` arrives (deliveries close together may be coalesced). Replaces this loop's earlier
  /// handler for the signal. Works from whichever thread the kernel delivers the signal to, and
  /// wakes the loop when it is blocked waiting for I/O. An exception the callback throws goes
  /// to the exception handler. Throws std::invalid_argument for a number that is not a signal,
  /// for SIGKILL and SIGSTOP, for a signal the C library reserves, and for an empty callback;
  /// std::runtime_error if another loop handles `signo` or this loop is closed.
  void add_signal_handler(int signo, std::function<void()> callback);
  /// Removes the handler of `signo` and restores the disposition the signal had before
  /// add_signal_handler. Returns whether a handler was registered. Throws
  /// std::invalid_argument for a number that is not a signal.
  bool remove_signal_handler(int signo);

 private:
  // The library reaches the loop's core (scheduling, I/O submission) through these; users
  // see only the members above.
  friend class detail::loop_core;
  friend detail::loop_core& detail::core_of(event_loop& loop) noexcept;
  class fd_watch;

  void run_once();
  /// run_once's other parts, out of line so that an iteration with ready work and nothing
  /// else saves and restores few registers.
  [[gnu::noinline]] void wait_for_work();  ///< polls, blocking until the next timer at most
  /// After a thread call was started: yields the CPU a few times; true once it came back.
  bool yield_to_thread_call() noexcept;
  /// Virtual clock: after a poll with timers pending, jumps the clock to the next deadline if
  /// nothing arrived.
  void jump_if_still_idle() noexcept;
  /// Virtual clock: how long the idle loop waits for I/O or threads before it jumps.
  [[nodiscard]] std::chrono::nanoseconds virtual_patience() const noexcept;
  [[gnu::noinline]] void fire_due_timers();
  [[gnu::noinline]] void take_threadsafe_nodes();
  [[gnu::noinline]] void run_ready_in_debug_mode(detail::ready_node* node);
  void run_until_done(detail::future_base& awaited);
  /// Throws std::runtime_error unless run_forever() could start now.
  void check_can_run() const;
  void add_watch(int fd, bool for_writing, std::function<void()> callback);
  bool remove_watch(int fd, bool for_writing);
  static void retire_watch(fd_watch& watch) noexcept;
  void release_pending_tasks() noexcept;
  void discard_ready_nodes() noexcept;

  std::vector<fd_watch*> readers_;  ///< indexed by fd; null when not watched
  std::vector<fd_watch*> writers_;

  friend detail::loop_threads& detail::threads_of(detail::loop_core& loop) noexcept;
  detail::loop_threads_ptr threads_;  ///< mailbox and default executor (src/loop_threads.hpp)

  friend bool detail::install_interrupt_handler(event_loop& loop,
                                                std::function<void()> on_interrupt);
  friend void detail::remove_interrupt_handler(event_loop& loop) noexcept;
  detail::loop_signals& signals();    ///< made on first use (src/signal.cpp)
  detail::loop_signals_ptr signals_;  ///< null until the first signal handler
};

/// The loop running on this thread (asyncio.get_running_loop). Throws std::runtime_error when
/// none is running.
event_loop& get_running_loop();

/// The task running on this thread, or an empty handle outside any task.
any_task current_task() noexcept;

/// The running loop's tasks that are not done (asyncio.all_tasks). Throws like
/// get_running_loop when no loop runs.
std::vector<any_task> all_tasks();

}  // namespace eddy
