// event_loop: construction, the iteration, run/stop/close, errors.
#include "eddy/loop.hpp"

#include <fmt/format.h>

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "backend/backend.hpp"
#include "describe.hpp"
#include "dump_signal.hpp"
#include "eddy/call_graph.hpp"

namespace eddy {

namespace {

backend_kind backend_from_environment() {
  const char* value = std::getenv("EDDY_BACKEND");
  std::string_view name = value == nullptr ? std::string_view() : std::string_view(value);
  if (name.empty() || name == "auto" || name == "automatic") {
    return backend_kind::automatic;
  }
  if (name == "uring" || name == "io_uring") {
    return backend_kind::uring;
  }
  if (name == "epoll") {
    return backend_kind::epoll;
  }
  throw std::invalid_argument(
      fmt::format("EDDY_BACKEND must be uring, epoll or auto, not '{}'", name));
}

/// A boolean switch from the environment: set, not empty and not "0".
bool switch_from_environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' && std::string_view(value) != "0";
}

/// How long close() waits for the kernel to hand back cancelled operations' buffers.
constexpr auto drain_limit = std::chrono::seconds(10);

}  // namespace

event_loop::event_loop(loop_options options) {
  backend_kind kind = options.backend == backend_kind::from_environment ? backend_from_environment()
                                                                        : options.backend;
  if (options.virtual_time) {
    if (options.virtual_time->jump_after_idle.get() < clock::duration::zero()) {
      throw std::invalid_argument("loop_options: virtual_clock::jump_after_idle is negative");
    }
    virtual_time_ = true;
    // On a whole millisecond, the timer wheel's tick: deadlines a whole number of ms away then
    // read back exactly.
    virtual_now_ = std::chrono::ceil<std::chrono::milliseconds>(clock::now());
    virtual_limit_ = virtual_now_ + std::chrono::hours(24 * 365 * 50);
    jump_after_idle_ = options.virtual_time->jump_after_idle.get();
  }
  backend_ = detail::make_backend(kind);
  debug_ = options.debug.value_or(switch_from_environment("EDDY_DEBUG"));
  eager_tasks_ = options.eager_task_factory.value_or(switch_from_environment("EDDY_EAGER_TASKS"));
  threads_ = detail::make_loop_threads(*this);
  try {
    detail::install_dump_signal(*this, options.dump_signal);
  } catch (...) {
    close();  // the destructor does not run for a constructor that throws
    throw;
  }
}

event_loop::~event_loop() {
  if (running_) {
    std::fputs("eddy: an event loop was destroyed while running\n", stderr);
    std::abort();
  }
  close();
}

std::string_view event_loop::backend_name() const noexcept {
  return backend_ ? backend_->name() : std::string_view("closed");  // close() drops the backend
}

void event_loop::check_can_run() const {
  if (closed_) {
    throw std::runtime_error("run_forever: the event loop is closed");
  }
  if (running_) {
    throw std::runtime_error("run_forever: this event loop is already running");
  }
  if (detail::running_loop_on_thread != nullptr) {
    throw std::runtime_error("Cannot run the event loop while another loop is running");
  }
}

void event_loop::run_forever() {
  check_can_run();
  struct running_scope {
    event_loop& loop;
    // A loop run inside context::run (`ctx.run([&] { loop.run_until_complete(...); })`): the
    // tasks it steps run in their own contexts, not in the run's (see task_base.hpp's
    // current_context); the tasks created before the run already copied it.
    detail::context_cell** outer_context;
    explicit running_scope(event_loop& running)
        : loop(running), outer_context(std::exchange(detail::current_context_slot, nullptr)) {
      loop.running_ = true;
      loop.owner_thread_ = std::this_thread::get_id();
      detail::running_loop_on_thread = &loop;
    }
    ~running_scope() {
      loop.running_ = false;
      loop.stopping_ = false;
      loop.owner_thread_ = {};
      detail::running_loop_on_thread = nullptr;
      detail::current_context_slot = outer_context;
    }
  } scope(*this);
  for (;;) {
    run_once();
    if (stopping_) {
      break;
    }
  }
}

void event_loop::run_once() {
  if (threadsafe_pending_.load(std::memory_order_acquire)) [[unlikely]] {
    take_threadsafe_nodes();
  }

  if (!ready_.empty() || stopping_) {
    backend_->poll(std::chrono::nanoseconds::zero());
  } else {
    wait_for_work();
  }

  // Read the clock only when a timer could be due: a loop with no timers stays syscall- and
  // clock-free while it has ready work.
  if (!timers_.empty()) {
    fire_due_timers();
  }

  detail::ready_node* node = ready_.take_all();
  if (debug_) [[unlikely]] {
    run_ready_in_debug_mode(node);
    return;
  }
  while (node != nullptr) {
    detail::ready_node* next = node->next_ready;
    node->run(*node);
    node = next;
  }
}

void event_loop::wait_for_work() {
  if (thread_call_started_) [[unlikely]] {
    thread_call_started_ = false;
    if (thread_calls_in_flight_ == 1 && yield_to_thread_call()) {
      backend_->poll(std::chrono::nanoseconds::zero());
      return;
    }
  }
  std::chrono::nanoseconds timeout(-1);
  if (!timers_.empty()) {
    if (!virtual_time_) {
      timeout = std::max(
          std::chrono::nanoseconds::zero(),
          std::chrono::ceil<std::chrono::nanoseconds>(timers_.next_wakeup() - clock::now()));
    } else if (timers_.next_wakeup() <= virtual_limit_) {
      timeout = virtual_patience();
    }  // else the next timer is "never" (see jump_if_still_idle): block as a real loop would
  }
  blocked_.store(true, std::memory_order_seq_cst);
  if (threadsafe_pending_.load(std::memory_order_seq_cst)) {
    timeout = std::chrono::nanoseconds::zero();  // a node came in without waking us
  }
  backend_->poll(timeout);
  blocked_.store(false, std::memory_order_relaxed);
  if (virtual_time_ && !timers_.empty()) {
    jump_if_still_idle();
  }
}

std::chrono::nanoseconds event_loop::virtual_patience() const noexcept {
  // With nothing in flight nothing can arrive: jump at once, whatever the patience.
  const bool awaiting_something = backend_->in_flight() > 0 || thread_calls_in_flight_ > 0;
  return awaiting_something ? jump_after_idle_ : std::chrono::nanoseconds::zero();
}

void event_loop::jump_if_still_idle() noexcept {
  // Completions the poll delivered have queued their tasks, and a thread's result raises
  // threadsafe_pending_: either means the loop was not idle after all.
  // A deadline past virtual_limit_ (sleep(hours::max()) is 100 years away) is never reached:
  // a few such jumps would overflow the clock, and a real loop would just wait there.
  const clock::time_point next = timers_.next_wakeup();
  if (next <= virtual_limit_ && ready_.empty() &&
      !threadsafe_pending_.load(std::memory_order_acquire)) {
    virtual_now_ = std::max(virtual_now_, next);
  }
}

bool event_loop::yield_to_thread_call() noexcept {
  // The loop has nothing to do but wait for the one call it just handed to a worker, which is
  // usually back within a few microseconds. Blocking in the kernel would make the worker's
  // hand-back a system call (the wake-up) and the loop's return a second one; yielding lets a
  // worker that shares this CPU run at once, and while the loop is not blocked the worker
  // hands back without waking it. A call that takes longer costs the loop these few yields,
  // once. With more calls in flight the loop blocks at once: results then arrive in batches
  // that one wake-up serves, and yielding would only split them into smaller ones.
  constexpr int rounds = 4;
  for (int round = 0; round < rounds; ++round) {
    sched_yield();
    if (threadsafe_pending_.load(std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}

void event_loop::fire_due_timers() {
  timers_.expire(now(), [](detail::timer_node& due) { due.fire(due); });
}

void event_loop::take_threadsafe_nodes() {
  std::vector<detail::ready_node*> arrived;
  {
    std::lock_guard guard(threadsafe_mutex_);
    arrived.swap(threadsafe_nodes_);
    threadsafe_pending_.store(false, std::memory_order_relaxed);
  }
  for (detail::ready_node* node : arrived) {
    schedule(*node);
  }
}

namespace {

/// Where a task step starts, read before it runs (the step may finish the task and free it):
/// its name, and the co_await it resumes from or, for a first step, the coroutine it starts.
struct step_origin {
  std::string task_name;
  std::source_location where;
  bool first = false;
};

step_origin origin_of(const detail::task_base& task) {
  step_origin origin{task.get_name(), {}, !task.started()};
  if (const detail::frame_record* frame = task.innermost_frame()) {
    origin.where = frame->where;
  }
  return origin;
}

std::string slow_step_message(const step_origin* origin, clock::duration took) {
  const double seconds = std::chrono::duration<double>(took).count();
  if (origin == nullptr) {
    return fmt::format("Executing a callback took {:.3f} seconds", seconds);
  }
  std::string message =
      fmt::format("Executing a step of task '{}' took {:.3f} seconds", origin->task_name, seconds);
  if (origin->where.line() != 0) {
    message += fmt::format(" ({} {} at {}:{})", origin->first ? "started" : "resumed in",
                           detail::coroutine_name(origin->where.function_name()),
                           origin->where.file_name(), origin->where.line());
  }
  return message;
}

}  // namespace

void event_loop::set_slow_callback_duration(duration_arg limit) {
  if (limit.get() < clock::duration::zero()) {
    throw std::invalid_argument("set_slow_callback_duration: the duration is negative");
  }
  slow_callback_duration_ = limit.get();
}

void event_loop::run_ready_in_debug_mode(detail::ready_node* node) {
  while (node != nullptr) {
    detail::ready_node* next = node->next_ready;
    detail::task_base* task = detail::task_base::task_of(*node);
    std::optional<step_origin> origin;
    if (task != nullptr) {
      origin = origin_of(*task);
    }
    clock::time_point started = clock::now();
    node->run(*node);
    auto took = clock::now() - started;
    if (took > slow_callback_duration_) {
      call_exception_handler({slow_step_message(origin ? &*origin : nullptr, took), nullptr,
                              origin ? origin->task_name : std::string()});
    }
    node = next;
  }
}

void event_loop::run_until_done(detail::future_base& awaited) {
  if (&awaited.loop() != this) {
    throw std::invalid_argument("run_until_complete: the task or future belongs to another loop");
  }
  struct stop_link : detail::done_link {
    event_loop* loop;
  } link;
  link.loop = this;
  link.on_done = [](detail::done_link& done, detail::future_base&) noexcept {
    static_cast<stop_link&>(done).loop->stop();
  };
  if (awaited.done()) {
    stop();
  } else {
    awaited.add_done_link(link);
  }
  struct unlink_guard {
    detail::future_base& awaited;
    detail::done_link& link;
    ~unlink_guard() { awaited.remove_done_link(link); }
  } guard{awaited, link};
  run_forever();
  if (!awaited.done()) {
    throw std::runtime_error("Event loop stopped before Future completed.");
  }
}

std::vector<any_task> event_loop::pending_tasks() const {
  std::vector<any_task> tasks;
  tasks.reserve(pending_task_count_);
  for (std::size_t each = 0; each < task_slots_used_; ++each) {
    if (detail::task_base* task = task_slots_[each]) {
      tasks.emplace_back(task);
    }
  }
  return tasks;
}

void event_loop::close() {
  if (running_) {
    throw std::runtime_error("Cannot close a running event loop");
  }
  if (closed_) {
    return;
  }
  {
    std::lock_guard guard(threadsafe_mutex_);
    closed_ = true;
  }
  wait_for_wakers();  // no other thread is inside backend_->wake() from here on
  // No more completions from other threads; the default executor is shut down without
  // waiting for its workers (asyncio's close()).
  detail::loop_closing(*threads_);

  // 1. Take every operation back from the kernel before any frame that it points into is freed.
  for (auto* watches : {&readers_, &writers_}) {
    for (fd_watch* watch : *watches) {
      if (watch != nullptr) {
        retire_watch(*watch);
      }
    }
  }
  readers_.clear();
  writers_.clear();
  signals_.reset();  // restores every signal's disposition; its pipe watch was retired above
  backend_->cancel_all();
  auto give_up = clock::now() + drain_limit;
  while (backend_->in_flight() > 0 && clock::now() < give_up) {
    backend_->poll(std::chrono::milliseconds(100));
  }
  if (backend_->in_flight() > 0) {
    // Freeing the frames now could let the kernel write into reused memory: leak them instead.
    call_exception_handler(
        {"close(): the kernel did not return every cancelled operation; "
         "pending tasks and the backend are leaked",
         nullptr,
         {}});
    static_cast<void>(backend_.release());
    return;
  }

  // 2. Everything armed or queued is released without running.
  timers_.drain([](detail::timer_node& timer) { timer.fire(timer); });
  discard_ready_nodes();

  // 3. Tasks that never finished.
  release_pending_tasks();
  discard_ready_nodes();
  backend_.reset();
}

void event_loop::discard_ready_nodes() noexcept {
  std::vector<detail::ready_node*> arrived;
  {
    std::lock_guard guard(threadsafe_mutex_);
    arrived.swap(threadsafe_nodes_);
  }
  for (detail::ready_node* node : arrived) {
    schedule(*node);
  }
  while (!ready_.empty()) {
    detail::ready_node* node = ready_.take_all();
    while (node != nullptr) {
      detail::ready_node* next = node->next_ready;
      node->run(*node);  // every kind of node only releases itself on a closed loop
      node = next;
    }
  }
}

void event_loop::release_pending_tasks() noexcept {
  std::vector<any_task> leftovers = pending_tasks();
  for (any_task& task : leftovers) {
    call_exception_handler({"Task was destroyed but it is pending!", nullptr, task.get_name()});
    task.state()->abandon();
  }
}

void event_loop::default_exception_handler(const exception_context& context) noexcept {
  try {
    std::string report = fmt::format("eddy: {}\n", context.message);
    if (!context.task_name.empty()) {
      report += fmt::format("  task: {}\n", context.task_name);
    }
    if (context.exception) {
      report += fmt::format("  exception: {}\n", detail::describe_exception(context.exception));
    }
    std::fputs(report.c_str(), stderr);
  } catch (...) {
    std::fputs("eddy: an error occurred, and describing it failed\n", stderr);
  }
}

namespace {
coro<void> send_everything(int fd, std::string_view data) {
  while (!data.empty()) {
    std::size_t sent =
        co_await detail::send_awaiter(fd, std::as_bytes(std::span(data.data(), data.size())));
    data.remove_prefix(sent);
  }
}
}  // namespace

coro<void> event_loop::sock_sendall(const socket& sock, std::string_view data) {
  // Not itself a coroutine: the descriptor is read now, so the returned coro does not refer
  // to `sock` (only `data` must outlive it).
  return send_everything(sock.fd(), data);
}

event_loop& get_running_loop() {
  detail::loop_core* loop = detail::running_loop_on_thread;
  if (loop == nullptr) {
    throw std::runtime_error("no running event loop");
  }
  return loop->public_loop();
}

any_task current_task() noexcept { return any_task(detail::running_task_on_thread); }

std::vector<any_task> all_tasks() { return get_running_loop().pending_tasks(); }

namespace detail {

loop_core& loop_for_new_task() {
  loop_core* loop = running_loop_on_thread;
  if (loop == nullptr) {
    throw std::runtime_error(
        "create_task: no running event loop (use eddy::run, or loop.create_task)");
  }
  return *loop;
}

loop_core& loop_for_new_future() {
  loop_core* loop = running_loop_on_thread;
  if (loop == nullptr) {
    throw std::runtime_error("future: no running event loop (use loop.create_future)");
  }
  return *loop;
}

}  // namespace detail

}  // namespace eddy
