// eddy::file, open_file, read_file and write_file (eddy/file.hpp).
#include "eddy/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace eddy {
namespace {

constexpr std::uint64_t largest_offset = std::numeric_limits<std::int64_t>::max();

/// How much read() asks for at a time once the size hint is used up.
constexpr std::size_t read_growth = 64 * 1024;

void check_offset(const char* what, std::uint64_t offset) {
  if (offset > largest_offset) {
    throw std::invalid_argument(std::string(what) + ": offset " + std::to_string(offset) +
                                " is above INT64_MAX");
  }
}

std::span<std::byte> writable_bytes(std::string& text, std::size_t from) noexcept {
  return std::as_writable_bytes(std::span(text.data() + from, text.size() - from));
}

std::span<const std::byte> bytes_of(std::string_view text) noexcept {
  return std::as_bytes(std::span(text.data(), text.size()));
}

/// open(2) flags for a Python open() mode; throws std::invalid_argument naming the mode.
int flags_for_mode(std::string_view mode) {
  char kind = '\0';
  bool plus = false;
  bool binary = false;
  bool valid = !mode.empty();
  for (const char each : mode) {
    if (each == 'r' || each == 'w' || each == 'a' || each == 'x') {
      valid = valid && kind == '\0';
      kind = each;
    } else if (each == '+') {
      valid = valid && !plus;
      plus = true;
    } else if (each == 'b') {
      valid = valid && !binary;
      binary = true;
    } else {
      valid = false;
    }
  }
  if (!valid || kind == '\0') {
    throw std::invalid_argument("open_file: invalid mode '" + std::string(mode) +
                                "' (expected r, w, a or x, optionally with + and b)");
  }
  const int access = plus ? O_RDWR : (kind == 'r' ? O_RDONLY : O_WRONLY);
  switch (kind) {
    case 'w':
      return access | O_CREAT | O_TRUNC;
    case 'a':
      return access | O_CREAT | O_APPEND;
    case 'x':
      return access | O_CREAT | O_EXCL;
    default:
      return access;
  }
}

coro<file> open_with_flags(std::string path, int flags, unsigned permissions) {
  detail::file_open_awaiter opening(path, flags, permissions);
  const int fd = co_await opening;
  co_return file(fd, std::move(path));
}

}  // namespace

/// Closes `opened` quietly when the scope is left early (an exception, a cancellation, the task
/// destroyed by a closing loop): read_file and write_file own their file, so none is left for
/// debug mode to report.
class file::quiet_close_guard {
 public:
  explicit quiet_close_guard(file& opened) noexcept : opened_(opened) {}
  quiet_close_guard(const quiet_close_guard&) = delete;
  quiet_close_guard& operator=(const quiet_close_guard&) = delete;
  ~quiet_close_guard() { opened_.close_quietly(); }

 private:
  file& opened_;
};

// --- file: lifetime -------------------------------------------------------------------------

file::file(int fd, std::string name) : path_(std::move(name)) {
  if (fd < 0) {
    throw std::invalid_argument("file: invalid descriptor " + std::to_string(fd));
  }
  // Both are answered from the open file's in-memory state; they never wait for a disk.
  struct stat status{};
  if (::fstat(fd, &status) < 0) {
    throw std::system_error(errno, std::system_category(), "file: fstat");
  }
  seekable_ = S_ISREG(status.st_mode) || S_ISBLK(status.st_mode);
  const int status_flags = ::fcntl(fd, F_GETFL);
  append_ = status_flags >= 0 && (status_flags & O_APPEND) != 0;
  if (append_ && seekable_) {
    position_ = static_cast<std::uint64_t>(status.st_size);  // Python's "a" starts at the end
  }
  fd_ = fd;
  loop_ = detail::loop_binding::running();
}

file::file(file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      position_(std::exchange(other.position_, 0)),
      seekable_(other.seekable_),
      append_(other.append_),
      path_(std::move(other.path_)),
      loop_(other.loop_) {}

file& file::operator=(file&& other) noexcept {
  if (this != &other) {
    report_if_open();
    close_quietly();
    fd_ = std::exchange(other.fd_, -1);
    position_ = std::exchange(other.position_, 0);
    seekable_ = other.seekable_;
    append_ = other.append_;
    path_ = std::move(other.path_);
    loop_ = other.loop_;
  }
  return *this;
}

file::~file() {
  report_if_open();
  close_quietly();
}

void file::report_if_open() const noexcept {
  if (fd_ < 0) {
    return;
  }
  detail::report_unclosed(loop_.loop, loop_.id, [this] {
    return path_.empty() ? fmt::format("unclosed file <fd={}>", fd_)
                         : fmt::format("unclosed file <fd={} path='{}'>", fd_, path_);
  });
}

void file::close_quietly() noexcept {
  if (fd_ >= 0) {
    ::close(std::exchange(fd_, -1));
  }
}

void file::check_open(const char* what) const {
  if (fd_ < 0) {
    throw std::system_error(EBADF, std::system_category(),
                            std::string(what) + ": the file is closed");
  }
}

void file::seek(std::uint64_t position) {
  check_offset("file::seek", position);
  position_ = position;
}

// --- reading --------------------------------------------------------------------------------

detail::file_read_awaiter file::read_at(std::uint64_t offset, std::span<std::byte> buffer) const {
  check_open("file::read_at");
  check_offset("file::read_at", offset);
  if (!seekable_) {
    throw std::system_error(ESPIPE, std::system_category(), "file::read_at: " + path_);
  }
  return detail::file_read_awaiter(fd_, buffer, offset);
}

coro<std::string> file::read(std::size_t max_bytes) {
  check_open("file::read");
  return read_up_to(max_bytes);
}

coro<std::string> file::read() {
  check_open("file::read");
  return read_to_end();
}

coro<std::string> file::read_up_to(std::size_t max_bytes) {
  // The buffer grows with what arrives, never to max_bytes up front: read(SIZE_MAX) is "read to
  // the end", and a huge count on a small file commits no memory it does not fill.
  std::string data(std::min(max_bytes, read_growth), '\0');
  std::size_t filled = 0;
  while (filled < max_bytes) {
    if (filled == data.size()) {
      const std::size_t room = max_bytes - filled;
      data.resize(filled + std::min(room, std::max(read_growth, filled / 2)));
    }
    const std::uint64_t at = seekable_ ? position_ + filled : detail::no_offset;
    detail::file_read_awaiter reading(fd_, writable_bytes(data, filled), at);
    const std::size_t count = co_await reading;
    filled += count;
    if (count == 0 || !seekable_) {
      break;
    }
  }
  data.resize(filled);
  position_ += filled;  // only now: a cancelled read(n) consumed nothing
  co_return data;
}

coro<std::string> file::read_to_end() {
  std::size_t expected = 0;
  if (seekable_) {
    detail::file_size_awaiter sizing(fd_);
    const std::uint64_t size = co_await sizing;
    expected = size > position_ ? static_cast<std::size_t>(size - position_) : 0;
  }
  // One byte more than expected, so that a file of the expected size takes one read and the
  // read that confirms the end.
  std::string data(expected + 1, '\0');
  std::size_t filled = 0;
  while (true) {
    if (filled == data.size()) {
      data.resize(data.size() + std::max(read_growth, data.size() / 2));
    }
    const std::uint64_t at = seekable_ ? position_ + filled : detail::no_offset;
    detail::file_read_awaiter reading(fd_, writable_bytes(data, filled), at);
    const std::size_t count = co_await reading;
    if (count == 0) {
      break;
    }
    filled += count;
  }
  data.resize(filled);
  position_ += filled;
  co_return data;
}

// --- writing --------------------------------------------------------------------------------

coro<std::size_t> file::write(std::string_view data) {
  check_open("file::write");
  return write_all(data);
}

coro<std::size_t> file::write_at(std::uint64_t offset, std::string_view data) const {
  check_open("file::write_at");
  check_offset("file::write_at", offset);
  if (!seekable_) {
    throw std::system_error(ESPIPE, std::system_category(), "file::write_at: " + path_);
  }
  return write_all_at(offset, data);
}

coro<std::size_t> file::write_all(std::string_view data) {
  std::size_t written = 0;
  while (written < data.size()) {
    // Append mode: the kernel writes at the end (no_offset), atomically per write.
    const std::uint64_t at = seekable_ && !append_ ? position_ : detail::no_offset;
    detail::file_write_awaiter writing(fd_, bytes_of(data.substr(written)), at);
    const std::size_t count = co_await writing;
    written += count;
    position_ += count;  // the bytes are in the file, cancelled or not
  }
  co_return written;
}

coro<std::size_t> file::write_all_at(std::uint64_t offset, std::string_view data) const {
  std::size_t written = 0;
  while (written < data.size()) {
    detail::file_write_awaiter writing(fd_, bytes_of(data.substr(written)), offset + written);
    written += co_await writing;
  }
  co_return written;
}

// --- the rest -------------------------------------------------------------------------------

detail::file_sync_awaiter file::fsync() const {
  check_open("file::fsync");
  return detail::file_sync_awaiter(fd_, false);
}

detail::file_sync_awaiter file::fdatasync() const {
  check_open("file::fdatasync");
  return detail::file_sync_awaiter(fd_, true);
}

detail::file_size_awaiter file::size() const {
  check_open("file::size");
  return detail::file_size_awaiter(fd_);
}

coro<void> file::close() {
  if (fd_ < 0) {
    co_return;
  }
  detail::file_close_awaiter closing(std::exchange(fd_, -1));
  co_await closing;
}

// --- opening --------------------------------------------------------------------------------

coro<file> open_file(std::string path, std::string_view mode, unsigned permissions) {
  return open_with_flags(std::move(path), flags_for_mode(mode), permissions);
}

coro<file> open_file(std::string path, int flags, unsigned permissions) {
  return open_with_flags(std::move(path), flags, permissions);
}

coro<std::string> read_file(std::string path) {
  file opened = co_await open_file(std::move(path), "r");
  const file::quiet_close_guard guard(opened);
  std::string content = co_await opened.read();
  co_await opened.close();
  co_return content;
}

coro<std::size_t> write_file(std::string path, std::string_view data, unsigned permissions) {
  file opened = co_await open_file(std::move(path), "w", permissions);
  const file::quiet_close_guard guard(opened);
  const std::size_t written = co_await opened.write(data);
  co_await opened.close();
  co_return written;
}

}  // namespace eddy
