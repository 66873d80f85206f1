// The awaiters of datagram operations (sendmsg / recvmsg): the msghdr, its iovec and the
// peer's address live in the awaiter, in the awaiting task's frame, for as long as the kernel
// may use them (io_awaiter_base's guarantee).
//
// An awaiter may belong to a datagram_socket's list of operations in flight, so that closing
// the socket ends them (with EBADF) instead of leaving them waiting for ever: a closed
// descriptor never becomes readable, and io_uring keeps its own reference to the file.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "eddy/detail/intrusive_list.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/detail/io_awaiter.hpp"
#include "eddy/net/received_datagram.hpp"

namespace eddy::detail {

class datagram_awaiter_base;

/// A datagram awaiter as a member of its socket's datagram_op_list.
struct datagram_op_node {
  list_links<datagram_op_node> op_links;
};

/// The datagram operations a socket has in flight, linked through the awaiters themselves (no
/// allocation). Only the loop thread touches it.
class datagram_op_list {
 public:
  datagram_op_list() noexcept = default;
  /// Takes over other's operations: they now belong to this list.
  datagram_op_list(datagram_op_list&& other) noexcept { take(other); }
  /// Ends this list's operations (as end_all), then takes over other's.
  datagram_op_list& operator=(datagram_op_list&& other) noexcept {
    if (this != &other) {
      end_all();
      take(other);
    }
    return *this;
  }
  datagram_op_list(const datagram_op_list&) = delete;
  datagram_op_list& operator=(const datagram_op_list&) = delete;
  ~datagram_op_list() { end_all(); }

  /// Asks the backend to stop every operation in the list and forgets them; each one then
  /// completes, and its await throws std::system_error(EBADF), unless it had already finished
  /// with a result, which is delivered. Call before the descriptor is closed.
  inline void end_all() noexcept;

  [[nodiscard]] bool empty() const noexcept { return ops_.empty(); }

 private:
  friend class datagram_awaiter_base;
  inline void take(datagram_op_list& other) noexcept;

  intrusive_list<datagram_op_node, &datagram_op_node::op_links> ops_;
};

/// sendmsg/recvmsg with one buffer and an optional peer address. Cancel safety is
/// io_awaiter_base's.
class datagram_awaiter_base : public io_awaiter_base, public datagram_op_node {
 public:
  bool await_suspend(std::coroutine_handle<> awaiting) {
    if (!begin(awaiting)) {
      return false;  // a cancellation is pending: nothing starts
    }
    // Linked before submitting: a socket closed while this waits must find it.
    link();
    return wait_for(*this);
  }

 protected:
  datagram_awaiter_base(const char* what, datagram_op_list* owner) noexcept
      : io_awaiter_base(what), owner_(owner) {}
  ~datagram_awaiter_base() { unlink(); }

  /// Points the msghdr at `data` and, when `target` is given, at a copy of it.
  void prepare_send(std::span<const std::byte> data, const eddy::address* target) noexcept {
    opcode = io_opcode::sendmsg;
    // The kernel only reads the payload of a send.
    prepare_message(const_cast<std::byte*>(data.data()), data.size());
    if (target != nullptr) {
      peer_ = *target;
      message_.msg_name = peer_.native();
      message_.msg_namelen = peer_.native_length();
    }
  }

  /// Points the msghdr at `into` and at the peer address to fill in.
  void prepare_receive(std::span<std::byte> into) noexcept {
    opcode = io_opcode::recvmsg;
    prepare_message(into.data(), into.size());
    message_.msg_name = peer_.native();
    message_.msg_namelen = eddy::address::capacity();
  }

  /// The operation's result (bytes moved); throws cancelled_error, or std::system_error with
  /// EBADF when the owning socket was closed while this waited, or with the errno otherwise.
  std::size_t finish_datagram() {
    unlink();
    if (closed_while_waiting_ && result == -ECANCELED) {
      result = -EBADF;
    }
    return static_cast<std::size_t>(finish());
  }

  /// The sender of a received datagram.
  [[nodiscard]] eddy::address sender() noexcept {
    peer_.set_native_length(std::min(message_.msg_namelen, eddy::address::capacity()));
    return peer_;
  }

  /// The datagram did not fit the buffer (the kernel wrote MSG_TRUNC back).
  [[nodiscard]] bool truncated() const noexcept { return (message_.msg_flags & MSG_TRUNC) != 0; }

 private:
  friend class datagram_op_list;

  void prepare_message(std::byte* data, std::size_t size) noexcept {
    // The awaiter is never moved (io_awaiter_base is neither copyable nor movable), so the
    // msghdr may point at its own members.
    vector_.iov_base = data;
    vector_.iov_len = size;
    message_.msg_iov = &vector_;
    message_.msg_iovlen = 1;
    buffer = &message_;
  }

  void link() noexcept {
    if (owner_ == nullptr || linked_) {
      return;
    }
    owner_->ops_.push_front(*this);
    linked_ = true;
  }

  void unlink() noexcept {
    if (!linked_) {
      return;
    }
    owner_->ops_.remove(*this);
    linked_ = false;
  }

  /// Called by the owner's end_all: stop the operation and forget the owner.
  void end_for_close() noexcept {
    closed_while_waiting_ = true;
    linked_ = false;
    op_links = {};
    owner_ = nullptr;
    cancel();  // nothing when the operation has completed already
  }

  msghdr message_{};
  iovec vector_{};
  eddy::address peer_;
  datagram_op_list* owner_;
  bool linked_ = false;
  bool closed_while_waiting_ = false;
};

inline void datagram_op_list::end_all() noexcept {
  // end_for_close clears each awaiter's links, so read the next one first.
  datagram_op_node* op = ops_.take_all();
  while (op != nullptr) {
    datagram_op_node* const next = decltype(ops_)::next(*op);
    static_cast<datagram_awaiter_base*>(op)->end_for_close();
    op = next;
  }
}

inline void datagram_op_list::take(datagram_op_list& other) noexcept {
  ops_ = std::move(other.ops_);
  for (datagram_op_node& op : ops_) {
    static_cast<datagram_awaiter_base&>(op).owner_ = this;
  }
}

/// sendto / sock_sendto: one datagram; yields the bytes sent.
class [[nodiscard]] sendto_awaiter final : public datagram_awaiter_base {
 public:
  /// `target` null: the socket's connected peer.
  sendto_awaiter(int fd_to_write, std::span<const std::byte> data, const eddy::address* target,
                 datagram_op_list* owner, const char* what) noexcept
      : datagram_awaiter_base(what, owner) {
    fd = fd_to_write;
    prepare_send(data, target);
  }
  std::size_t await_resume() { return finish_datagram(); }
};

/// recvfrom / sock_recvfrom: one datagram into a string of max_bytes.
class [[nodiscard]] recvfrom_awaiter final : public datagram_awaiter_base {
 public:
  recvfrom_awaiter(int fd_to_read, std::size_t max_bytes, datagram_op_list* owner, const char* what)
      : datagram_awaiter_base(what, owner), data_(max_bytes, '\0') {
    fd = fd_to_read;
    prepare_receive(std::as_writable_bytes(std::span(data_.data(), data_.size())));
  }
  received_datagram await_resume() {
    data_.resize(finish_datagram());
    const bool cut = truncated();
    return {std::move(data_), sender(), cut};
  }

 private:
  std::string data_;
};

/// recvfrom_into / sock_recvfrom_into: one datagram into the caller's buffer.
class [[nodiscard]] recvfrom_into_awaiter final : public datagram_awaiter_base {
 public:
  recvfrom_into_awaiter(int fd_to_read, std::span<std::byte> into, datagram_op_list* owner,
                        const char* what) noexcept
      : datagram_awaiter_base(what, owner) {
    fd = fd_to_read;
    prepare_receive(into);
  }
  received_into await_resume() {
    const std::size_t size = finish_datagram();
    return {size, sender(), truncated()};
  }
};

}  // namespace eddy::detail
