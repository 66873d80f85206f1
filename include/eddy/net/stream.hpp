// Streams: asyncio's StreamReader / StreamWriter / open_connection, for TCP, Unix sockets and
// pipes. The server side is in server.hpp. See docs/streams.md.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/generator.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/detail/stream_state.hpp"
#include "eddy/net/socket.hpp"
#include "eddy/net/stream_errors.hpp"
#include "eddy/net/stream_options.hpp"

namespace eddy {

class stream_writer;
namespace detail {
struct stream_access;
}

/// The reading half of a connection (asyncio.StreamReader).
///
/// A cheap, copyable handle: every copy of the reader and of the connection's writer share one
/// connection, which stays open while any handle exists (the last handle to go closes it, as
/// the writer's destructor does in asyncio). Loop-thread only. Only one read may wait at a
/// time; a second one throws std::runtime_error naming the function.
///
/// Reads take bytes from an internal buffer; when it lacks what the read needs, the reader
/// receives from the descriptor straight into that buffer. Cancel safety of every read: the
/// read throws cancelled_error promptly and nothing is lost; whatever arrived stays in the
/// buffer for the next read.
///
/// Errors: once the connection failed (ECONNRESET, ...) every read throws that
/// std::system_error, and after set_exception() every read throws the exception set (asyncio's
/// set_exception); std::logic_error outside a task; invalid_state_error for a
/// default-constructed (empty) reader.
///
/// In debug mode, the last handle of a socket connection going before the writer's close()
/// is reported (see stream_writer); a pipe reader from from_pipe() is not.
class stream_reader {
 public:
  /// asyncio's default limit: 64 KiB.
  static constexpr std::size_t default_limit = 64 * 1024;

  /// An empty handle; using it throws invalid_state_error.
  stream_reader() noexcept = default;
  stream_reader(const stream_reader& other) noexcept;
  stream_reader(stream_reader&& other) noexcept;
  stream_reader& operator=(const stream_reader& other) noexcept;
  stream_reader& operator=(stream_reader&& other) noexcept;
  ~stream_reader();

  /// Adopts an owned non-blocking pipe read end (closed when the last handle drops).
  /// Throws std::invalid_argument for fd < 0 or limit == 0.
  static stream_reader from_pipe(int fd, std::size_t limit = stream_reader::default_limit);

  /// Up to n bytes: what is buffered, or, when nothing is, what one receive brings. n == -1
  /// reads until end of file. Returns "" at end of file (and for n == 0). Throws
  /// std::invalid_argument for n < -1.
  [[nodiscard]] coro<std::string> read(std::ptrdiff_t n = -1) const;

  /// Exactly n bytes. At end of file first, throws incomplete_read_error carrying what arrived
  /// (taken out of the buffer). Throws std::invalid_argument for n < 0.
  [[nodiscard]] coro<std::string> readexactly(std::ptrdiff_t n) const;

  /// One line, ending with "\n". At end of file returns what is left (possibly "" or a last
  /// line without "\n"). A line longer than limit() throws limit_overrun_error and, as
  /// asyncio's readline, drops data: the line up to and including its "\n" when the "\n" is
  /// buffered, else the whole buffer. (asyncio raises ValueError there; see docs/streams.md.)
  [[nodiscard]] coro<std::string> readline() const;

  /// Data up to and including separator. At end of file without it, throws
  /// incomplete_read_error with the rest (expected() == nullopt). When the separator is not
  /// within limit() bytes, throws limit_overrun_error and leaves everything buffered.
  /// Throws std::invalid_argument for an empty separator.
  [[nodiscard]] coro<std::string> readuntil(std::string separator = "\n") const;

  /// As readuntil, ending at whichever separator ends first (asyncio 3.13 accepts a tuple).
  /// Throws std::invalid_argument for no separator or an empty one.
  [[nodiscard]] coro<std::string> readuntil(std::vector<std::string> separators) const;

  /// The zero-copy form of read(n): copies up to into.size() buffered bytes into `into` or,
  /// when nothing is buffered, receives straight into it. Returns the count; 0 at end of file
  /// (or for an empty span). Cancel safety: when the kernel had already written bytes into
  /// `into` as the cancel arrived, they are returned and cancelled_error is thrown at the
  /// next await instead, so nothing is lost.
  [[nodiscard]] coro<std::size_t> read_into(std::span<std::byte> into) const;
  [[nodiscard]] coro<std::size_t> read_into(std::span<char> into) const;

  /// `async for line in reader`: an async generator of the lines readline() returns, each
  /// with its "\n", ending at end of file (a last line without "\n" is yielded when it is
  /// not empty). The generator holds a copy of this handle, so the connection stays open while
  /// it exists. Iterate it with next():
  ///
  ///     auto lines = reader.lines();
  ///     while (std::optional<std::string> line = co_await lines.next()) { use(*line); }
  ///
  /// next() throws what readline() throws (limit_overrun_error for a line over limit(), the
  /// exception set with set_exception(), the connection's std::system_error, std::runtime_error
  /// when another read waits); the generator is finished after that, and lines() may be called
  /// again to go on reading. lines() itself throws invalid_state_error for an empty handle.
  /// Cancel safety: as readline(): cancelled_error comes out of next(), the generator ends, and
  /// nothing is lost (what arrived stays buffered for the next read).
  [[nodiscard]] async_generator<std::string> lines() const;

  /// asyncio's exception(): the exception set with set_exception(), else the connection's
  /// failure as a std::system_error (ECONNRESET, ...; a new exception object per call), else
  /// null. A failure after set_exception() replaces the exception set, as asyncio's
  /// connection_lost() calls set_exception(). Never throws but invalid_state_error for an empty
  /// handle.
  [[nodiscard]] std::exception_ptr exception() const;

  /// asyncio's set_exception(): every later read throws `error` (even with data buffered), and
  /// so does the writer's drain(), as asyncio's. A read waiting now is woken and throws it;
  /// bytes that arrived before it woke stay buffered (read_into returns those it already
  /// wrote into the caller's span, and the next read throws). A waiting read that was already
  /// cancelled throws cancelled_error instead. The connection itself stays open. Calling it
  /// again replaces the exception. Throws std::invalid_argument for a null `error`,
  /// invalid_state_error for an empty handle. Does not suspend.
  void set_exception(std::exception_ptr error) const;

  /// True when end of file was seen and the buffer is empty (asyncio's at_eof()). The reader
  /// learns about end of file by reading, so this stays false until a read met it.
  [[nodiscard]] bool at_eof() const;
  /// Bytes buffered and not yet read.
  [[nodiscard]] std::size_t buffered() const;
  /// The limit readuntil()/readline() work with.
  [[nodiscard]] std::size_t limit() const;

  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  friend class stream_writer;
  friend struct detail::stream_access;
  explicit stream_reader(detail::stream_state* state) noexcept;
  detail::stream_state& state(const char* what) const;

  detail::stream_state* state_ = nullptr;
};

/// The writing half of a connection (asyncio.StreamWriter). A cheap copyable handle like
/// stream_reader (a chat server keeps writers in a list); loop-thread only.
///
/// write() never suspends: it appends to the write buffer and starts a send if none is in
/// flight. drain() is where backpressure and connection errors show up. Writes never raise
/// SIGPIPE (MSG_NOSIGNAL; pipes: EPIPE is reported by drain()).
///
/// In debug mode, a connection whose last reader or writer handle goes before close() or
/// abort() (and before it was lost) is reported through the exception handler of the loop it
/// was made on, as asyncio's ResourceWarning: "unclosed stream_writer <fd=7
/// peer=127.0.0.1:40312>" ("<fd=7 pipe>" for a pipe writer whose reader is still there), and
/// then closed gracefully as always. A pipe reader is never reported (it has no close()).
/// docs/streams.md lists the messages.
class stream_writer {
 public:
  /// An empty handle; using it throws invalid_state_error.
  stream_writer() noexcept = default;
  stream_writer(const stream_writer& other) noexcept;
  stream_writer(stream_writer&& other) noexcept;
  stream_writer& operator=(const stream_writer& other) noexcept;
  stream_writer& operator=(stream_writer&& other) noexcept;
  ~stream_writer();

  /// Adopts an owned non-blocking pipe write end (closed when the last handle drops, once
  /// what was written is flushed). Throws std::invalid_argument for fd < 0. The first call
  /// sets SIGPIPE to SIG_IGN if it is still SIG_DFL (as CPython does at startup), so that a
  /// vanished reader shows as EPIPE from drain() instead of killing the process.
  static stream_writer from_pipe(int fd);

  /// Queues data to send; never suspends. After close() (or once the connection is lost) the
  /// data is silently dropped, as CPython 3.12's transports do. Throws std::runtime_error
  /// after write_eof().
  void write(std::string_view data) const;
  void write(std::span<const std::byte> data) const;
  /// write() of each piece, in order.
  void writelines(std::initializer_list<std::string_view> pieces) const;
  void writelines(std::span<const std::string> pieces) const;

  /// Waits while more than the high-water mark is unsent, until at most the low-water mark
  /// is (returns at once otherwise, without suspending). Throws the exception set with the
  /// reader's set_exception() at once, before any wait, as asyncio's drain(). Throws the
  /// connection's error as std::system_error (EPIPE, ECONNRESET, ...) once it failed, and
  /// std::system_error(ECONNRESET, "drain: Connection lost") once close() or abort() was
  /// called, at once and on both backends, whether or not the buffer has been flushed yet
  /// (close() still sends it; wait_closed() waits for that). A drain() already waiting when
  /// close() is called throws the same once the connection is torn down.
  /// Cancel safety: cancelling only stops the wait; the data stays queued.
  class drain_awaiter;
  [[nodiscard]] drain_awaiter drain() const;

  /// Shuts the write side down once the buffer is flushed (shutdown(SHUT_WR); for a pipe it
  /// closes the descriptor). Reading continues.
  void write_eof() const;
  /// True for sockets and pipes (both can signal end of file).
  [[nodiscard]] bool can_write_eof() const;

  /// Closes the connection once what is buffered has been sent; wait_closed() waits for that.
  /// Reads then see end of file. Calling it again does nothing.
  void close() const;
  /// Closes at once, dropping unsent data; a TCP peer sees a reset (SO_LINGER 0).
  void abort() const;
  /// True once close() or abort() was called or the connection was lost.
  [[nodiscard]] bool is_closing() const;
  /// Waits until the descriptor is closed (after close(), abort() or a failure). Throws the
  /// connection's error if it failed, as asyncio 3.12. Cancel safety: cancelling only stops
  /// the wait.
  class wait_closed_awaiter;
  [[nodiscard]] wait_closed_awaiter wait_closed() const;

  /// asyncio's get_extra_info: "peername" and "sockname" give an eddy::address, "socket"
  /// the descriptor as an int (do not close it), "limit" the reader's limit as std::size_t;
  /// anything else (or a name that does not apply, as "peername" for a pipe) an empty
  /// std::any.
  [[nodiscard]] std::any get_extra_info(std::string_view name) const;
  /// getpeername / getsockname; throw std::system_error for a pipe or a closed stream.
  [[nodiscard]] address peername() const;
  [[nodiscard]] address sockname() const;

  /// Bytes written and not yet handed to the kernel (transport.get_write_buffer_size()).
  [[nodiscard]] std::size_t write_buffer_size() const;

  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  friend struct detail::stream_access;
  explicit stream_writer(detail::stream_state* state) noexcept;
  detail::stream_state& state(const char* what) const;
  /// Throws the connection's failure, or ECONNRESET once closing; first the exception the
  /// reader's set_exception() set, when reader_exception_too.
  void throw_if_lost(const char* what, bool reader_exception_too) const;

  detail::stream_state* state_ = nullptr;
};

/// What drain() returns: ready at once (no suspension) while the buffer is at most the
/// high-water mark; otherwise waits in the connection's drain list.
class [[nodiscard]] stream_writer::drain_awaiter : public detail::sync_waiter {
 public:
  explicit drain_awaiter(stream_writer writer) noexcept : writer_(std::move(writer)) {}
  bool await_ready() const noexcept {
    const detail::stream_state& state = *writer_.state_;
    return state.is_closing() || !state.drain_needed();
  }
  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("drain()");
    return suspend_in(writer_.state_->drain_waiters, awaiting);
  }
  void await_resume() {
    const bool waited = task_ != nullptr;
    if (waited) {
      task_->end_wait(state_ == state::cancelled);
    }
    // As asyncio's drain(), the reader's set_exception() is looked at before waiting only.
    writer_.throw_if_lost("drain", !waited);
  }

 private:
  stream_writer writer_;
};

/// What wait_closed() returns: ready once the descriptor is closed.
class [[nodiscard]] stream_writer::wait_closed_awaiter : public detail::sync_waiter {
 public:
  explicit wait_closed_awaiter(stream_writer writer) noexcept : writer_(std::move(writer)) {}
  bool await_ready() const noexcept { return writer_.state_->is_closed(); }
  bool await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &detail::task_base::running("wait_closed()");
    return suspend_in(writer_.state_->closed_waiters, awaiting);
  }
  void await_resume() {
    if (task_ != nullptr) {
      task_->end_wait(state_ == state::cancelled);
    }
    writer_.state_->throw_if_failed("wait_closed");
  }

 private:
  stream_writer writer_;
};

/// Adopts an already connected stream socket (asyncio's open_connection(sock=...)): a reader
/// and a writer sharing it. Sets TCP_NODELAY on a TCP socket. Throws std::invalid_argument for
/// a closed socket or bad options.
std::pair<stream_reader, stream_writer> open_streams(socket connected, stream_options options = {});

/// Connects to host:port (asyncio.open_connection): resolves with eddy::getaddrinfo (a literal
/// address needs no lookup) and tries each address in turn, or, with
/// options.happy_eyeballs_delay, staggered (RFC 8305: the first to connect wins, the other
/// attempts are cancelled). Throws std::invalid_argument for a negative delay. Throws gai_error
/// when the host does not resolve, std::system_error (ECONNREFUSED, ...) when no address accepts:
/// the one error, or, when they differ, the first with a message listing all. Cancel safety:
/// cancelling stops the attempt at once and closes its socket.
[[nodiscard]] coro<std::pair<stream_reader, stream_writer>> open_connection(
    std::string host, std::uint16_t port, connection_options options = {});

/// Connects to the Unix socket at path (asyncio.open_unix_connection). Throws std::system_error
/// (ENOENT, ECONNREFUSED, ...) as open_connection. While the listener's backlog is full it
/// keeps trying, after pauses of 1 ms doubling up to 64 ms, as a blocking connect would wait;
/// bound it with wait_for or a timeout scope. Cancel safety: cancelling stops the attempt at
/// once and closes its socket.
[[nodiscard]] coro<std::pair<stream_reader, stream_writer>> open_unix_connection(
    std::string path, stream_options options = {});

}  // namespace eddy
