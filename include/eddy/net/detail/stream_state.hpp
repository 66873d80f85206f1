// The state one connection's stream_reader and stream_writer handles share: the descriptor,
// the read buffer the kernel receives into, the write buffers, and the two io_ops in flight.
//
// Lifetime: reference counted (loop thread only, so not atomic). Handles hold references, and
// so does each io_op while the kernel has it, so the buffers outlive the kernel's use even when
// every handle is gone. When the last handle goes, the connection is closed gracefully.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "eddy/detail/intrusive_list.hpp"
#include "eddy/detail/io_wait.hpp"
#include "eddy/detail/kernel_op.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/ref_counted.hpp"
#include "eddy/detail/sync_waiters.hpp"
#include "eddy/detail/task_base.hpp"
#include "eddy/net/stream_options.hpp"

namespace eddy::detail {

class stream_state;
class stream_receive_awaiter;

/// A connection as a member of its connection_registry.
struct registry_node {
  list_links<registry_node> registry_links;
};

/// Who wants to hear when a connection's descriptor is closed (a server tracking its clients).
/// Connections are linked into it intrusively; destroying the registry unlinks them.
class connection_registry {
 public:
  connection_registry(const connection_registry&) = delete;
  connection_registry& operator=(const connection_registry&) = delete;

  void add(stream_state& connection) noexcept;
  void remove(stream_state& connection) noexcept;
  [[nodiscard]] std::size_t connection_count() const noexcept { return count_; }
  /// Calls f(state) for each live connection; f may close (unlink) the one it is given.
  template <class F>
  void for_each(F f);

 protected:
  connection_registry() noexcept = default;
  ~connection_registry();
  /// Called after `connection` was unlinked because its descriptor closed.
  virtual void connection_closed() noexcept = 0;

 private:
  friend class stream_state;
  intrusive_list<registry_node, &registry_node::registry_links> connections_;  ///< newest first
  std::size_t count_ = 0;
};

class stream_state : private registry_node,
                     public ref_counted<stream_state, ref_counting::single_thread> {
 public:
  /// What the descriptor is: a socket uses recv/send; a pipe end uses read/write (recv on a
  /// pipe fails with ENOTSOCK).
  enum class kind : std::uint8_t { socket, pipe_reader, pipe_writer };

  /// No reference yet: the first handle or operation takes one.
  stream_state(loop_core& loop, int fd, kind what, const stream_options& options);
  stream_state(const stream_state&) = delete;
  stream_state& operator=(const stream_state&) = delete;

  // --- references --------------------------------------------------------------------------
  void add_handle() noexcept {
    ++handles_;
    add_ref();
  }
  /// The last handle gone closes the connection (gracefully: what is queued is still sent).
  /// In debug mode, a socket or pipe writer whose last handle goes before close() or abort()
  /// (and before the connection was lost) is first reported: "unclosed stream_writer <...>"
  /// (resource_warning.hpp). A pipe reader is not: dropping it is how it is closed.
  void drop_handle() noexcept;
  /// How many reader and writer handles refer to this connection.
  [[nodiscard]] std::uint32_t handle_count() const noexcept { return handles_; }

  // --- reading -----------------------------------------------------------------------------
  [[nodiscard]] std::size_t buffered() const noexcept { return read_end_ - read_begin_; }
  [[nodiscard]] std::string_view buffer_view() const noexcept {
    return {reinterpret_cast<const char*>(read_buffer_.get()) + read_begin_, buffered()};
  }
  /// Takes n <= buffered() bytes from the front of the buffer.
  std::string take(std::size_t n);
  void discard(std::size_t n) noexcept;
  [[nodiscard]] bool eof() const noexcept { return eof_; }
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
  /// Throws the connection's failure (std::system_error), if any.
  void throw_if_failed(const char* what) const;
  /// What a read (and drain()) throws first: the exception set by set_exception(), else the
  /// connection's failure (throw_if_failed).
  void throw_if_read_failed(const char* what) const;
  /// asyncio's StreamReader.exception(): the exception set, else the connection's failure as
  /// a std::system_error, else null.
  [[nodiscard]] std::exception_ptr exception() const;
  /// asyncio's StreamReader.set_exception(): later reads throw `error`; a read waiting now is
  /// woken and throws it (a multishot receive lets it go at once; a plain receive is cancelled
  /// in the kernel and the reader resumes once the kernel let go of the buffer). `error` must
  /// not be null.
  void set_exception(std::exception_ptr error) noexcept;
  /// Throws std::runtime_error when a read already waits (asyncio's message).
  void check_no_pending_read(const char* what) const;
  /// An awaiter that receives once: into the buffer (`into` empty) or into `into`.
  [[nodiscard]] stream_receive_awaiter receive(const char* what, std::span<std::byte> into = {});

  // --- writing -----------------------------------------------------------------------------
  void write(const char* data, std::size_t size, const char* what);
  [[nodiscard]] std::size_t write_buffer_size() const noexcept {
    return sending_.size() - sent_ + pending_.size();
  }
  [[nodiscard]] bool drain_needed() const noexcept { return write_buffer_size() > high_water_; }
  void write_eof();
  void close() noexcept;
  void abort() noexcept;
  [[nodiscard]] bool is_closing() const noexcept { return closing_ || lost_; }
  [[nodiscard]] bool is_closed() const noexcept { return fd_ < 0; }
  [[nodiscard]] bool lost() const noexcept { return lost_; }
  [[nodiscard]] int error() const noexcept { return error_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] kind transport() const noexcept { return kind_; }

  // --- reports of an unclosed stream (resource_warning.hpp) ---------------------------------
  /// The loop the stream was made on, and its id.
  [[nodiscard]] loop_core* loop() const noexcept { return loop_; }
  [[nodiscard]] std::uint64_t loop_id() const noexcept { return loop_id_; }
  /// For a pipe of a process: whether the parent's end still counts as open (asyncio's pipe
  /// transport would not have closed by itself yet): a writer not closing and a reader not at
  /// end of file, neither lost, whose far end is still open (a poll). Makes a system call:
  /// only for reports.
  [[nodiscard]] bool pipe_left_open() const noexcept;
  /// Someone else (the process owning this pipe) has reported it left open: drop_handle()
  /// stays silent.
  void mark_unclosed_reported() noexcept { unclosed_reported_ = true; }
  /// Tasks in drain() (woken when the buffer falls to the low-water mark or the connection
  /// goes) and in wait_closed() (woken when the descriptor is closed).
  sync_waiter_list drain_waiters;
  sync_waiter_list closed_waiters;

  /// Links this connection into a registry (a server's client list).
  void join(connection_registry& registry) noexcept { registry.add(*this); }

 private:
  friend class stream_receive_awaiter;
  friend class connection_registry;

  /// A kernel_op that knows its stream (the completion handler gets only the op).
  struct owned_op : kernel_op {
    stream_state* owner = nullptr;
  };

  friend class ref_counted<stream_state, ref_counting::single_thread>;
  ~stream_state();

  // reading
  void prepare_receive_space();
  bool start_receive(stream_receive_awaiter& waiter, std::span<std::byte> into);
  void apply_receive_result(std::int64_t result, bool into_buffer) noexcept;
  static void receive_completed(kernel_op& op) noexcept;
  // reading with one multishot receive (io_uring): see start_receive
  void arm_multishot();
  void multishot_received(kernel_op& op) noexcept;
  void deliver(const std::byte* data, std::size_t size) noexcept;

  // writing
  void start_send();
  void send_until_in_flight();
  void continue_sending(std::int64_t result) noexcept;
  static void send_completed(kernel_op& op) noexcept;
  void flushed() noexcept;

  // closing
  void fail(int error) noexcept;
  void teardown() noexcept;
  void finish_close_if_idle() noexcept;
  [[nodiscard]] bool loop_usable() const noexcept;
  /// drop_handle()'s report of a stream whose last handle went before it was closed.
  void report_dropped_open() noexcept;

  loop_core* loop_;
  std::uint64_t loop_id_;  ///< loop_->id(): reports go to that loop only while it lives
  int fd_;
  kind kind_;
  std::uint32_t handles_ = 0;

  std::unique_ptr<std::byte[]>
      read_buffer_;  ///< never zero-filled; [read_begin_, read_end_) is data
  std::size_t read_capacity_ = 0;
  std::size_t read_begin_ = 0;
  std::size_t read_end_ = 0;
  std::size_t limit_;
  owned_op read_op_;  ///< in flight: in the kernel (armed, for a multishot receive)
  stream_receive_awaiter* read_waiter_ = nullptr;  ///< the task waiting for a receive
  bool receiving_into_buffer_ = true;
  /// Sockets on a backend with multishot receive: one armed receive feeds the buffer (from the
  /// backend's provided buffers) while the reader keeps up; paused above pause_threshold().
  bool use_multishot_ = false;
  [[nodiscard]] std::size_t pause_threshold() const noexcept { return 2 * limit_; }

  // Two buffers so the bytes the kernel is sending stay put while write() appends: sending_
  // [sent_, size) is in flight; pending_ accumulates and is swapped in when the send ends.
  std::string sending_;
  std::size_t sent_ = 0;
  std::string pending_;
  std::size_t high_water_;
  std::size_t low_water_;
  owned_op write_op_;

  // The life of the connection: open → closing_ (close() asked; flushing) → lost_ (no more I/O;
  // ops in flight are cancelled) → fd_ == -1 (closed, closed_waiters woken).
  bool eof_ = false;            ///< the reader saw end of file (or the connection went)
  bool eof_requested_ = false;  ///< write_eof() called
  bool closing_ = false;
  bool aborting_ = false;
  bool lost_ = false;
  int error_ = 0;  ///< errno of the failure, 0 if none
  /// set_exception()'s exception, null if none. A later failure replaces it (as asyncio's
  /// connection_lost calls set_exception), and a later set_exception() replaces that.
  std::exception_ptr exception_;
  /// The owning process reported this pipe left open (mark_unclosed_reported()).
  bool unclosed_reported_ = false;

  connection_registry* registry_ = nullptr;
};

/// One receive on a stream, awaited by the reading task: an io_wait on the stream state's
/// read_op_ (which the op keeps alive). A cancel asks the kernel to stop and the task resumes
/// only once the op completed, so no memory the kernel writes is ever freed early; a multishot
/// receive feeds the buffer, not the waiter, which then leaves at once. Received bytes are never
/// lost: into the buffer they stay buffered (and the await throws cancelled_error); into a
/// caller's span they are returned and the cancellation is delivered at the next await.
///
/// await_resume yields the byte count (0 at end of file, or when the connection failed:
/// callers then look at the state). It throws only cancelled_error.
class [[nodiscard]] stream_receive_awaiter final : private io_wait {
 public:
  stream_receive_awaiter(stream_state& state, const char* what, std::span<std::byte> into) noexcept
      : io_wait(what), state_(&state), into_(into) {}
  stream_receive_awaiter(const stream_receive_awaiter&) = delete;
  stream_receive_awaiter& operator=(const stream_receive_awaiter&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> awaiting);
  std::size_t await_resume();

 private:
  friend class stream_state;
  bool cancel_wait(task_base& waiter) noexcept override;

  stream_state* state_;
  std::span<std::byte> into_;
  std::int64_t result_ = 0;
};

inline stream_receive_awaiter stream_state::receive(const char* what, std::span<std::byte> into) {
  return {*this, what, into};
}

template <class F>
void connection_registry::for_each(F f) {
  for (registry_node* node = connections_.front(); node != nullptr;) {
    registry_node* next = connections_.next(*node);
    f(static_cast<stream_state&>(*node));
    node = next;
  }
}

}  // namespace eddy::detail
