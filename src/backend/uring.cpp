// The io_uring backend: the kernel completes operations itself; we batch submissions and read
// completions straight from the shared rings.
//
// Setup, in order of preference (each step falls back when the kernel says EINVAL):
//   SINGLE_ISSUER | DEFER_TASKRUN | R_DISABLED | TASKRUN_FLAG  (6.1+)
//   -> SINGLE_ISSUER | R_DISABLED | COOP_TASKRUN | TASKRUN_FLAG  (6.0+)
//   -> COOP_TASKRUN | TASKRUN_FLAG  (5.19+)  -> no flags,
// with 4096 entries halved on ENOMEM (old kernels charge rings to RLIMIT_MEMLOCK). The opcodes
// eddy issues are probed; a missing one is ENOSYS, which makes automatic selection use epoll.
// (The ring's setup, the probes and the provided buffers are in uring_ring.hpp.)
//
// Thread affinity: a SINGLE_ISSUER ring belongs to one thread, and a registered ring fd is
// registered for one thread. Both are therefore bound lazily, on the first entry into the kernel
// (normally the first poll()): the ring is created disabled and enabled there, and the ring fd
// is registered there (saving an fget/fput per io_uring_enter; ignored if unsupported). So a
// loop may be built on one thread and run on another, like asyncio's new_event_loop() handed
// to a thread; but once it has run, it must keep running (and be closed) on that thread: a
// SINGLE_ISSUER ring entered from elsewhere fails with EEXIST, which poll() throws. wake() is
// the exception: it only writes an eventfd and works from any thread.
#include <liburing.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "backend/backend.hpp"
#include "backend/perform.hpp"
#include "backend/uring_ring.hpp"
#include "backend/wake_fd.hpp"

namespace eddy::detail {
namespace {

using namespace uring_ring;

// user_data values that are not io_op pointers. An io_op is at least 8-byte aligned, so no op
// lives at these addresses. liburing's own LIBURING_UDATA_TIMEOUT (used only on kernels without
// EXT_ARG) is skipped as well.
constexpr std::uint64_t cancel_tag = 1;  ///< an ASYNC_CANCEL we sent; its reply is not needed
constexpr std::uint64_t wake_tag = 2;    ///< the read (or poll) armed on the wake eventfd

/// io_op::backend_state values used here.
enum op_state : std::uint8_t {
  idle = 0,              ///< not in the kernel (never submitted, or completed)
  in_kernel = 1,         ///< submitted; no cancel asked for yet
  cancel_sent = 2,       ///< an ASYNC_CANCEL for it has been queued
  cancel_postponed = 3,  ///< cancel asked for while the SQ ring was full; poll() retries it
};

/// How long the destructor waits for cancelled operations before giving the ring back.
constexpr std::chrono::seconds teardown_limit{1};

/// Completions copied out of the CQ ring per batch.
constexpr std::size_t reap_batch = 64;

std::uint64_t user_data_of(const io_op& op) noexcept {
  return reinterpret_cast<std::uintptr_t>(&op);
}

__kernel_timespec to_timespec(std::chrono::nanoseconds duration) noexcept {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  return {seconds.count(), (duration - seconds).count()};
}

class uring_backend final : public backend {
 public:
  uring_backend() {
    require_opcodes(ring_.ring);
    file_ops_ = has_file_opcodes(ring_.ring);
    multishot_ = buffers_.register_with(ring_.ring);
    arm_wake();
  }

  ~uring_backend() override { drain_before_teardown(); }

  uring_backend(const uring_backend&) = delete;
  uring_backend& operator=(const uring_backend&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "uring"; }

  [[nodiscard]] bool supports_file_ops() const noexcept override { return file_ops_; }

  [[nodiscard]] bool supports_multishot() const noexcept override { return multishot_; }

  bool submit(io_op& op) override {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
      throw std::system_error(EBUSY, std::system_category(), "io_uring submission queue is full");
    }
    if (op.opcode == io_opcode::recv_multishot) buffers_.fill_once();
    prepare(*sqe, op);
    io_uring_sqe_set_data64(sqe, user_data_of(op));
    track(op);
    return false;
  }

  void cancel(io_op& op) noexcept override {
    // Idle: it already completed or was never ours. cancel_sent/postponed: asked once already.
    if (op.backend_state != in_kernel) return;
    if (queue_cancel(user_data_of(op))) {
      op.backend_state = cancel_sent;
    } else {
      op.backend_state = cancel_postponed;
      cancels_postponed_ = true;
    }
  }

  void poll(std::chrono::nanoseconds timeout) override {
    io_uring& ring = ring_.ring;
    if (timeout == std::chrono::nanoseconds::zero() && bound_to_thread_ && wake_armed_ &&
        !cancels_postponed_ && io_uring_sq_ready(&ring) == 0 && io_uring_cq_ready(&ring) == 0 &&
        !kernel_holds_completions()) {
      // The busy loop's common case: nothing to submit, nothing completed, nothing held back.
      return;
    }
    poll_slowly(timeout);
  }

  void wake() noexcept override { wake_fd_.signal(); }

  [[nodiscard]] std::size_t in_flight() const noexcept override { return in_flight_count_; }

  void cancel_all() noexcept override {
    for (io_op& op : in_flight_) cancel(op);
  }

 private:
  /// Everything poll() does beyond its few-loads fast path; out of line so that the fast path
  /// saves no registers and builds no frame.
  [[gnu::noinline]] void poll_slowly(std::chrono::nanoseconds timeout) {
    io_uring& ring = ring_.ring;
    if (!bound_to_thread_) bind_to_this_thread();
    retry_postponed_work();
    if (timeout == std::chrono::nanoseconds::zero() || io_uring_cq_ready(&ring) > 0) {
      // Never block. Enter the kernel only when there is something to submit, or when it left
      // completions for us to collect (COOP_TASKRUN task work or CQ overflow); otherwise this
      // poll is a few loads from the shared ring.
      if (io_uring_sq_ready(&ring) > 0 && kernel_holds_completions()) {
        // One enter both submits and runs the completion work the kernel holds back.
        check_enter(io_uring_submit_and_get_events(&ring), "io_uring_submit_and_get_events");
      } else if (io_uring_sq_ready(&ring) > 0) {
        check_enter(submit_queued(), "io_uring_submit");
      } else if (kernel_holds_completions()) {
        check_enter(io_uring_get_events(&ring), "io_uring_get_events");
      }
    } else if (timeout < std::chrono::nanoseconds::zero()) {
      check_enter(io_uring_submit_and_wait(&ring, 1), "io_uring_submit_and_wait");
    } else {
      // EXT_ARG carries the timeout into the enter itself: no timeout SQE to clean up after.
      __kernel_timespec limit = to_timespec(timeout);
      io_uring_cqe* first = nullptr;
      check_enter(io_uring_submit_and_wait_timeout(&ring, &first, 1, &limit, nullptr),
                  "io_uring_submit_and_wait_timeout");
    }
    reap(dispatch::call_on_complete);
  }

  enum class dispatch : bool { call_on_complete, discard };

  // ---- submission -----------------------------------------------------------------------

  /// A free SQE, submitting what is queued to make room if the ring is full; null only if the
  /// kernel would not take the queued entries either.
  io_uring_sqe* next_sqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_.ring);
    if (sqe != nullptr) return sqe;
    submit_queued();
    return io_uring_get_sqe(&ring_.ring);
  }

  int submit_queued() noexcept {
    if (!bound_to_thread_) bind_to_this_thread();
    int result = 0;
    do {
      result = io_uring_submit(&ring_.ring);
    } while (result == -EINTR);
    return result;
  }

  static void prepare(io_uring_sqe& sqe, io_op& op) noexcept {
    const auto length = static_cast<unsigned>(perform::clamp_length(op.length));
    switch (op.opcode) {
      case io_opcode::nop:
        io_uring_prep_nop(&sqe);
        break;
      case io_opcode::poll:
        io_uring_prep_poll_add(&sqe, op.fd, static_cast<unsigned>(op.flags));
        break;
      case io_opcode::recv:
        io_uring_prep_recv(&sqe, op.fd, op.buffer, length, op.flags);
        break;
      case io_opcode::send:
        io_uring_prep_send(&sqe, op.fd, op.buffer, length, op.flags | MSG_NOSIGNAL);
        break;
      case io_opcode::accept:
        io_uring_prep_accept(&sqe, op.fd, op.address,
                             op.address != nullptr ? &op.address_length : nullptr, op.flags);
        break;
      case io_opcode::connect:
        io_uring_prep_connect(&sqe, op.fd, op.address, op.address_length);
        break;
      case io_opcode::read:
        // no_offset is (u64)-1, which io_uring also reads as "the current file position".
        io_uring_prep_read(&sqe, op.fd, op.buffer, length, op.offset);
        break;
      case io_opcode::write:
        io_uring_prep_write(&sqe, op.fd, op.buffer, length, op.offset);
        break;
      case io_opcode::sendmsg:
        io_uring_prep_sendmsg(&sqe, op.fd, static_cast<const msghdr*>(op.buffer),
                              static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
        break;
      case io_opcode::recvmsg:
        io_uring_prep_recvmsg(&sqe, op.fd, static_cast<msghdr*>(op.buffer),
                              static_cast<unsigned>(op.flags));
        break;
      case io_opcode::openat:
        io_uring_prep_openat(&sqe, op.fd, static_cast<const char*>(op.buffer), op.flags,
                             static_cast<mode_t>(op.length));
        break;
      case io_opcode::close:
        io_uring_prep_close(&sqe, op.fd);
        break;
      case io_opcode::fsync:
        io_uring_prep_fsync(&sqe, op.fd,
                            (op.flags & fsync_datasync) != 0 ? IORING_FSYNC_DATASYNC : 0U);
        break;
      case io_opcode::statx:
        io_uring_prep_statx(&sqe, op.fd, "", AT_EMPTY_PATH, static_cast<unsigned>(op.length),
                            static_cast<struct statx*>(op.buffer));
        break;
      case io_opcode::accept_multishot:
        io_uring_prep_multishot_accept(&sqe, op.fd, nullptr, nullptr, op.flags);
        break;
      case io_opcode::recv_multishot:
        io_uring_prep_recv_multishot(&sqe, op.fd, nullptr, 0, op.flags);
        sqe.flags |= IOSQE_BUFFER_SELECT;
        sqe.buf_group = provided_buffers::group;
        break;
    }
  }

  /// Queues an ASYNC_CANCEL for target; false when no SQE could be had.
  bool queue_cancel(std::uint64_t target) noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) return false;
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, cancel_tag);
    return true;
  }

  /// Keeps a read of 8 bytes pending on the eventfd so that wake() produces a completion.
  void arm_wake() noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) return;  // poll() tries again: wake_armed_ is still false
    if (wake_by_poll_) {
      io_uring_prep_poll_add(sqe, wake_fd_.fd(), POLLIN);
    } else {
      io_uring_prep_read(sqe, wake_fd_.fd(), &wake_count_, sizeof wake_count_, no_offset);
    }
    io_uring_sqe_set_data64(sqe, wake_tag);
    wake_armed_ = true;
  }

  /// Makes the calling thread the ring's submitter (see the file comment). Once only.
  void bind_to_this_thread() noexcept {
    bound_to_thread_ = true;
    if ((ring_.ring.flags & IORING_SETUP_R_DISABLED) != 0) {
      // io_uring_enable_rings() is declared by liburing 2.3 but missing from its .so, hence the
      // raw register call. Cannot fail on a disabled ring we own; if it did, submissions would
      // fail with EBADFD and poll() would report that.
      (void)io_uring_register(static_cast<unsigned>(ring_.ring.ring_fd),
                              IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    }
    // Failing (before 5.18) only costs an fget/fput per enter.
    (void)io_uring_register_ring_fd(&ring_.ring);
  }

  /// Redoes what an SQ ring that was full made us put off.
  void retry_postponed_work() noexcept {
    if (!wake_armed_ && !closing_) arm_wake();
    if (!cancels_postponed_) return;
    cancels_postponed_ = false;
    for (io_op& op : in_flight_) {
      if (op.backend_state != cancel_postponed) continue;
      op.backend_state = in_kernel;
      cancel(op);
    }
  }

  /// True when the kernel has completions it only posts once we enter: task work held back by
  /// COOP_TASKRUN (IORING_SQ_TASKRUN) or CQEs that overflowed the ring.
  bool kernel_holds_completions() const noexcept {
    const unsigned flags = IO_URING_READ_ONCE(*ring_.ring.sq.kflags);
    return (flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
  }

  /// Surfaces enter failures that are bugs rather than weather; EEXIST, for instance, is a
  /// SINGLE_ISSUER ring entered from a thread other than its owner.
  static void check_enter(int result, const char* call) {
    if (harmless_enter_result(result)) return;
    if (result == -EEXIST) {
      throw std::system_error(EEXIST, std::system_category(),
                              std::string(call) +
                                  ": io_uring ring entered from a thread other than the one "
                                  "that first ran it (SINGLE_ISSUER)");
    }
    throw std::system_error(-result, std::system_category(), call);
  }

  // ---- completion -----------------------------------------------------------------------

  /// Takes every CQE there is. Each batch is copied out and its slots released before any
  /// on_complete runs, so callbacks that submit (or cancel) cannot disturb the walk. Stops
  /// after one ring's worth so a stream of instant completions cannot hold poll() forever.
  void reap(dispatch mode) noexcept {
    struct completion {
      std::uint64_t user_data;
      int result;
      unsigned flags;
    };
    std::array<completion, reap_batch> batch;
    io_uring& ring = ring_.ring;
    for (unsigned budget = ring.cq.ring_entries; budget > 0;) {
      unsigned count = 0;
      unsigned head = 0;
      io_uring_cqe* cqe = nullptr;
      io_uring_for_each_cqe(&ring, head, cqe) {
        batch[count++] = {cqe->user_data, cqe->res, cqe->flags};
        if (count == batch.size()) break;
      }
      if (count == 0) return;
      io_uring_cq_advance(&ring, count);
      budget = count < budget ? budget - count : 0;
      for (unsigned i = 0; i < count; ++i)
        complete(batch[i].user_data, batch[i].result, batch[i].flags, mode);
    }
  }

  void complete(std::uint64_t user_data, int result, unsigned flags, dispatch mode) noexcept {
    if (user_data == cancel_tag || user_data == LIBURING_UDATA_TIMEOUT) return;
    if (user_data == wake_tag) {
      woken(result);
      return;
    }
    io_op& op = *reinterpret_cast<io_op*>(static_cast<std::uintptr_t>(user_data));
    // A multishot op stays in flight (and tracked) until its last completion.
    op.more = (flags & IORING_CQE_F_MORE) != 0;
    if (!op.more) untrack(op);
    op.result = result;
    const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
    const unsigned buffer_id = flags >> IORING_CQE_BUFFER_SHIFT;
    if (has_buffer) op.buffer = buffers_.data(buffer_id);
    if (op.opcode == io_opcode::recv_multishot && result == -EINVAL && !op.more) {
      multishot_ = false;  // buffer rings, but no multishot receive (before 6.0)
    }
    // on_complete may resume the frame holding op and free it: nothing touches op afterwards.
    if (mode == dispatch::call_on_complete) op.on_complete(op);
    if (has_buffer) buffers_.give_back(buffer_id);
  }

  void woken(int result) noexcept {
    wake_armed_ = false;
    if (closing_) return;
    if (result == -EAGAIN && !wake_by_poll_) {
      // Kernels before nowait-capable eventfds fail the read at once on an O_NONBLOCK
      // eventfd instead of waiting; wait for POLLIN and read it ourselves from then on.
      wake_by_poll_ = true;
    } else if (wake_by_poll_ && result > 0) {
      wake_fd_.drain();
    }
    arm_wake();
  }

  // ---- bookkeeping ----------------------------------------------------------------------

  void track(io_op& op) noexcept {
    op.backend_state = in_kernel;
    in_flight_.push_front(op);
    ++in_flight_count_;
  }

  void untrack(io_op& op) noexcept {
    in_flight_.remove(op);
    op.backend_state = idle;
    --in_flight_count_;
  }

  /// The kernel may still write into op buffers and wake_count_ until their CQEs arrive, so
  /// cancel everything and wait (bounded) for those CQEs before the ring is unmapped. The loop
  /// normally drained everything already; on_complete is not called from here.
  void drain_before_teardown() noexcept {
    // Never entered: the kernel has seen none of the queued SQEs, so nothing can be written.
    if (!bound_to_thread_) return;
    closing_ = true;
    cancel_all();
    if (wake_armed_) (void)queue_cancel(wake_tag);
    const auto deadline = std::chrono::steady_clock::now() + teardown_limit;
    while (in_flight_count_ > 0 || wake_armed_) {
      retry_postponed_work();
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= decltype(left)::zero()) break;
      __kernel_timespec limit =
          to_timespec(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
      io_uring_cqe* first = nullptr;
      const int result = io_uring_submit_and_wait_timeout(&ring_.ring, &first, 1, &limit, nullptr);
      reap(dispatch::discard);
      if (!harmless_enter_result(result)) break;  // e.g. destroyed on a foreign thread
    }
  }

  // Declared first so that they are released after the ring is gone.
  wake_fd wake_fd_;
  provided_buffers buffers_;
  ring_handle ring_;

  /// Where the kernel puts the eventfd counter when the armed wake read completes.
  std::uint64_t wake_count_ = 0;
  /// A wake read/poll is queued or in the kernel (its CQE has not been reaped).
  bool wake_armed_ = false;
  /// The kernel cannot wait on a read of a non-blocking eventfd; arm POLL_ADD instead.
  bool wake_by_poll_ = false;
  /// Some in-flight op is in state cancel_postponed.
  bool cancels_postponed_ = false;
  /// The ring has been enabled and its fd registered by the thread that first entered it.
  bool bound_to_thread_ = false;
  /// Set by the destructor: stop re-arming the wake read.
  bool closing_ = false;
  /// The kernel has OPENAT, CLOSE, FSYNC and STATX (see has_file_opcodes).
  bool file_ops_ = false;
  /// accept_multishot and recv_multishot are offered (see supports_multishot()).
  bool multishot_ = false;

  /// Submitted ops whose CQE has not been reaped, linked through backend_links (newest first).
  intrusive_list<io_op, &io_op::backend_links> in_flight_;
  std::size_t in_flight_count_ = 0;
};

}  // namespace

std::unique_ptr<backend> make_uring_backend() { return std::make_unique<uring_backend>(); }

}  // namespace eddy::detail
