// The awaiters of single socket operations: a kernel_op in the awaiting task's frame, awaited
// through io_wait (detail/io_wait.hpp: the cancellation protocol of DESIGN.md §6).
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "eddy/detail/io_wait.hpp"
#include "eddy/net/socket.hpp"

namespace eddy::detail {

/// Cancel safety, for every operation built on this (io_wait's): cancelling the task submits a
/// kernel cancel and resumes the task only when the operation's completion has arrived, so the
/// kernel never writes into a freed frame. If the cancel took effect, the await throws
/// cancelled_error and nothing was transferred. If the operation had already completed with
/// a result (bytes moved, a connection accepted), the result is delivered and the
/// cancellation is thrown at the task's next await instead, so nothing is lost.
class io_awaiter_base : protected kernel_op, protected io_wait {
 public:
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> awaiting) { return suspend_on(awaiting, *this); }

 protected:
  explicit io_awaiter_base(const char* what) noexcept : io_wait(what) {
    on_completion<&completed>();
  }

  /// The operation's result (>= 0); throws cancelled_error or std::system_error.
  std::int64_t finish() { return settle_or_throw(result); }

 private:
  static void completed(kernel_op& op) noexcept { static_cast<io_awaiter_base&>(op).resume(); }
};

class [[nodiscard]] recv_into_awaiter final : public io_awaiter_base {
 public:
  recv_into_awaiter(int fd_to_read, std::span<std::byte> into, int msg_flags) noexcept
      : io_awaiter_base("sock_recv_into") {
    opcode = io_opcode::recv;
    fd = fd_to_read;
    buffer = into.data();
    length = into.size();
    flags = msg_flags;
  }
  std::size_t await_resume() { return static_cast<std::size_t>(finish()); }
};

class [[nodiscard]] recv_awaiter final : public io_awaiter_base {
 public:
  recv_awaiter(int fd_to_read, std::size_t max_bytes)
      : io_awaiter_base("sock_recv"), data_(max_bytes, '\0') {
    opcode = io_opcode::recv;
    fd = fd_to_read;
    buffer = data_.data();
    length = data_.size();
  }
  std::string await_resume() {
    data_.resize(static_cast<std::size_t>(finish()));
    return std::move(data_);
  }

 private:
  std::string data_;
};

class [[nodiscard]] send_awaiter final : public io_awaiter_base {
 public:
  send_awaiter(int fd_to_write, std::span<const std::byte> data) noexcept
      : io_awaiter_base("sock_send") {
    opcode = io_opcode::send;
    fd = fd_to_write;
    buffer = const_cast<std::byte*>(data.data());  // the kernel only reads it
    length = data.size();
  }
  std::size_t await_resume() { return static_cast<std::size_t>(finish()); }
};

class [[nodiscard]] accept_awaiter final : public io_awaiter_base {
 public:
  explicit accept_awaiter(int listening_fd) noexcept : io_awaiter_base("sock_accept") {
    opcode = io_opcode::accept;
    fd = listening_fd;
    flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    address = peer_.native();
    address_length = eddy::address::capacity();
  }
  std::pair<socket, eddy::address> await_resume() {
    socket accepted(static_cast<int>(finish()));
    peer_.set_native_length(address_length);
    return {std::move(accepted), peer_};
  }

 private:
  eddy::address peer_;
};

class [[nodiscard]] connect_awaiter final : public io_awaiter_base {
 public:
  connect_awaiter(int fd_to_connect, const eddy::address& target) noexcept
      : io_awaiter_base("sock_connect"), target_(target) {
    opcode = io_opcode::connect;
    fd = fd_to_connect;
    address = target_.native();
    address_length = target_.native_length();
  }
  void await_resume() { finish(); }

 private:
  eddy::address target_;
};

}  // namespace eddy::detail
