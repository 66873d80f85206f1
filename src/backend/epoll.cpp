// The epoll backend: completions emulated on top of readiness.
//
// submit() tries the operation's system call at once. When it would block, the op waits on its
// descriptor's reader or writer list and the descriptor is watched (level-triggered) for that
// direction; when epoll reports it ready, the waiters are retried in FIFO order and the ones
// that finish are queued as completed. on_complete runs only from poll(), which dispatches the
// completed queue. A descriptor with no waiters left is removed from the epoll set at once, so
// a descriptor number that is closed and reused never inherits stale interest.
//
// Descriptors must be non-blocking (or regular files, which never report EAGAIN): a blocking
// socket or pipe would block submit().
#include <sys/epoll.h>

#include <poll.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "backend/backend.hpp"
#include "backend/perform.hpp"
#include "backend/wake_fd.hpp"

namespace eddy::detail {
namespace {

/// io_op::backend_state here: the low bits say where the op is, connect_started is a flag.
enum op_state : std::uint8_t {
  idle = 0,            ///< not ours: never submitted, completed at once, or already dispatched
  waiting_input = 1,   ///< on its descriptor's readers list
  waiting_output = 2,  ///< on its descriptor's writers list
  completed = 3,       ///< on completed_, waiting for poll() to call on_complete
  where_mask = 3,
  /// connect() said EINPROGRESS: the handshake runs in the kernel, and the retry asks
  /// SO_ERROR for its outcome instead of calling connect() again.
  connect_started = 4,
};

/// Readiness bits that io_uring's POLL_ADD and poll(2) report even when not asked for.
constexpr std::uint32_t always_reported = EPOLLERR | EPOLLHUP;

/// The readiness bits a poll op may ask for (the POLL* and EPOLL* values coincide).
constexpr std::uint32_t pollable_events = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM |
                                          EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND | EPOLLRDHUP |
                                          EPOLLERR | EPOLLHUP;

/// Poll bits that make a poll op wait with the readers, and those of the writers.
constexpr std::uint32_t input_events = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP;
constexpr std::uint32_t output_events = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

/// Events taken from the kernel per epoll_wait.
constexpr std::size_t event_batch = 128;

std::uint32_t poll_mask_of(const io_op& op) noexcept {
  return static_cast<std::uint32_t>(op.flags) & pollable_events;
}

/// Whether op waits for input (readers list) or output (writers list). A poll op asking for
/// both waits with the readers; its mask still adds EPOLLOUT to the interest set.
bool waits_for_input(const io_op& op) noexcept {
  switch (op.opcode) {
    case io_opcode::recv:
    case io_opcode::accept:
    case io_opcode::read:
      return true;
    case io_opcode::poll: {
      const std::uint32_t mask = poll_mask_of(op);
      return (mask & input_events) != 0 || (mask & output_events) == 0;
    }
    case io_opcode::nop:
    case io_opcode::send:
    case io_opcode::connect:
    case io_opcode::write:
      return false;
    case io_opcode::recvmsg:
      return true;
    case io_opcode::sendmsg:
      return false;
    case io_opcode::openat:  // never queued: submit() refuses file opcodes
    case io_opcode::close:
    case io_opcode::fsync:
    case io_opcode::statx:
    case io_opcode::accept_multishot:  // never queued: attempt() refuses multishot opcodes
    case io_opcode::recv_multishot:
      return false;
  }
  return false;
}

/// Opcodes that only make sense on files, which this backend leaves to the thread pool.
bool is_file_only_opcode(io_opcode opcode) noexcept {
  return opcode == io_opcode::openat || opcode == io_opcode::close || opcode == io_opcode::fsync ||
         opcode == io_opcode::statx;
}

/// A FIFO of io_ops linked through io_op::backend_links.
using op_queue = intrusive_list<io_op, &io_op::backend_links>;

/// What epoll should watch on one descriptor for the ops waiting on it.
struct fd_state {
  op_queue readers;  ///< recv, accept, read, poll for input; retried on EPOLLIN
  op_queue writers;  ///< send, write, connect, poll for output only; retried on EPOLLOUT
  /// The descriptor is in the epoll set (with `events`). Invariant after update_interest():
  /// registered == (readers or writers non-empty).
  bool registered = false;
  std::uint32_t events = 0;
};

/// The events a queue's ops need: `plain` for the system-call ops, their own masks for polls.
std::uint32_t events_wanted(const op_queue& queue, std::uint32_t plain) noexcept {
  std::uint32_t wanted = 0;
  for (const io_op* op = queue.front(); op != nullptr; op = op_queue::next(*op)) {
    wanted |= op->opcode == io_opcode::poll ? poll_mask_of(*op) : plain;
  }
  return wanted;
}

int round_up_to_milliseconds(std::chrono::nanoseconds timeout) noexcept {
  if (timeout < std::chrono::nanoseconds::zero()) return -1;
  const auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  return static_cast<int>(std::min<decltype(milliseconds)>(milliseconds, INT_MAX));
}

/// Owns the epoll descriptor.
struct epoll_fd {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);

  epoll_fd() {
    if (fd < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
  }
  ~epoll_fd() { ::close(fd); }
  epoll_fd(const epoll_fd&) = delete;
  epoll_fd& operator=(const epoll_fd&) = delete;
};

class epoll_backend final : public backend {
 public:
  epoll_backend() {
    // Watched for good, and not counted in registered_fds_: an idle poll(0) need not see it.
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_fd_.fd();
    if (::epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, wake_fd_.fd(), &event) < 0) {
      throw std::system_error(errno, std::system_category(), "epoll_ctl(ADD eventfd)");
    }
  }

  [[nodiscard]] std::string_view name() const noexcept override { return "epoll"; }

  bool submit(io_op& op) override {
    if (is_file_only_opcode(op.opcode)) {
      // They would block the loop thread; eddy/file.hpp sends them to the thread pool.
      throw std::logic_error(
          "epoll backend: file operations (openat, close, fsync, statx) run on the thread pool, "
          "not through submit()");
    }
    op.backend_state = idle;  // in particular, no connect_started left from an earlier use
    const std::int64_t result = attempt(op);
    if (result != -EAGAIN || is_refused_connect(op)) {
      op.result = result;
      op.backend_state = idle;
      return true;
    }
    return !wait_for_readiness(op);
  }

  void cancel(io_op& op) noexcept override {
    const auto where = op.backend_state & where_mask;
    if (where != waiting_input && where != waiting_output) return;
    fd_state& state = fds_[static_cast<std::size_t>(op.fd)];
    (where == waiting_input ? state.readers : state.writers).remove(op);
    finish(op, -ECANCELED);
    update_interest(op.fd);
  }

  void poll(std::chrono::nanoseconds timeout) override {
    if (!completed_.empty()) timeout = std::chrono::nanoseconds::zero();
    // Nothing but the wake eventfd is watched: a zero-timeout wait could only drain a wake-up,
    // which a later blocking poll() still sees. Skip the syscall.
    if (timeout != std::chrono::nanoseconds::zero() || registered_fds_ > 0) wait(timeout);
    dispatch_completed();
  }

  void wake() noexcept override { wake_fd_.signal(); }

  [[nodiscard]] std::size_t in_flight() const noexcept override { return in_flight_count_; }

  void cancel_all() noexcept override {
    for (std::size_t fd = 0; fd < fds_.size(); ++fd) {
      fd_state& state = fds_[fd];
      if (!state.registered) continue;
      cancel_queue(state.readers);
      cancel_queue(state.writers);
      update_interest(static_cast<int>(fd));
    }
  }

 private:
  // ---- running the system calls ---------------------------------------------------------

  /// One non-blocking try: the op's result, or -EAGAIN when it has to wait for readiness.
  static std::int64_t attempt(io_op& op) noexcept {
    switch (op.opcode) {
      case io_opcode::nop:
        return 0;
      case io_opcode::poll: {
        const std::int64_t ready = perform::poll_now(op.fd, static_cast<short>(poll_mask_of(op)));
        return ready == 0 ? -EAGAIN : ready;
      }
      case io_opcode::recv:
        return perform::recv(op.fd, op.buffer, op.length, op.flags);
      case io_opcode::send:
        return perform::send(op.fd, op.buffer, op.length, op.flags);
      case io_opcode::accept:
        return perform::accept(op.fd, op.address,
                               op.address != nullptr ? &op.address_length : nullptr, op.flags);
      case io_opcode::connect:
        return attempt_connect(op);
      case io_opcode::read:
        return perform::read(op.fd, op.buffer, op.length, op.offset);
      case io_opcode::write:
        return perform::write(op.fd, op.buffer, op.length, op.offset);
      // MSG_DONTWAIT: a descriptor adopted in blocking mode must still never block the loop.
      case io_opcode::sendmsg:
        return perform::sendmsg(op.fd, static_cast<const msghdr*>(op.buffer),
                                op.flags | MSG_DONTWAIT);
      case io_opcode::recvmsg:
        return perform::recvmsg(op.fd, static_cast<msghdr*>(op.buffer), op.flags | MSG_DONTWAIT);
      case io_opcode::openat:  // refused by submit()
      case io_opcode::close:
      case io_opcode::fsync:
      case io_opcode::statx:
        return -EOPNOTSUPP;
      case io_opcode::accept_multishot:  // supports_multishot() is false: callers never ask
      case io_opcode::recv_multishot:
        return -EINVAL;
    }
    return -EINVAL;
  }

  /// TCP answers EINPROGRESS and finishes the handshake itself; its outcome is SO_ERROR once
  /// the socket turns writable. AF_UNIX with a full backlog answers EAGAIN and wants connect()
  /// called again, but nothing tells when: the unconnected socket polls writable at once, so
  /// waiting for readiness would spin. That EAGAIN is the op's result (io_uring answers it so
  /// too); open_unix_connection retries with a backoff.
  static std::int64_t attempt_connect(io_op& op) noexcept {
    if ((op.backend_state & connect_started) != 0) return perform::socket_error(op.fd);
    const std::int64_t result = perform::connect(op.fd, op.address, op.address_length);
    if (result != -EINPROGRESS) return result;
    op.backend_state |= connect_started;
    return -EAGAIN;
  }

  /// A connect that answered EAGAIN without starting (see attempt_connect).
  static bool is_refused_connect(const io_op& op) noexcept {
    return op.opcode == io_opcode::connect && (op.backend_state & connect_started) == 0;
  }

  // ---- waiting --------------------------------------------------------------------------

  /// Queues op on its descriptor and watches it. False, with op.result set, when epoll
  /// refuses the descriptor: then op is complete after all.
  bool wait_for_readiness(io_op& op) {
    const auto fd = static_cast<std::size_t>(op.fd);
    if (fd >= fds_.size()) fds_.resize(std::max(fd + 1, fds_.size() * 2));
    fd_state& state = fds_[fd];
    const bool input = waits_for_input(op);
    (input ? state.readers : state.writers).push_back(op);
    op.backend_state = static_cast<std::uint8_t>((op.backend_state & connect_started) |
                                                 (input ? waiting_input : waiting_output));
    ++in_flight_count_;
    const int error = watch(op.fd);
    if (error == 0) return true;
    (input ? state.readers : state.writers).remove(op);
    --in_flight_count_;
    op.backend_state = idle;
    op.result = error;
    return false;
  }

  /// Makes the epoll set match fd's waiters: add, modify or delete. 0 or -errno.
  int watch(int fd) noexcept {
    fd_state& state = fds_[static_cast<std::size_t>(fd)];
    if (state.readers.empty() && state.writers.empty()) {
      if (state.registered) {
        // Fails with EBADF/ENOENT when the descriptor was closed meanwhile: epoll already
        // forgot it, which is all we want.
        (void)::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, fd, nullptr);
        state.registered = false;
        --registered_fds_;
      }
      return 0;
    }
    const std::uint32_t wanted =
        events_wanted(state.readers, EPOLLIN) | events_wanted(state.writers, EPOLLOUT);
    if (state.registered && wanted == state.events) return 0;
    epoll_event event{};
    event.events = wanted;
    event.data.fd = fd;
    int verb = state.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (::epoll_ctl(epoll_.fd, verb, fd, &event) < 0) {
      // Our record and the kernel's can disagree when a descriptor was closed (epoll drops it:
      // ENOENT on MOD) or we never removed an old incarnation (EEXIST on ADD). Swap verbs once.
      if (errno != ENOENT && errno != EEXIST) return -errno;
      verb = verb == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
      if (::epoll_ctl(epoll_.fd, verb, fd, &event) < 0) return -errno;
    }
    if (!state.registered) ++registered_fds_;
    state.registered = true;
    state.events = wanted;
    return 0;
  }

  /// watch() for a descriptor whose waiters changed; if epoll now refuses it, its remaining
  /// waiters could never be woken, so they complete with the error.
  void update_interest(int fd) noexcept {
    const int error = watch(fd);
    if (error == 0) return;
    fd_state& state = fds_[static_cast<std::size_t>(fd)];
    fail_queue(state.readers, error);
    fail_queue(state.writers, error);
    (void)watch(fd);
  }

  void wait(std::chrono::nanoseconds timeout) {
    std::array<epoll_event, event_batch> events;
    const int count = wait_for_events(events.data(), static_cast<int>(events.size()), timeout);
    if (count < 0) {
      if (errno == EINTR) return;
      throw std::system_error(errno, std::system_category(), "epoll_wait");
    }
    for (int i = 0; i < count; ++i) ready(events[static_cast<std::size_t>(i)]);
  }

  /// epoll_pwait2 (5.11+) takes the timeout in nanoseconds; older kernels get epoll_wait with
  /// the timeout rounded up, so that we never wake before it.
  int wait_for_events(epoll_event* events, int capacity, std::chrono::nanoseconds timeout) {
    if (have_pwait2_) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
      const timespec limit{seconds.count(), (timeout - seconds).count()};
      const bool forever = timeout < std::chrono::nanoseconds::zero();
      const int count =
          ::epoll_pwait2(epoll_.fd, events, capacity, forever ? nullptr : &limit, nullptr);
      // Seccomp filters that predate the call may answer EPERM rather than ENOSYS.
      if (count >= 0 || (errno != ENOSYS && errno != EPERM)) return count;
      have_pwait2_ = false;
    }
    return ::epoll_wait(epoll_.fd, events, capacity, round_up_to_milliseconds(timeout));
  }

  void ready(const epoll_event& event) noexcept {
    const int fd = event.data.fd;
    if (fd == wake_fd_.fd()) {
      wake_fd_.drain();
      return;
    }
    if (static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_state& state = fds_[static_cast<std::size_t>(fd)];
    // Errors and hang-ups wake both sides: the retried calls then report the error or EOF.
    const bool readers_progressed = retry(state.readers, event.events, EPOLLIN | always_reported);
    const bool writers_progressed = retry(state.writers, event.events, EPOLLOUT | always_reported);
    if (readers_progressed || writers_progressed) update_interest(fd);
  }

  /// Retries queue's ops in order after `events` arrived. System-call ops run only when
  /// `plain` readiness arrived, and stop at the first one that would still block (those
  /// behind it would too). Poll ops complete from the events alone. True if any op finished.
  bool retry(op_queue& queue, std::uint32_t events, std::uint32_t plain) noexcept {
    bool progressed = false;
    bool calls_blocked = (events & plain) == 0;
    for (io_op* op = queue.front(); op != nullptr;) {
      io_op* const next = op_queue::next(*op);
      std::int64_t result = 0;
      if (op->opcode == io_opcode::poll) {
        result = events & (poll_mask_of(*op) | always_reported);
        if (result == 0) result = -EAGAIN;
      } else if (calls_blocked) {
        result = -EAGAIN;
      } else {
        result = attempt(*op);
        calls_blocked = result == -EAGAIN;
      }
      if (result != -EAGAIN) {
        queue.remove(*op);
        finish(*op, result);
        progressed = true;
      }
      op = next;
    }
    return progressed;
  }

  // ---- completing -----------------------------------------------------------------------

  /// Moves a waiting op (already unlinked from its descriptor) to the completed queue.
  void finish(io_op& op, std::int64_t result) noexcept {
    op.result = result;
    op.backend_state = completed;
    completed_.push_back(op);
  }

  void cancel_queue(op_queue& queue) noexcept { fail_queue(queue, -ECANCELED); }

  void fail_queue(op_queue& queue, std::int64_t result) noexcept {
    for (io_op* op = queue.take_all(); op != nullptr;) {
      io_op* const next = op_queue::next(*op);
      finish(*op, result);
      op = next;
    }
  }

  /// Calls on_complete for what had completed when this started. Ops completing during the
  /// callbacks (a cancel, say) wait for the next poll(), which will not block because of them.
  void dispatch_completed() noexcept {
    for (io_op* op = completed_.take_all(); op != nullptr;) {
      io_op* const next = op_queue::next(*op);
      op->backend_links = {};
      op->backend_state = idle;
      --in_flight_count_;
      // May resume and free the frame holding op: read nothing from it afterwards.
      op->on_complete(*op);
      op = next;
    }
  }

  epoll_fd epoll_;
  wake_fd wake_fd_;

  /// Indexed by descriptor; grown on demand, never shrunk.
  std::vector<fd_state> fds_;
  /// Descriptors other than the wake eventfd currently in the epoll set.
  std::size_t registered_fds_ = 0;
  /// Ops that finished (or were cancelled) and whose on_complete has not run yet.
  op_queue completed_;
  /// Ops on some readers/writers list or in completed_.
  std::size_t in_flight_count_ = 0;
  /// Cleared the first time epoll_pwait2 turns out to be missing.
  bool have_pwait2_ = true;
};

}  // namespace

std::unique_ptr<backend> make_epoll_backend() { return std::make_unique<epoll_backend>(); }

}  // namespace eddy::detail
