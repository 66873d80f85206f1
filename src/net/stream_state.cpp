// The shared connection state behind stream_reader and stream_writer: buffers, the two ops,
// and closing.
#include "eddy/net/detail/stream_state.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "eddy/detail/resource_warning.hpp"
#include "eddy/net/address.hpp"

namespace eddy::detail {

namespace {
/// A receive into the buffer asks for at least this much room (compacting or growing first).
constexpr std::size_t min_receive_space = 4 * 1024;
constexpr std::size_t initial_read_capacity = 16 * 1024;

/// What getpeername or getsockname (`query`) says about `fd`, as address::to_string; "" when
/// it fails or names nothing (an unnamed Unix socket).
std::string socket_name(int fd, int (*query)(int, sockaddr*, socklen_t*)) {
  address name;
  socklen_t length = address::capacity();
  if (query(fd, name.native(), &length) != 0) {
    return {};
  }
  name.set_native_length(length);
  std::string text = name.to_string();
  return text == "unix:" ? std::string() : text;
}
}  // namespace

// --- registry --------------------------------------------------------------------------------

void connection_registry::add(stream_state& connection) noexcept {
  connection.registry_ = this;
  connections_.push_front(connection);
  ++count_;
}

void connection_registry::remove(stream_state& connection) noexcept {
  connections_.remove(connection);
  connection.registry_ = nullptr;
  --count_;
}

connection_registry::~connection_registry() {
  while (registry_node* node = connections_.front()) {
    remove(static_cast<stream_state&>(*node));
  }
}

// --- life ------------------------------------------------------------------------------------

stream_state::stream_state(loop_core& loop, int fd, kind what, const stream_options& options)
    : ref_counted(0),
      loop_(&loop),
      loop_id_(loop.id()),
      fd_(fd),
      kind_(what),
      limit_(options.limit),
      high_water_(options.high_water),
      low_water_(options.low_water) {
  read_op_.owner = this;
  read_op_.on_completion<&receive_completed>();
  use_multishot_ = what == kind::socket && loop.supports_multishot();
  write_op_.owner = this;
  write_op_.on_completion<&send_completed>();
}

stream_state::~stream_state() {
  if (registry_ != nullptr) {
    registry_->remove(*this);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void stream_state::drop_handle() noexcept {
  if (--handles_ == 0) {
    if (!closing_ && !lost_) [[unlikely]] {
      report_dropped_open();
    }
    close();
  }
  release();
}

void stream_state::report_dropped_open() noexcept {
  if (kind_ == kind::pipe_reader || unclosed_reported_) {
    return;  // a pipe reader has no close(); a process's pipe was reported by the process
  }
  report_unclosed(loop_, loop_id_, [this]() -> std::string {
    if (kind_ == kind::pipe_writer) {
      // asyncio's write pipe transport closes by itself once the reader is gone.
      return pipe_peer_gone(fd_) ? std::string()
                                 : fmt::format("unclosed stream_writer <fd={} pipe>", fd_);
    }
    // The peer names the connection; a Unix socket's accepted end has an unnamed peer, and
    // its own (bound) name says more.
    if (std::string peer = socket_name(fd_, ::getpeername); !peer.empty()) {
      return fmt::format("unclosed stream_writer <fd={} peer={}>", fd_, peer);
    }
    if (std::string local = socket_name(fd_, ::getsockname); !local.empty()) {
      return fmt::format("unclosed stream_writer <fd={} local={}>", fd_, local);
    }
    return fmt::format("unclosed stream_writer <fd={}>", fd_);
  });
}

bool stream_state::pipe_left_open() const noexcept {
  const bool open_here = kind_ == kind::pipe_writer ? !closing_ && !lost_ : !eof_ && !lost_;
  return open_here && fd_ >= 0 && !pipe_peer_gone(fd_);
}

bool stream_state::loop_usable() const noexcept {
  return (running_loop_on_thread == loop_ || loop_core::is_live(loop_)) &&
         !loop_->is_closed_for_callbacks();
}

void stream_state::throw_if_failed(const char* what) const {
  if (error_ != 0) {
    throw std::system_error(error_, std::system_category(), what);
  }
}

void stream_state::throw_if_read_failed(const char* what) const {
  if (exception_) {
    std::rethrow_exception(exception_);
  }
  throw_if_failed(what);
}

std::exception_ptr stream_state::exception() const {
  if (exception_) {
    return exception_;
  }
  if (error_ != 0) {
    return std::make_exception_ptr(
        std::system_error(error_, std::system_category(), "connection lost"));
  }
  return nullptr;
}

void stream_state::set_exception(std::exception_ptr error) noexcept {
  exception_ = std::move(error);
  stream_receive_awaiter* waiter = read_waiter_;
  if (waiter == nullptr || waiter->cancel_requested()) {
    return;  // nobody waits, or the waiter leaves with its cancellation anyway (asyncio)
  }
  if (read_op_.opcode == io_opcode::recv_multishot) {
    // The armed receive feeds the buffer, not the waiter: it can leave at once.
    read_waiter_ = nullptr;
    waiter->result_ = 0;
    waiter->resume();
    return;
  }
  // A plain receive owns the buffer (or the caller's span) until it completes: ask the kernel
  // to stop; receive_completed wakes the waiter, and the read then throws exception_. Bytes
  // that arrived first stay buffered (or, for read_into, are returned).
  read_op_.cancel();
}

void stream_state::check_no_pending_read(const char* what) const {
  if (read_waiter_ != nullptr) {
    throw std::runtime_error(
        std::string(what) + " called while another coroutine is already waiting for incoming data");
  }
}

// --- reading ---------------------------------------------------------------------------------

std::string stream_state::take(std::size_t n) {
  std::string data(reinterpret_cast<const char*>(read_buffer_.get()) + read_begin_, n);
  discard(n);
  return data;
}

void stream_state::discard(std::size_t n) noexcept {
  read_begin_ += n;
  if (read_begin_ == read_end_) {
    read_begin_ = read_end_ = 0;  // empty: the next receive starts at the front again
  }
}

void stream_state::prepare_receive_space() {
  if (read_capacity_ - read_end_ >= min_receive_space) {
    return;
  }
  std::size_t held = buffered();
  if (read_begin_ > 0 && read_capacity_ - held >= min_receive_space && held <= read_capacity_ / 2) {
    std::memmove(read_buffer_.get(), read_buffer_.get() + read_begin_, held);
  } else {
    std::size_t capacity = read_capacity_ == 0 ? initial_read_capacity : read_capacity_ * 2;
    while (capacity - held < min_receive_space) {
      capacity *= 2;
    }
    // new T[] of a trivial type leaves the bytes uninitialised: no zero-fill per growth.
    std::unique_ptr<std::byte[]> grown(new std::byte[capacity]);
    if (held > 0) {
      std::memcpy(grown.get(), read_buffer_.get() + read_begin_, held);
    }
    read_buffer_ = std::move(grown);
    read_capacity_ = capacity;
  }
  read_begin_ = 0;
  read_end_ = held;
}

bool stream_state::start_receive(stream_receive_awaiter& waiter, std::span<std::byte> into) {
  if (use_multishot_) {
    // The armed receive delivers (into `into` when it asks for it, else into the buffer); a
    // receive paused or ended by the kernel is armed again.
    if (!read_op_.in_flight()) {
      arm_multishot();
    }
    read_waiter_ = &waiter;
    return false;
  }
  receiving_into_buffer_ = into.empty();
  if (receiving_into_buffer_) {
    prepare_receive_space();
    read_op_.buffer = read_buffer_.get() + read_end_;
    read_op_.length = read_capacity_ - read_end_;
  } else {
    read_op_.buffer = into.data();
    read_op_.length = into.size();
  }
  read_op_.fd = fd_;
  read_op_.opcode = kind_ == kind::socket ? io_opcode::recv : io_opcode::read;
  read_op_.flags = 0;
  read_op_.offset = no_offset;
  read_op_.result = 0;
  if (read_op_.start(*loop_)) {
    apply_receive_result(read_op_.result, receiving_into_buffer_);
    waiter.result_ = read_op_.result;
    return true;
  }
  read_waiter_ = &waiter;
  add_ref();  // the kernel's: the buffer stays alive until the op completes
  return false;
}

void stream_state::apply_receive_result(std::int64_t result, bool into_buffer) noexcept {
  if (result > 0) {
    if (into_buffer) {
      read_end_ += static_cast<std::size_t>(result);
    }
  } else if (result == 0) {
    eof_ = true;
  } else if (result != -ECANCELED && !lost_) {
    fail(static_cast<int>(-result));
  }
}

void stream_state::arm_multishot() {
  read_op_.fd = fd_;
  read_op_.opcode = io_opcode::recv_multishot;
  read_op_.flags = 0;
  read_op_.buffer = nullptr;
  read_op_.length = 0;
  read_op_.result = 0;
  read_op_.more = false;
  add_ref();  // the kernel's, until the receive's last completion
  bool completed_at_once = false;
  try {
    completed_at_once = read_op_.start(*loop_);
  } catch (...) {
    release();
    throw;
  }
  if (completed_at_once) {
    multishot_received(read_op_);
  }
}

void stream_state::deliver(const std::byte* data, std::size_t size) noexcept {
  std::size_t to_caller = 0;
  if (read_waiter_ != nullptr && !read_waiter_->into_.empty() && buffered() == 0) {
    // read_into(): straight into the caller's span, the rest (if any) into the buffer.
    to_caller = std::min(size, read_waiter_->into_.size());
    std::memcpy(read_waiter_->into_.data(), data, to_caller);
  }
  std::size_t rest = size - to_caller;
  if (rest > 0) {
    try {
      prepare_receive_space();  // at least min_receive_space (4 KiB, one provided buffer) free
    } catch (...) {
      fail(ENOMEM);
      return;
    }
    std::memcpy(read_buffer_.get() + read_end_, data + to_caller, rest);
    read_end_ += rest;
  }
  if (read_waiter_ != nullptr) {
    read_waiter_->result_ = static_cast<std::int64_t>(to_caller > 0 ? to_caller : size);
  }
}

void stream_state::multishot_received(kernel_op& op) noexcept {
  const bool last = !op.more;
  bool news = true;  // something a waiting reader must hear about
  if (op.result > 0) {
    if (!lost_) {
      deliver(static_cast<const std::byte*>(op.buffer), static_cast<std::size_t>(op.result));
      if (!last && read_waiter_ == nullptr && buffered() > pause_threshold() && !lost_) {
        read_op_.cancel();  // the reader is behind: let the socket buffer fill instead
      }
    }
  } else if (op.result == 0) {
    eof_ = true;
  } else if (op.result == -ENOBUFS || op.result == -ECANCELED) {
    news = false;  // paused, or out of provided buffers for a moment: arm again if needed
  } else if (op.result == -EINVAL && !loop_->supports_multishot()) {
    use_multishot_ = false;  // a kernel without multishot receive: plain receives from now on
    news = false;
  } else if (!lost_) {
    fail(static_cast<int>(-op.result));
  }
  if (read_waiter_ != nullptr && !news && !read_op_.in_flight() && !lost_ && loop_usable()) {
    // A reader still waits and nothing arrived: start receiving again for it (a multishot
    // receive, or a plain one after the fallback).
    stream_receive_awaiter* waiter = std::exchange(read_waiter_, nullptr);
    bool done = false;
    try {
      done = start_receive(*waiter, waiter->into_);
    } catch (...) {
      waiter->result_ = 0;
      done = true;
      fail(EBADF);
    }
    if (done) {
      waiter->resume();
    }
  }
  if (news || lost_ || !loop_usable()) {  // a closing loop takes the receive back: wake the reader
    if (stream_receive_awaiter* waiter = std::exchange(read_waiter_, nullptr)) {
      if (op.result <= 0) {
        waiter->result_ = 0;
      }
      waiter->resume();
    }
  }
  if (last) {
    finish_close_if_idle();
    release();
  }
}

void stream_state::receive_completed(kernel_op& op) noexcept {
  stream_state& self = *static_cast<owned_op&>(op).owner;
  if (op.opcode == io_opcode::recv_multishot) {
    self.multishot_received(op);
    return;
  }
  self.apply_receive_result(op.result, self.receiving_into_buffer_);
  if (stream_receive_awaiter* waiter = std::exchange(self.read_waiter_, nullptr)) {
    waiter->result_ = op.result;
    waiter->resume();
  }
  self.finish_close_if_idle();
  self.release();
}

bool stream_receive_awaiter::await_suspend(std::coroutine_handle<> awaiting) {
  state_->check_no_pending_read(what());
  if (!begin(awaiting)) {
    return false;
  }
  if (state_->lost_) {
    result_ = 0;  // closed under us: end of file
    return false;
  }
  stops_on_cancel(state_->read_op_);
  try {
    return !state_->start_receive(*this, into_);
  } catch (...) {
    waiting_task().end_wait_keep_result();
    throw;
  }
}

std::size_t stream_receive_awaiter::await_resume() {
  if (started() && !into_.empty() && result_ > 0) {
    // The bytes exist only in the caller's span: hand them over, cancel at the next await.
    settle(result_);
  } else {
    // Bytes received into the buffer stay there, so throwing loses nothing.
    settle_kept_elsewhere();
  }
  return result_ > 0 ? static_cast<std::size_t>(result_) : 0;
}

bool stream_receive_awaiter::cancel_wait(task_base& waiter) noexcept {
  if (cancel_requested() || state_->read_waiter_ != this) {
    return false;
  }
  if (state_->read_op_.opcode == io_opcode::recv_multishot) {
    // The armed receive feeds the buffer, not this waiter: it can leave at once, and what
    // arrives later waits in the buffer for the next read.
    state_->read_waiter_ = nullptr;
    result_ = 0;
    return leave_now();
  }
  return io_wait::cancel_wait(waiter);
}

// --- writing ---------------------------------------------------------------------------------

void stream_state::write(const char* data, std::size_t size, const char* what) {
  if (eof_requested_) {
    throw std::runtime_error(std::string(what) + ": cannot call write() after write_eof()");
  }
  if (closing_ || lost_ || size == 0) {
    return;  // CPython 3.12: a transport that is closing or lost drops writes silently
  }
  if (kind_ == kind::pipe_reader) {
    throw std::runtime_error(std::string(what) + ": this stream is the read end of a pipe");
  }
  pending_.append(data, size);
  if (!write_op_.in_flight()) {
    if (!loop_usable()) {
      pending_.clear();
      throw std::runtime_error(std::string(what) + ": the event loop is closed");
    }
    start_send();
  }
}

void stream_state::start_send() {
  // Runs only when no send is in flight: the accumulated bytes become the ones in flight.
  sending_.swap(pending_);
  pending_.clear();
  sent_ = 0;
  send_until_in_flight();
}

void stream_state::send_until_in_flight() {
  while (true) {
    if (sent_ == sending_.size()) {
      sending_.clear();
      sent_ = 0;
      if (pending_.empty()) {
        flushed();
        return;
      }
      sending_.swap(pending_);
    }
    write_op_.fd = fd_;
    write_op_.opcode = kind_ == kind::socket ? io_opcode::send : io_opcode::write;
    write_op_.buffer = sending_.data() + sent_;
    write_op_.length = sending_.size() - sent_;
    write_op_.flags = 0;
    write_op_.offset = no_offset;
    write_op_.result = 0;
    if (!write_op_.start(*loop_)) {
      add_ref();  // the kernel's: sending_ stays alive until the op completes
      return;
    }
    // Completed at once (epoll tries the send straight away).
    if (write_op_.result < 0) {
      fail(static_cast<int>(-write_op_.result));
      return;
    }
    sent_ += static_cast<std::size_t>(write_op_.result);
  }
}

void stream_state::send_completed(kernel_op& op) noexcept {
  stream_state& self = *static_cast<owned_op&>(op).owner;
  self.continue_sending(op.result);
  self.finish_close_if_idle();
  self.release();
}

void stream_state::continue_sending(std::int64_t result) noexcept {
  if (lost_) {
    sending_.clear();
    sent_ = 0;
    return;
  }
  if (!loop_usable()) {
    teardown();  // the loop is closing and took the op back: no error, just the end
    return;
  }
  if (result < 0) {
    fail(static_cast<int>(-result));
    return;
  }
  sent_ += static_cast<std::size_t>(result);
  try {
    send_until_in_flight();
  } catch (...) {
    fail(EBADF);  // the backend refused the op; treat the connection as broken
    return;
  }
  // drain() waiters go as soon as the unsent bytes fall to the low-water mark.
  if (!lost_ && write_buffer_size() <= low_water_) {
    drain_waiters.wake_all(sync_waiter::state::granted);
  }
}

void stream_state::flushed() noexcept {
  drain_waiters.wake_all(sync_waiter::state::granted);
  if (closing_) {
    teardown();
  } else if (eof_requested_) {
    if (kind_ == kind::socket) {
      ::shutdown(fd_, SHUT_WR);
    } else {
      teardown();  // a pipe signals end of file by closing
    }
  }
}

void stream_state::write_eof() {
  if (eof_requested_ || closing_ || lost_) {
    return;
  }
  eof_requested_ = true;
  if (write_buffer_size() == 0 && !write_op_.in_flight()) {
    flushed();
  }
}

// --- closing ---------------------------------------------------------------------------------

void stream_state::close() noexcept {
  if (closing_ || lost_) {
    return;
  }
  closing_ = true;
  if (!write_op_.in_flight() && write_buffer_size() == 0) {
    teardown();
  }
}

void stream_state::abort() noexcept {
  if (lost_) {
    return;
  }
  closing_ = true;
  aborting_ = true;
  teardown();
}

void stream_state::fail(int error) noexcept {
  if (lost_) {
    return;
  }
  error_ = error;
  exception_ = nullptr;  // the failure replaces a set exception (asyncio's connection_lost)
  teardown();
}

void stream_state::teardown() noexcept {
  if (lost_) {
    return;
  }
  lost_ = true;
  eof_ = true;  // readers see end of file (or error_)
  pending_.clear();
  bool loop_alive = running_loop_on_thread == loop_ || loop_core::is_live(loop_);
  if (loop_alive) {
    read_op_.cancel();
    write_op_.cancel();
  }
  drain_waiters.wake_all(sync_waiter::state::closed);
  finish_close_if_idle();
}

void stream_state::finish_close_if_idle() noexcept {
  if (!lost_ || read_op_.in_flight() || write_op_.in_flight() || fd_ < 0) {
    return;
  }
  if (aborting_ && kind_ == kind::socket) {
    // An abortive close: the peer sees a reset instead of an orderly end of file.
    linger no_linger{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
  }
  ::close(fd_);
  fd_ = -1;
  closed_waiters.wake_all(sync_waiter::state::granted);
  if (registry_ != nullptr) {
    connection_registry* registry = registry_;
    registry->remove(*this);
    registry->connection_closed();
  }
}

}  // namespace eddy::detail
