// stream_reader / stream_writer handles, the writer's operations, and adopting descriptors.
#include "eddy/net/stream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace detail {

void check_stream_options(const stream_options& options, const char* what) {
  if (options.limit == 0) {
    throw std::invalid_argument(fmt::format("{}: limit must be > 0, got 0", what));
  }
  if (options.high_water == 0 || options.low_water == 0 || options.low_water > options.high_water) {
    throw std::invalid_argument(
        fmt::format("{}: need 0 < low_water <= high_water, got low_water={} high_water={}", what,
                    options.low_water, options.high_water));
  }
}

namespace {

/// Takes ownership of fd: closes it if no stream can be made (no running loop, no memory).
stream_state* adopt(int fd, stream_state::kind what, const stream_options& options) {
  try {
    loop_core& loop = core_of(get_running_loop());
    return new stream_state(loop, fd, what, options);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

/// write(2) on a pipe has no MSG_NOSIGNAL: a pipe whose reader is gone would raise SIGPIPE
/// and kill the process. As CPython does at startup, SIGPIPE is ignored (unless the program
/// installed a disposition of its own), so the write fails with EPIPE and drain() reports it.
void ignore_sigpipe_unless_handled() {
  static std::once_flag checked;
  std::call_once(checked, [] {
    struct sigaction current{};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
        current.sa_handler == SIG_DFL) {
      struct sigaction ignore{};
      ignore.sa_handler = SIG_IGN;
      ::sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

}  // namespace
}  // namespace detail

// --- stream_reader handle --------------------------------------------------------------------

stream_reader::stream_reader(detail::stream_state* state) noexcept : state_(state) {
  state_->add_handle();
}
stream_reader::stream_reader(const stream_reader& other) noexcept : state_(other.state_) {
  if (state_ != nullptr) {
    state_->add_handle();
  }
}
stream_reader::stream_reader(stream_reader&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)) {}
stream_reader& stream_reader::operator=(const stream_reader& other) noexcept {
  stream_reader copy(other);
  std::swap(state_, copy.state_);
  return *this;
}
stream_reader& stream_reader::operator=(stream_reader&& other) noexcept {
  stream_reader moved(std::move(other));
  std::swap(state_, moved.state_);
  return *this;
}
stream_reader::~stream_reader() {
  if (state_ != nullptr) {
    state_->drop_handle();
  }
}

detail::stream_state& stream_reader::state(const char* what) const {
  if (state_ == nullptr) {
    throw invalid_state_error(std::string(what) + ": the stream_reader is empty");
  }
  return *state_;
}

stream_reader stream_reader::from_pipe(int fd, std::size_t limit) {
  if (fd < 0) {
    throw std::invalid_argument(fmt::format("stream_reader::from_pipe: bad descriptor {}", fd));
  }
  stream_options options;
  options.limit = limit;
  try {
    detail::check_stream_options(options, "stream_reader::from_pipe");
  } catch (...) {
    ::close(fd);
    throw;
  }
  return stream_reader(detail::adopt(fd, detail::stream_state::kind::pipe_reader, options));
}

bool stream_reader::at_eof() const {
  const detail::stream_state& s = state("at_eof");
  return s.eof() && s.buffered() == 0;
}
std::size_t stream_reader::buffered() const { return state("buffered").buffered(); }
std::size_t stream_reader::limit() const { return state("limit").limit(); }

// --- stream_writer handle --------------------------------------------------------------------

stream_writer::stream_writer(detail::stream_state* state) noexcept : state_(state) {
  state_->add_handle();
}
stream_writer::stream_writer(const stream_writer& other) noexcept : state_(other.state_) {
  if (state_ != nullptr) {
    state_->add_handle();
  }
}
stream_writer::stream_writer(stream_writer&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)) {}
stream_writer& stream_writer::operator=(const stream_writer& other) noexcept {
  stream_writer copy(other);
  std::swap(state_, copy.state_);
  return *this;
}
stream_writer& stream_writer::operator=(stream_writer&& other) noexcept {
  stream_writer moved(std::move(other));
  std::swap(state_, moved.state_);
  return *this;
}
stream_writer::~stream_writer() {
  if (state_ != nullptr) {
    state_->drop_handle();
  }
}

detail::stream_state& stream_writer::state(const char* what) const {
  if (state_ == nullptr) {
    throw invalid_state_error(std::string(what) + ": the stream_writer is empty");
  }
  return *state_;
}

void stream_writer::throw_if_lost(const char* what, bool reader_exception_too) const {
  if (reader_exception_too) {
    state_->throw_if_read_failed(what);  // asyncio's drain() raises reader.exception() first
  } else {
    state_->throw_if_failed(what);
  }
  // Closed by this side: the same error whether the flush has finished (epoll usually has, as
  // write() sends at once) or is still in the kernel (io_uring).
  if (state_->is_closing()) {
    throw std::system_error(ECONNRESET, std::system_category(),
                            std::string(what) + ": Connection lost");
  }
}

stream_writer stream_writer::from_pipe(int fd) {
  if (fd < 0) {
    throw std::invalid_argument(fmt::format("stream_writer::from_pipe: bad descriptor {}", fd));
  }
  detail::ignore_sigpipe_unless_handled();
  return stream_writer(detail::adopt(fd, detail::stream_state::kind::pipe_writer, {}));
}

void stream_writer::write(std::string_view data) const {
  state("write").write(data.data(), data.size(), "write");
}
void stream_writer::write(std::span<const std::byte> data) const {
  state("write").write(reinterpret_cast<const char*>(data.data()), data.size(), "write");
}
void stream_writer::writelines(std::initializer_list<std::string_view> pieces) const {
  detail::stream_state& s = state("writelines");
  for (std::string_view piece : pieces) {
    s.write(piece.data(), piece.size(), "writelines");
  }
}
void stream_writer::writelines(std::span<const std::string> pieces) const {
  detail::stream_state& s = state("writelines");
  for (const std::string& piece : pieces) {
    s.write(piece.data(), piece.size(), "writelines");
  }
}

stream_writer::drain_awaiter stream_writer::drain() const {
  state("drain");
  return drain_awaiter(*this);
}
stream_writer::wait_closed_awaiter stream_writer::wait_closed() const {
  state("wait_closed");
  return wait_closed_awaiter(*this);
}

void stream_writer::write_eof() const { state("write_eof").write_eof(); }
bool stream_writer::can_write_eof() const {
  return state("can_write_eof").transport() != detail::stream_state::kind::pipe_reader;
}
void stream_writer::close() const { state("close").close(); }
void stream_writer::abort() const { state("abort").abort(); }
bool stream_writer::is_closing() const { return state("is_closing").is_closing(); }
std::size_t stream_writer::write_buffer_size() const {
  return state("write_buffer_size").write_buffer_size();
}

address stream_writer::peername() const {
  const detail::stream_state& s = state("peername");
  if (s.transport() != detail::stream_state::kind::socket || s.is_closed()) {
    throw std::system_error(ENOTSOCK, std::system_category(), "peername: not an open socket");
  }
  address peer;
  socklen_t length = address::capacity();
  if (::getpeername(s.fd(), peer.native(), &length) != 0) {
    throw std::system_error(errno, std::system_category(), "getpeername");
  }
  peer.set_native_length(length);
  return peer;
}

address stream_writer::sockname() const {
  const detail::stream_state& s = state("sockname");
  if (s.transport() != detail::stream_state::kind::socket || s.is_closed()) {
    throw std::system_error(ENOTSOCK, std::system_category(), "sockname: not an open socket");
  }
  address local;
  socklen_t length = address::capacity();
  if (::getsockname(s.fd(), local.native(), &length) != 0) {
    throw std::system_error(errno, std::system_category(), "getsockname");
  }
  local.set_native_length(length);
  return local;
}

std::any stream_writer::get_extra_info(std::string_view name) const {
  const detail::stream_state& s = state("get_extra_info");
  bool open_socket = s.transport() == detail::stream_state::kind::socket && !s.is_closed();
  if (name == "peername" && open_socket) {
    return peername();
  }
  if (name == "sockname" && open_socket) {
    return sockname();
  }
  if ((name == "socket" && open_socket) || (name == "pipe" && !open_socket && !s.is_closed())) {
    return s.fd();
  }
  if (name == "limit") {
    return s.limit();
  }
  return {};
}

// --- adopting a connected socket -------------------------------------------------------------

std::pair<stream_reader, stream_writer> open_streams(socket connected, stream_options options) {
  if (!connected.is_open()) {
    throw std::invalid_argument("open_streams: the socket is closed");
  }
  detail::check_stream_options(options, "open_streams");
  int domain = connected.get_option(SOL_SOCKET, SO_DOMAIN);
  if (domain == AF_INET || domain == AF_INET6) {
    connected.set_no_delay(true);  // as asyncio: small writes go out at once
  }
  auto* state = detail::adopt(connected.release(), detail::stream_state::kind::socket, options);
  return {detail::stream_access::make_reader(state), detail::stream_access::make_writer(state)};
}

}  // namespace eddy
