// Printing eddy's objects: fmt::formatter specialisations and operator<< (std::ostream) that
// write what Python's asyncio repr() shows, so that `fmt::print("{}\n", task)` and
// `std::cout << task` say what a task, future, loop, queue, lock or stream is doing:
//
//     <task name='fetch' state=pending coro=fetch() at main.cpp:12 wait_for=<sleep>>
//     <future finished result=3>
//     <queue maxsize=0 _queue=[1, 2] tasks=2>
//     <lock [locked, waiters:1]>
//
// Each text is one line without a trailing newline; addresses are never printed. The fmt
// formatters take the format specification of a string ("{:>60}" pads the whole text). Every
// overload is found by argument-dependent lookup, so `std::cout << eddy_object` works from any
// namespace. Printing reads the object only: it retrieves no exception (a failed task printed
// is still reported as "never retrieved"), takes no item, wakes nobody. Loop thread, like the
// objects themselves; each may throw std::bad_alloc. docs/introspection.md shows each text.
//
// Included by <eddy/eddy.hpp>; it is the one eddy header that brings in <fmt/format.h> for
// users (it needs only <iosfwd> for std::ostream).
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <exception>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>

#include "eddy/errors.hpp"
#include "eddy/future.hpp"
#include "eddy/loop.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/server.hpp"
#include "eddy/net/stream.hpp"
#include "eddy/net/stream_errors.hpp"
#include "eddy/process.hpp"
#include "eddy/queue.hpp"
#include "eddy/sync/barrier.hpp"
#include "eddy/sync/condition.hpp"
#include "eddy/sync/event.hpp"
#include "eddy/sync/lock.hpp"
#include "eddy/sync/semaphore.hpp"
#include "eddy/task.hpp"

namespace eddy {

namespace detail {

// --- the texts (src/format.cpp, and the templates below) --------------------------------------

/// Python's repr() of a string: single-quoted, with \\, \', \n, \r, \t and other control
/// characters escaped ("\x1b"); bytes from 0x80 up are kept (UTF-8 reads as it is).
[[nodiscard]] std::string quote(std::string_view text);

/// "std::runtime_error: boom": the exception's dynamic type, demangled, and its what() (just
/// the type when what() is empty); "eddy::cancelled_error: why" for a cancellation;
/// "no exception" for a null pointer.
[[nodiscard]] std::string exception_repr(const std::exception_ptr& error);
[[nodiscard]] std::string exception_repr(const std::exception& error);

/// A task's text (null: an empty handle); `result` is the finished task's value as text, or
/// null when it is void or not formattable.
[[nodiscard]] std::string task_repr(const task_base* state, const std::string* result);
/// A future's text, as task_repr.
[[nodiscard]] std::string future_repr(const future_base* state, const std::string* result);

/// What a queue shows, gathered by queue_repr_of below.
struct queue_fields {
  std::string_view kind;  ///< "queue", "priority_queue", "lifo_queue"
  std::size_t maxsize = 0;
  const std::string* items = nullptr;  ///< "[1, 2]" when the items are formattable, else null
  std::size_t stored = 0;              ///< items in the storage, promised ones included
  std::size_t qsize = 0;
  std::size_t getters = 0;
  std::size_t putters = 0;
  std::size_t unfinished = 0;
  bool shut_down = false;
};
[[nodiscard]] std::string queue_repr(const queue_fields& fields);

/// Writes `text` to `out` (with the stream's width and fill, as a string would be).
std::ostream& write_repr(std::ostream& out, std::string_view text);

/// Whether fmt can format a V (a result is then printed, else left out); never for void.
template <class V>
struct formattable_value_trait : fmt::is_formattable<std::remove_cvref_t<V>> {};
template <>
struct formattable_value_trait<void> : std::false_type {};
template <class V>
inline constexpr bool formattable_value = formattable_value_trait<V>::value;

/// A value as asyncio's repr shows it: strings quoted (Python's 'text'), the rest as "{}".
template <class V>
[[nodiscard]] std::string value_repr(const V& value) {
  if constexpr (std::is_pointer_v<V> && std::is_convertible_v<V, std::string_view>) {
    return value == nullptr ? std::string("nullptr") : quote(std::string_view(value));
  } else if constexpr (std::is_convertible_v<const V&, std::string_view>) {
    return quote(std::string_view(value));
  } else if constexpr (std::is_same_v<V, char>) {
    return quote(std::string_view(&value, 1));
  } else {
    return fmt::format("{}", value);
  }
}

// --- repr(x): one overload per printable type --------------------------------------------------

[[nodiscard]] inline std::string repr(const any_task& task) {
  return task_repr(task.state(), nullptr);
}

template <class T>
[[nodiscard]] std::string repr(const task<T>& task) {
  if constexpr (formattable_value<T>) {
    if (task && task.state()->state() == future_base::status::finished) {
      const std::string result = value_repr(task.state()->value());
      return task_repr(task.state(), &result);
    }
  }
  return task_repr(task.state(), nullptr);
}

template <class T>
[[nodiscard]] std::string repr(const future<T>& awaited) {
  if constexpr (formattable_value<T>) {
    if (awaited.state() != nullptr && awaited.state()->state() == future_base::status::finished) {
      const std::string result = value_repr(awaited.state()->value());
      return future_repr(awaited.state(), &result);
    }
  }
  return future_repr(awaited.state(), nullptr);
}

template <class T, class Storage>
[[nodiscard]] std::string queue_repr_of(std::string_view kind,
                                        const basic_queue<T, Storage>& queue) {
  queue_fields fields;
  fields.kind = kind;
  fields.maxsize = queue.maxsize();
  fields.qsize = queue.qsize();
  fields.getters = queue.getter_count();
  fields.putters = queue.putter_count();
  fields.unfinished = queue.unfinished_tasks();
  fields.shut_down = queue.is_shut_down();
  std::string items;
  if constexpr (formattable_value<T>) {
    items = "[";
    queue.for_each_item([&](const T& item) {
      items += fields.stored++ == 0 ? "" : ", ";
      items += value_repr(item);
    });
    items += "]";
    fields.items = &items;
  } else {
    queue.for_each_item([&](const T& /*item*/) { ++fields.stored; });
  }
  return queue_repr(fields);
}

template <class T>
[[nodiscard]] std::string repr(const queue<T>& queue) {
  return queue_repr_of("queue", queue);
}
template <class T, class Compare>
[[nodiscard]] std::string repr(const priority_queue<T, Compare>& queue) {
  return queue_repr_of("priority_queue", queue);
}
template <class T>
[[nodiscard]] std::string repr(const lifo_queue<T>& queue) {
  return queue_repr_of("lifo_queue", queue);
}

[[nodiscard]] std::string repr(const event_loop& loop);
[[nodiscard]] std::string repr(const process& child);
[[nodiscard]] std::string repr(const server& listening);
[[nodiscard]] std::string repr(const stream_reader& reader);
[[nodiscard]] std::string repr(const stream_writer& writer);
[[nodiscard]] std::string repr(const address& where);
[[nodiscard]] std::string repr(const lock& mutex);
[[nodiscard]] std::string repr(const event& flag);
[[nodiscard]] std::string repr(const condition& cond);
[[nodiscard]] std::string repr(const semaphore& sem);
[[nodiscard]] std::string repr(const bounded_semaphore& sem);
[[nodiscard]] std::string repr(const barrier& meeting);
[[nodiscard]] std::string repr(const cancelled_error& error);
[[nodiscard]] std::string repr(const keyboard_interrupt& error);
/// Every std::exception of eddy's: exception_repr (an exception_group's what() lists its
/// members).
[[nodiscard]] inline std::string repr(const std::exception& error) { return exception_repr(error); }

/// The formatter of every printable eddy type: repr(object), formatted as a string.
template <class T>
struct repr_formatter : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const T& object, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string text = repr(object);
    return fmt::formatter<std::string_view>::format(std::string_view(text), ctx);
  }
};

/// std::exception_ptr: exception_repr.
struct exception_ptr_formatter : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const std::exception_ptr& error, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string text = exception_repr(error);
    return fmt::formatter<std::string_view>::format(std::string_view(text), ctx);
  }
};

}  // namespace detail

// --- operator<< ---------------------------------------------------------------------------------

/// `<task name='Task-2' state=pending coro=fetch() at main.cpp:12 wait_for=<sleep>>`; once done
/// `state=finished result=1` (the result when fmt can format it), `state=finished
/// exception=std::runtime_error: boom` or `state=cancelled`, and coro= where the coroutine
/// ended; `state=cancelling` while a cancellation is requested; `<task empty>`.
std::ostream& operator<<(std::ostream& out, const any_task& task);
template <class T>
std::ostream& operator<<(std::ostream& out, const task<T>& task) {
  return detail::write_repr(out, detail::repr(task));
}
/// `<future pending>`, `<future finished result=3>`, `<future finished exception=...>`,
/// `<future cancelled>`, `<future empty>`.
template <class T>
std::ostream& operator<<(std::ostream& out, const future<T>& awaited) {
  return detail::write_repr(out, detail::repr(awaited));
}
/// `<queue maxsize=0 _queue=[1, 2] _getters[1] _putters[1] tasks=2 shutdown>`: the items when
/// fmt can format them (else `qsize=2`), and each of the rest only when not zero.
template <class T>
std::ostream& operator<<(std::ostream& out, const queue<T>& queue) {
  return detail::write_repr(out, detail::repr(queue));
}
template <class T, class Compare>
std::ostream& operator<<(std::ostream& out, const priority_queue<T, Compare>& queue) {
  return detail::write_repr(out, detail::repr(queue));
}
template <class T>
std::ostream& operator<<(std::ostream& out, const lifo_queue<T>& queue) {
  return detail::write_repr(out, detail::repr(queue));
}
/// `<event_loop backend=uring running=true closed=false debug=false>` (no backend once closed).
std::ostream& operator<<(std::ostream& out, const event_loop& loop);
/// `<process pid=1234 running>`, `<process pid=1234 returncode=0>`, `<process empty>`.
std::ostream& operator<<(std::ostream& out, const process& child);
/// `<server sockets=(127.0.0.1:8080) serving connections=1>`, `... not serving>` (made with
/// start_serving = false), `<server closed>`, `<server empty>`.
std::ostream& operator<<(std::ostream& out, const server& listening);
/// `<stream_reader 12 bytes eof limit=65536 fd=7 peer=127.0.0.1:5555>`: buffered bytes and eof
/// when there are, exception= once set or failed, then the descriptor (or `closed`).
std::ostream& operator<<(std::ostream& out, const stream_reader& reader);
/// `<stream_writer fd=7 peer=127.0.0.1:5555 closing bufsize=12>` (`fd=5 pipe` for a pipe,
/// `closed` once the descriptor is).
std::ostream& operator<<(std::ostream& out, const stream_writer& writer);
/// address::to_string(): `127.0.0.1:8080`, `[::1]:80`, `unix:/run/x.sock`, "" when empty.
std::ostream& operator<<(std::ostream& out, const address& where);
/// `<lock [locked, waiters:1]>`, `<lock [unlocked]>`.
std::ostream& operator<<(std::ostream& out, const lock& mutex);
/// `<event [set]>`, `<event [unset, waiters:2]>`.
std::ostream& operator<<(std::ostream& out, const event& flag);
/// `<condition [locked, waiters:1]>`: the lock's state, and the tasks in wait() not notified.
std::ostream& operator<<(std::ostream& out, const condition& cond);
/// `<semaphore [unlocked, value:3]>`, `<semaphore [locked, waiters:2]>`.
std::ostream& operator<<(std::ostream& out, const semaphore& sem);
/// `<bounded_semaphore [unlocked, value:3]>`.
std::ostream& operator<<(std::ostream& out, const bounded_semaphore& sem);
/// `<barrier [filling, waiters:1/3]>` (draining, resetting, broken).
std::ostream& operator<<(std::ostream& out, const barrier& meeting);
/// `eddy::cancelled_error`, `eddy::cancelled_error: why` (Python's `CancelledError: why`).
std::ostream& operator<<(std::ostream& out, const cancelled_error& error);
/// `eddy::keyboard_interrupt: keyboard interrupt (SIGINT)`.
std::ostream& operator<<(std::ostream& out, const keyboard_interrupt& error);
/// `eddy::timeout_error: timed out`: type and what(), as for each exception below.
std::ostream& operator<<(std::ostream& out, const timeout_error& error);
std::ostream& operator<<(std::ostream& out, const invalid_state_error& error);
/// `eddy::exception_group: unhandled errors in a task_group (2 sub-exceptions):
/// std::runtime_error: boom; std::logic_error: bad` (one line).
std::ostream& operator<<(std::ostream& out, const exception_group& error);
std::ostream& operator<<(std::ostream& out, const queue_empty& error);
std::ostream& operator<<(std::ostream& out, const queue_full& error);
std::ostream& operator<<(std::ostream& out, const queue_shut_down& error);
std::ostream& operator<<(std::ostream& out, const broken_barrier_error& error);
std::ostream& operator<<(std::ostream& out, const incomplete_read_error& error);
std::ostream& operator<<(std::ostream& out, const limit_overrun_error& error);

}  // namespace eddy

// --- fmt::formatter: the same texts --------------------------------------------------------------

namespace fmt {

template <>
struct formatter<eddy::any_task> : eddy::detail::repr_formatter<eddy::any_task> {};
template <class T>
struct formatter<eddy::task<T>> : eddy::detail::repr_formatter<eddy::task<T>> {};
template <class T>
struct formatter<eddy::future<T>> : eddy::detail::repr_formatter<eddy::future<T>> {};
template <class T>
struct formatter<eddy::queue<T>> : eddy::detail::repr_formatter<eddy::queue<T>> {};
template <class T, class Compare>
struct formatter<eddy::priority_queue<T, Compare>>
    : eddy::detail::repr_formatter<eddy::priority_queue<T, Compare>> {};
template <class T>
struct formatter<eddy::lifo_queue<T>> : eddy::detail::repr_formatter<eddy::lifo_queue<T>> {};
template <>
struct formatter<eddy::event_loop> : eddy::detail::repr_formatter<eddy::event_loop> {};
template <>
struct formatter<eddy::process> : eddy::detail::repr_formatter<eddy::process> {};
template <>
struct formatter<eddy::server> : eddy::detail::repr_formatter<eddy::server> {};
template <>
struct formatter<eddy::stream_reader> : eddy::detail::repr_formatter<eddy::stream_reader> {};
template <>
struct formatter<eddy::stream_writer> : eddy::detail::repr_formatter<eddy::stream_writer> {};
template <>
struct formatter<eddy::address> : eddy::detail::repr_formatter<eddy::address> {};
template <>
struct formatter<eddy::lock> : eddy::detail::repr_formatter<eddy::lock> {};
template <>
struct formatter<eddy::event> : eddy::detail::repr_formatter<eddy::event> {};
template <>
struct formatter<eddy::condition> : eddy::detail::repr_formatter<eddy::condition> {};
template <>
struct formatter<eddy::semaphore> : eddy::detail::repr_formatter<eddy::semaphore> {};
template <>
struct formatter<eddy::bounded_semaphore> : eddy::detail::repr_formatter<eddy::bounded_semaphore> {
};
template <>
struct formatter<eddy::barrier> : eddy::detail::repr_formatter<eddy::barrier> {};
template <>
struct formatter<eddy::cancelled_error> : eddy::detail::repr_formatter<eddy::cancelled_error> {};
template <>
struct formatter<eddy::keyboard_interrupt>
    : eddy::detail::repr_formatter<eddy::keyboard_interrupt> {};
template <>
struct formatter<eddy::timeout_error> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::invalid_state_error> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::exception_group> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::queue_empty> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::queue_full> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::queue_shut_down> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::broken_barrier_error> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::incomplete_read_error> : eddy::detail::repr_formatter<std::exception> {};
template <>
struct formatter<eddy::limit_overrun_error> : eddy::detail::repr_formatter<std::exception> {};
/// `fmt::format("{}", std::current_exception())`: "std::runtime_error: boom" (exception_repr).
/// (No operator<<: argument-dependent lookup cannot find one for a std:: type.)
template <>
struct formatter<std::exception_ptr> : eddy::detail::exception_ptr_formatter {};

}  // namespace fmt
