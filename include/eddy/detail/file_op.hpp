// The awaiters of single file operations (eddy/file.hpp): one kernel_op in the awaiting task's
// frame, sent either to io_uring or to the loop's default executor, awaited through io_wait
// (DESIGN.md §6) on both routes.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <string>

#include "eddy/detail/io_wait.hpp"

namespace eddy::detail {

class worker_call_base;
class pool_file_job;

/// Whether `loop`'s backend takes the file opcodes itself (event_loop::native_file_ops).
[[nodiscard]] bool native_file_ops_of(loop_core& loop) noexcept;

/// One file operation. On a loop whose backend has the file opcodes (io_uring) the io_op is
/// submitted to the kernel; otherwise a worker of the loop's default executor performs the
/// same system call on it, and the result comes back through the loop's mailbox. Either way
/// the io_op, and the memory it points at, are in use until the completion has been seen on
/// the loop thread, and the frame holding them is not resumed before that.
///
/// Cancel safety, for every operation built on this. io_uring: the kernel is asked to cancel,
/// and the task resumes when the operation's completion arrives. Thread pool: a call that no
/// worker has started yet never runs and the task resumes at once; a call already running
/// cannot be interrupted, so the task resumes when it has finished (the worker may be writing
/// into the caller's buffer until then). If the cancel took effect, the await throws
/// cancelled_error and nothing happened. If the operation had already completed with a result
/// (bytes read or written), the result is delivered and cancelled_error is thrown at the
/// task's next await instead, so nothing is lost. (An open that completed is the exception:
/// its descriptor is closed and the open throws cancelled_error.)
class file_awaiter_base : protected kernel_op, protected io_wait {
 public:
  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> awaiting) {
    if (!begin(awaiting)) {
      return false;  // a cancellation is pending: nothing is started
    }
    result = -ECANCELED;  // until a completion says otherwise
    if (!native_file_ops_of(waiting_task().loop())) {
      return start_on_pool();
    }
    return wait_for(*this);
  }

 protected:
  explicit file_awaiter_base(const char* what) noexcept : io_wait(what) {
    on_completion<&completed_natively>();
  }
  ~file_awaiter_base();

  /// The operation's result, >= 0 or -errno. Throws cancelled_error when the cancel took
  /// effect or was pending before the await; rethrows what kept the thread pool from starting
  /// the call. A result that beat the cancel is returned, and the cancel stays pending.
  std::int64_t settle_file();

  /// settle_file(), throwing std::system_error(errno, what) for a failure.
  std::int64_t finish() {
    const std::int64_t outcome = settle_file();
    if (outcome < 0) {
      throw_system_error(outcome);
    }
    return outcome;
  }

  /// The result is a descriptor that must be closed if no one takes it (openat).
  bool result_is_descriptor_ = false;

 private:
  static void completed_natively(kernel_op& op) noexcept {
    static_cast<file_awaiter_base&>(op).resume();
  }

  bool cancel_wait(task_base& waiter) noexcept override;

  // The thread-pool route (src/file_op.cpp): the call is on the pool while pool_call_ is set.
  bool start_on_pool();
  static void pool_call_delivered(void* owner, worker_call_base& call) noexcept;
  void let_go_of_pool_call() noexcept;

  worker_call_base* pool_call_ = nullptr;  ///< pool route, until the outcome is delivered
  pool_file_job* pool_job_ = nullptr;      ///< shared with the worker; same lifetime
  std::exception_ptr start_error_;         ///< the pool refused the call (shut down)
  bool executor_dropped_ = false;          ///< shutdown(cancel_futures) dropped the call unrun
  bool settled_ = false;                   ///< await_resume has taken the result
};

/// Reads up to buffer.size() bytes at `offset` (no_offset: at the descriptor's position) into
/// the caller's buffer; yields the count, 0 at end of file.
class [[nodiscard]] file_read_awaiter final : public file_awaiter_base {
 public:
  file_read_awaiter(int file_fd, std::span<std::byte> buffer, std::uint64_t at) noexcept
      : file_awaiter_base("file::read") {
    opcode = io_opcode::read;
    fd = file_fd;
    this->buffer = buffer.data();
    length = buffer.size();
    offset = at;
  }
  std::size_t await_resume() { return static_cast<std::size_t>(finish()); }
};

/// Writes up to data.size() bytes at `offset` (no_offset: at the position, or at the end with
/// O_APPEND); yields how many the kernel took.
class [[nodiscard]] file_write_awaiter final : public file_awaiter_base {
 public:
  file_write_awaiter(int file_fd, std::span<const std::byte> data, std::uint64_t at) noexcept
      : file_awaiter_base("file::write") {
    opcode = io_opcode::write;
    fd = file_fd;
    buffer = const_cast<std::byte*>(data.data());  // only read
    length = data.size();
    offset = at;
  }
  std::size_t await_resume() { return static_cast<std::size_t>(finish()); }
};

/// Opens `path` with open_flags (O_CLOEXEC is added) and creation mode `permissions`; yields
/// the descriptor. Throws std::system_error naming the path.
class [[nodiscard]] file_open_awaiter final : public file_awaiter_base {
 public:
  file_open_awaiter(std::string path, int open_flags, unsigned permissions)
      : file_awaiter_base("open_file"), path_(std::move(path)) {
    opcode = io_opcode::openat;
    fd = AT_FDCWD;
    buffer = path_.data();
    flags = open_flags | O_CLOEXEC;
    length = permissions;
    result_is_descriptor_ = true;
  }
  int await_resume();

 private:
  std::string path_;  ///< the kernel reads it until the completion
};

/// Closes a descriptor (the caller has already forgotten it). A close that a cancellation
/// kept from running is done synchronously before cancelled_error is thrown.
class [[nodiscard]] file_close_awaiter final : public file_awaiter_base {
 public:
  explicit file_close_awaiter(int file_fd) noexcept : file_awaiter_base("file::close") {
    opcode = io_opcode::close;
    fd = file_fd;
    result = -ECANCELED;  // until it has run
  }
  void await_resume();
};

/// fsync, or fdatasync when data_only.
class [[nodiscard]] file_sync_awaiter final : public file_awaiter_base {
 public:
  file_sync_awaiter(int file_fd, bool data_only) noexcept
      : file_awaiter_base(data_only ? "file::fdatasync" : "file::fsync") {
    opcode = io_opcode::fsync;
    fd = file_fd;
    flags = data_only ? fsync_datasync : 0;
  }
  void await_resume() { finish(); }
};

/// The size of an open file, from statx(STATX_SIZE).
class [[nodiscard]] file_size_awaiter final : public file_awaiter_base {
 public:
  explicit file_size_awaiter(int file_fd) noexcept : file_awaiter_base("file::size") {
    opcode = io_opcode::statx;
    fd = file_fd;
    buffer = &status_;
    length = STATX_SIZE;
  }
  std::uint64_t await_resume() {
    finish();
    return status_.stx_size;
  }

 private:
  struct statx status_{};  ///< written by the kernel (or the worker)
};

}  // namespace eddy::detail
