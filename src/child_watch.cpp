// child_watch: a poll on the child's pidfd, then waitid(P_PIDFD) to reap it.
#include "eddy/detail/child_watch.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "eddy/detail/loop_core.hpp"

namespace eddy::detail {

std::shared_ptr<child_watch> child_watch::start(loop_core& loop, pid_t pid, int pidfd) {
  std::shared_ptr<child_watch> watch(new child_watch(loop, pid, pidfd));
  watch->arm();
  return watch;
}

child_watch::child_watch(loop_core& loop, pid_t pid, int pidfd) noexcept
    : loop_(&loop), pid_(pid), pidfd_(pidfd) {
  poll_.opcode = io_opcode::poll;
  poll_.fd = pidfd;
  poll_.flags = POLLIN;
  poll_.owner = this;
  poll_.on_completion<&polled>();
}

child_watch::~child_watch() {
  if (pidfd_ >= 0) {
    // Only reachable when the poll could not be submitted at all: reaping cannot wait.
    hand_to_reaper_thread();
  }
}

void child_watch::arm() {
  for (;;) {
    poll_.result = 0;
    if (!poll_.start(*loop_)) {
      keep_alive_ = shared_from_this();  // the loop's pending poll owns the watch
      return;
    }
    // Completed at once (epoll: the child had already exited).
    if (poll_.result < 0 || try_reap()) {
      if (poll_.result < 0) {
        throw std::system_error(static_cast<int>(-poll_.result), std::system_category(),
                                "poll(pidfd)");
      }
      return;
    }
  }
}

void child_watch::polled(kernel_op& op) noexcept {
  child_watch& self = *static_cast<poll_op&>(op).owner;
  // Dropped at the end of this function, possibly the last reference.
  std::shared_ptr<child_watch> keep = std::move(self.keep_alive_);
  if (self.try_reap()) {
    return;
  }
  if (self.loop_->is_closed_for_callbacks()) {
    self.hand_to_reaper_thread();  // the loop is going away; the child is not
    return;
  }
  try {
    self.arm();
  } catch (...) {
    self.loop_->call_exception_handler(
        {"child process " + std::to_string(self.pid_) +
             ": watching for its exit failed; it is reaped in the background",
         std::current_exception(),
         {}});
    self.hand_to_reaper_thread();
  }
}

bool child_watch::try_reap() noexcept {
  if (pidfd_ < 0) {
    return true;
  }
  siginfo_t info{};
  int reaped = 0;
  do {
    reaped = ::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0) {
    // ECHILD: someone else reaped it (SIGCHLD ignored, or a waitpid(-1) elsewhere).
    returncode_ = 255;
  } else if (info.si_pid == 0) {
    return false;  // still running
  } else {
    returncode_ = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
  }
  ::close(pidfd_);
  pidfd_ = -1;
  poll_.fd = -1;
  exited_.set();
  return true;
}

void child_watch::hand_to_reaper_thread() noexcept {
  int pidfd = pidfd_;
  pidfd_ = -1;
  poll_.fd = -1;
  // The thread must not take a process-directed signal meant for the loop's handlers, so it
  // starts with every signal blocked.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    std::thread reaper([pidfd] {
      siginfo_t info{};
      while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
      }
      ::close(pidfd);
    });
    reaper.detach();
  } catch (...) {
    // No thread: the child becomes a zombie until this process exits. Nothing better is left.
    ::close(pidfd);
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void child_watch::send_signal(int signo) const {
  if (signo < 1 || signo >= NSIG) {
    throw std::invalid_argument("send_signal: " + std::to_string(signo) +
                                " is not a signal number");
  }
  if (returncode_) {
    // Reaped: the pid may already belong to someone else. asyncio raises ProcessLookupError.
    throw std::system_error(ESRCH, std::system_category(),
                            "send_signal: the process has exited and was reaped");
  }
  if (pidfd_ < 0) {
    throw std::system_error(ESRCH, std::system_category(),
                            "send_signal: the process's event loop is closed");
  }
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C".
  if (::syscall(SYS_pidfd_send_signal, pidfd_, signo, nullptr, 0U) != 0 && errno != ESRCH) {
    throw std::system_error(errno, std::system_category(), "send_signal");
  }
}

}  // namespace eddy::detail
