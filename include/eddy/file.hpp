// Asynchronous files: eddy::file, open_file, read_file and write_file.
//
// asyncio has no files of its own (people reach for aiofiles or to_thread); this is eddy's
// addition. On io_uring every operation is an io_uring operation (OPENAT, READ, WRITE, FSYNC,
// STATX, CLOSE); on epoll, or on a kernel without those opcodes, the same system calls run on
// the loop's default executor (see event_loop::native_file_ops). Results, errors and
// cancellation behave the same on both routes. docs/files.md has the guide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "eddy/coro.hpp"
#include "eddy/detail/file_op.hpp"
#include "eddy/detail/resource_warning.hpp"

namespace eddy {

/// An open file: a descriptor (close-on-exec) and the position read() and write() use.
///
/// Move-only; the moved-from file is closed. Destroying an open file closes its descriptor
/// synchronously (close(2) on a regular file does not wait for the disk); `co_await f.close()`
/// is the asynchronous way, and reports close's errors.
///
/// In debug mode, destroying an open file (or assigning over one) reports
/// "unclosed file <fd=5 path='data.txt'>" through the exception handler of the loop it was
/// opened on (Python's ResourceWarning for an unclosed file), then closes it as always.
/// `co_await f.close()` first. read_file() and write_file() never leave one to report.
///
/// All members run on the loop's thread, inside a task. The file must outlive every await on
/// it. Members throw std::system_error(EBADF) at once on a closed file.
///
/// Positions: read() and write() work at the file's position, which eddy keeps itself (the
/// kernel's own position is not used, except in append mode, where the kernel appends) and
/// advances by what was transferred; tell() and seek() read and set it. read_at() and
/// write_at() take an offset and leave the position alone, so any number of them may run at
/// once, from any number of tasks. Running two read()/write() calls at once on one file is
/// not meaningful (both would start at the same position).
///
/// Descriptors that cannot seek (a FIFO, a terminal) read and write at the kernel's
/// position; read_at()/write_at() on them throw std::system_error(ESPIPE).
///
/// Cancel safety of every awaitable here: see detail::file_awaiter_base. In short, a cancel
/// is prompt on io_uring and for calls no worker has started; a call already running on a
/// worker finishes first. Data never goes into freed memory. A read that completed is
/// delivered (and the cancel is thrown at the next await), except where a member says
/// otherwise.
class file {
 public:
  /// A closed file.
  file() noexcept = default;
  /// Takes ownership of `fd`, an open descriptor (for example from ::open). `name` is what
  /// path() returns. Throws std::invalid_argument for a negative fd, std::system_error if
  /// fstat fails on it.
  explicit file(int fd, std::string name = {});
  file(file&& other) noexcept;
  /// Closes this file (synchronously; in debug mode an open one is reported, see the class
  /// comment) and takes other's descriptor and position.
  file& operator=(file&& other) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  /// Closes the descriptor synchronously if it is still open (in debug mode reporting it, see
  /// the class comment).
  ~file();

  /// Reads up to max_bytes at the position and advances it by the count. For a regular file
  /// this keeps reading until max_bytes have arrived or the end of the file: the result is
  /// shorter only at the end, and empty there. For a descriptor that cannot seek it is one
  /// read (what is available, as a pipe gives it, at most 64 KiB). Memory grows with what
  /// arrives, so read(SIZE_MAX) reads to the end like read(), and a count far beyond the
  /// file's size allocates only what the file holds. Throws std::system_error with the errno.
  /// Cancel safety: the position moves only when the whole read is done, so a cancelled
  /// read(n) on a regular file consumed nothing; the next read starts at the same place.
  [[nodiscard]] coro<std::string> read(std::size_t max_bytes);
  /// Reads from the position to the end of the file (one statx for the size, then reads
  /// until one returns nothing) and advances the position. Cancel safety as read(n).
  [[nodiscard]] coro<std::string> read();

  /// Reads up to buffer.size() bytes at `offset` straight into `buffer` (no copy); yields the
  /// count, 0 at or past the end. One read: a count below buffer.size() is possible (near
  /// the end of the file, or past 2 GiB). `buffer` must stay alive until the await ends.
  /// Throws std::invalid_argument for an offset above INT64_MAX.
  [[nodiscard]] detail::file_read_awaiter read_at(std::uint64_t offset,
                                                  std::span<std::byte> buffer) const;
  [[nodiscard]] detail::file_read_awaiter read_at(std::uint64_t offset,
                                                  std::span<char> buffer) const {
    return read_at(offset, std::as_writable_bytes(buffer));
  }

  /// Writes all of `data` at the position (in append mode: at the end) and advances the
  /// position; yields data.size(). `data` must stay alive until the await ends. Cancel safety:
  /// like sock_sendall, a cancelled write may have written a prefix of `data`; the position
  /// counts what was written.
  [[nodiscard]] coro<std::size_t> write(std::string_view data);
  /// Writes all of `data` at `offset` (short writes are continued); yields data.size(). The
  /// position does not move. Throws std::invalid_argument for an offset above INT64_MAX.
  /// Cancel safety as write().
  [[nodiscard]] coro<std::size_t> write_at(std::uint64_t offset, std::string_view data) const;

  /// fsync(2): data and metadata reach the device.
  [[nodiscard]] detail::file_sync_awaiter fsync() const;
  /// fdatasync(2): data (and the metadata needed to read it) reach the device.
  [[nodiscard]] detail::file_sync_awaiter fdatasync() const;
  /// The file's size in bytes now (statx, STATX_SIZE).
  [[nodiscard]] detail::file_size_awaiter size() const;

  /// Closes the descriptor. The file is closed from the start of the await, whatever happens;
  /// a cancelled close still closes (synchronously) and then throws cancelled_error. Closing
  /// a closed file does nothing (as Python's close()). Throws std::system_error for what
  /// close(2) reports (EIO, say).
  [[nodiscard]] coro<void> close();

  /// The position read() and write() use.
  [[nodiscard]] std::uint64_t tell() const noexcept { return position_; }
  /// Sets the position (a plain offset from the start; past the end is allowed, as lseek).
  /// Throws std::invalid_argument above INT64_MAX.
  void seek(std::uint64_t position);

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  /// The path it was opened with (Python's file.name).
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  friend coro<std::string> read_file(std::string path);
  friend coro<std::size_t> write_file(std::string path, std::string_view data,
                                      unsigned permissions);

  class quiet_close_guard;  ///< close_quietly() at the end of a scope (file.cpp)

  void check_open(const char* what) const;
  /// Reports this file in debug mode if it is open (destructor, move assignment).
  void report_if_open() const noexcept;
  /// Closes the descriptor at once, without a report: read_file() and write_file() on failure
  /// or cancellation.
  void close_quietly() noexcept;
  [[nodiscard]] coro<std::string> read_up_to(std::size_t max_bytes);
  [[nodiscard]] coro<std::string> read_to_end();
  [[nodiscard]] coro<std::size_t> write_all(std::string_view data);
  [[nodiscard]] coro<std::size_t> write_all_at(std::uint64_t offset, std::string_view data) const;

  int fd_ = -1;
  std::uint64_t position_ = 0;
  bool seekable_ = true;
  bool append_ = false;
  std::string path_;
  /// The loop the file was opened on (the one running when it took its descriptor).
  detail::loop_binding loop_;
};

/// Opens `path` (Python's open(), binary only). mode is one of "r", "w", "a", "x", each
/// optionally with "+" (read and write) and "b" (accepted and ignored: eddy files are always
/// binary):
///   r  read; the file must exist           w  write; created or truncated
///   a  write at the end; created           x  write; created, must not exist (EEXIST)
/// New files get `permissions` (minus the umask). The descriptor is close-on-exec.
/// Throws std::invalid_argument at once for a bad mode (naming it), and from the await
/// std::system_error with the errno (ENOENT, EACCES, EISDIR, EEXIST...) naming the path.
/// Cancel safety: a cancelled open yields no file; if the kernel had opened it already, the
/// descriptor is closed (a file it created or truncated stays created or truncated).
[[nodiscard]] coro<file> open_file(std::string path, std::string_view mode = "r",
                                   unsigned permissions = 0666);
/// Opens with explicit open(2) flags (O_RDONLY, O_WRONLY | O_CREAT | O_DIRECT, ...);
/// O_CLOEXEC is always added. Append mode follows O_APPEND. Errors as above.
[[nodiscard]] coro<file> open_file(std::string path, int flags, unsigned permissions = 0666);

/// The whole content of the file at `path` (open "r", read to the end, close). Throws like
/// open_file and file::read. Cancel safety: nothing is left open.
[[nodiscard]] coro<std::string> read_file(std::string path);
/// Creates or truncates the file at `path` and writes all of `data` (which must stay alive
/// until the await ends); yields data.size(). Throws like open_file and file::write. Cancel
/// safety: nothing is left open; the file may hold a prefix of `data`.
[[nodiscard]] coro<std::size_t> write_file(std::string path, std::string_view data,
                                           unsigned permissions = 0666);

}  // namespace eddy
