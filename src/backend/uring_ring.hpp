// The io_uring backend's ring (src/backend/uring.cpp): creating it with the best setup flags
// the kernel accepts, probing the opcodes eddy issues, and the provided buffers multishot
// receives land in. Included by uring.cpp only.
#pragma once

#include <liburing.h>

#include <sys/mman.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace eddy::detail::uring_ring {

constexpr unsigned preferred_entries = 4096;
constexpr unsigned minimum_entries = 8;

/// Owns the ring's mappings and fd; the backend's destructor drains it before this runs.
struct ring_handle {
  io_uring ring{};

  ring_handle() { initialise(); }
  ~ring_handle() { io_uring_queue_exit(&ring); }
  ring_handle(const ring_handle&) = delete;
  ring_handle& operator=(const ring_handle&) = delete;

 private:
  void initialise() {
    // Most wanted first. DEFER_TASKRUN needs 6.1, SINGLE_ISSUER 6.0, COOP_TASKRUN 5.19; older
    // kernels say EINVAL. DEFER_TASKRUN runs completion work only when the owner enters the
    // kernel, in one batch, instead of interrupting it; the completions then appear only after
    // an enter with GETEVENTS, but TASKRUN_FLAG raises IORING_SQ_TASKRUN while such work is
    // pending, which is what kernel_holds_completions() reads, so the syscall-free poll(0)
    // still knows when it must enter.
    constexpr std::array<unsigned, 4> flag_choices{
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
            IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    int error = 0;
    for (unsigned entries = preferred_entries; entries >= minimum_entries; entries /= 2) {
      for (const unsigned flags : flag_choices) {
        io_uring_params params{};
        params.flags = flags;
        error = io_uring_queue_init_params(entries, &ring, &params);
        if (error == 0) return;
        if (error != -EINVAL) break;
      }
      if (error != -ENOMEM) break;
    }
    throw std::system_error(-error, std::system_category(), "io_uring_queue_init_params");
  }
};

/// Throws ENOSYS naming the first opcode eddy needs that this kernel lacks.
inline void require_opcodes(io_uring& ring) {
  struct needed_opcode {
    int opcode;
    const char* name;
  };
  constexpr std::array<needed_opcode, 11> needed{{
      {IORING_OP_NOP, "IORING_OP_NOP"},
      {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
      {IORING_OP_RECV, "IORING_OP_RECV"},
      {IORING_OP_SEND, "IORING_OP_SEND"},
      {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
      {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
      {IORING_OP_READ, "IORING_OP_READ"},
      {IORING_OP_WRITE, "IORING_OP_WRITE"},
      {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
      {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
      {IORING_OP_RECVMSG, "IORING_OP_RECVMSG"},
  }};
  const std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe{
      io_uring_get_probe_ring(&ring), io_uring_free_probe};
  // The probe itself arrived in 5.6, together with most of these opcodes.
  if (!probe) throw std::system_error(ENOSYS, std::system_category(), "io_uring_get_probe_ring");
  for (const needed_opcode& each : needed) {
    if (io_uring_opcode_supported(probe.get(), each.opcode) == 0) {
      throw std::system_error(ENOSYS, std::system_category(),
                              std::string("io_uring lacks ") + each.name);
    }
  }
}

/// Whether the kernel has every opcode eddy/file.hpp issues (5.6+). Optional: without them the
/// ring still serves sockets, and file operations run on the thread pool instead.
inline bool has_file_opcodes(io_uring& ring) noexcept {
  constexpr std::array<int, 4> file_opcodes{IORING_OP_OPENAT, IORING_OP_CLOSE, IORING_OP_FSYNC,
                                            IORING_OP_STATX};
  const std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe{
      io_uring_get_probe_ring(&ring), io_uring_free_probe};
  if (!probe) return false;
  for (const int opcode : file_opcodes) {
    if (io_uring_opcode_supported(probe.get(), opcode) == 0) return false;
  }
  return true;
}

/// Whether an io_uring_enter result is one poll() shrugs off: interrupted, timed out, or the
/// kernel briefly short of memory / CQ room (the SQEs stay queued and go with the next poll).
inline bool harmless_enter_result(int result) noexcept {
  return result >= 0 || result == -EINTR || result == -ETIME || result == -EAGAIN ||
         result == -EBUSY;
}

/// The buffers multishot receives land in: a ring of provided buffers (group 0) registered
/// with the kernel, which picks one per completion. Each goes back to the ring as soon as the
/// completion's on_complete has copied what it wanted, so the pool only has to cover the
/// completions of one reap batch, not every connection.
class provided_buffers {
 public:
  static constexpr unsigned count = 1024;  // a power of two, as the kernel requires
  static constexpr unsigned size = 4096;
  static constexpr int group = 0;

  provided_buffers() = default;
  provided_buffers(const provided_buffers&) = delete;
  provided_buffers& operator=(const provided_buffers&) = delete;
  ~provided_buffers() {
    if (ring_ != nullptr) ::munmap(ring_, ring_bytes);
    if (pool_ != nullptr) ::munmap(pool_, pool_bytes);
  }

  /// Registers an empty ring with the kernel; false where it has no buffer rings (before
  /// 5.19), or memory is short: multishot is then simply not offered.
  bool register_with(io_uring& ring) noexcept {
    void* memory =
        ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return false;
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(memory);
    registration.ring_entries = count;
    registration.bgid = group;
    if (io_uring_register_buf_ring(&ring, &registration, 0) != 0) {
      ::munmap(memory, ring_bytes);
      return false;
    }
    ring_ = static_cast<io_uring_buf_ring*>(memory);
    io_uring_buf_ring_init(ring_);
    return true;
  }

  /// Hands every buffer to the kernel, the first time a multishot receive needs them (their
  /// pages are touched only as the kernel fills them). Throws std::system_error.
  void fill_once() {
    if (pool_ != nullptr) return;
    void* memory =
        ::mmap(nullptr, pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
      throw std::system_error(errno, std::system_category(), "mmap (receive buffers)");
    pool_ = static_cast<std::byte*>(memory);
    for (unsigned id = 0; id < count; ++id) {
      io_uring_buf_ring_add(ring_, data(id), size, static_cast<unsigned short>(id),
                            io_uring_buf_ring_mask(count), static_cast<int>(id));
    }
    io_uring_buf_ring_advance(ring_, count);
  }

  [[nodiscard]] std::byte* data(unsigned id) const noexcept {
    return pool_ + std::size_t{id} * size;
  }

  void give_back(unsigned id) noexcept {
    io_uring_buf_ring_add(ring_, data(id), size, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(ring_, 1);
  }

 private:
  static constexpr std::size_t ring_bytes = count * sizeof(io_uring_buf);
  static constexpr std::size_t pool_bytes = std::size_t{count} * size;

  io_uring_buf_ring* ring_ = nullptr;
  std::byte* pool_ = nullptr;
};

}  // namespace eddy::detail::uring_ring
