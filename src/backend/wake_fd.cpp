#include "backend/wake_fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>
#include <cerrno>
#include <system_error>

namespace eddy::detail {

wake_fd::wake_fd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
}

wake_fd::~wake_fd() { ::close(fd_); }

void wake_fd::signal() const noexcept {
  const std::uint64_t one = 1;
  // The only failure is EAGAIN, a saturated counter: a wake-up is pending already. write() is
  // async-signal-safe, and errno is saved because a signal handler may have interrupted code
  // that is about to read it.
  const int saved_errno = errno;
  if (::write(fd_, &one, sizeof one) < 0) errno = saved_errno;
}

void wake_fd::drain() const noexcept {
  std::uint64_t count = 0;
  // EAGAIN: already zero. Reading an eventfd returns and clears the whole counter at once.
  if (::read(fd_, &count, sizeof count) < 0) {
  }
}

}  // namespace eddy::detail
