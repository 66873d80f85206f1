// Signal handlers for event loops: a sigaction handler that only wakes the owning loop through
// a pipe, and the loop-side table that turns a wake-up into the user's callbacks.
#include "eddy/signal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"

namespace eddy::detail {

namespace {

/// What the async-signal handler may look at: lock-free atomics only.
struct signal_slot {
  std::atomic<int> wake_fd{-1};             ///< write end of the owning loop's pipe; -1 when none
  std::atomic<bool> pending{false};         ///< delivered, not yet seen by the loop
  std::atomic<bool> kill_on_repeat{false};  ///< runner's SIGINT: the second delivery kills
  std::atomic<int> interrupts{0};           ///< deliveries counted while kill_on_repeat is set
};

std::array<signal_slot, NSIG> slots;
/// Handlers currently running on some thread: remove waits for none before closing the pipe.
std::atomic<int> handlers_running{0};

/// Which loop handles each signal (registration, on loop threads only).
std::mutex owners_mutex;
std::array<loop_signals*, NSIG> owners{};

static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

extern "C" void wake_loop_for_signal(int signo) {
  const int saved_errno = errno;
  handlers_running.fetch_add(1);
  signal_slot& slot = slots[static_cast<std::size_t>(signo)];
  if (slot.kill_on_repeat.load() && slot.interrupts.fetch_add(1) >= 1) {
    // The second Ctrl-C: behave as if eddy were not there. The signal is blocked while this
    // handler runs, so the re-raised one is delivered (with its default action) on return.
    struct sigaction default_action{};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(signo, &default_action, nullptr);
    handlers_running.fetch_sub(1);
    ::raise(signo);
    errno = saved_errno;
    return;
  }
  slot.pending.store(true);
  const int fd = slot.wake_fd.load();
  if (fd >= 0) {
    const char byte = 0;
    // A full pipe already holds a wake-up; nothing else can be done here anyway.
    [[maybe_unused]] ssize_t written = ::write(fd, &byte, 1);
  }
  handlers_running.fetch_sub(1);
  errno = saved_errno;
}

std::string signal_label(int signo) {
  const char* name = ::sigabbrev_np(signo);
  return name != nullptr ? std::to_string(signo) + " (SIG" + name + ")" : std::to_string(signo);
}

void check_signal_number(const char* what, int signo) {
  if (signo < 1 || signo >= NSIG) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(signo) +
                                " is not a signal number");
  }
}

}  // namespace

class loop_signals {
 public:
  explicit loop_signals(event_loop& loop) : loop_(loop) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw std::system_error(errno, std::system_category(), "add_signal_handler: pipe2");
    }
    read_fd_ = ends[0];
    write_fd_ = ends[1];
    try {
      loop_.add_reader(read_fd_, [this] { dispatch(); });
    } catch (...) {
      ::close(read_fd_);
      ::close(write_fd_);
      throw;
    }
  }

  loop_signals(const loop_signals&) = delete;
  loop_signals& operator=(const loop_signals&) = delete;

  ~loop_signals() {
    while (!entries_.empty()) {
      release(entries_.begin()->first);
    }
    if (!loop_.is_closed()) {
      loop_.remove_reader(read_fd_);  // a closing loop has retired its watches already
    }
    ::close(read_fd_);
    ::close(write_fd_);
  }

  void add(int signo, std::function<void()> callback, bool is_interrupt) {
    auto found = entries_.find(signo);
    if (found != entries_.end()) {
      entry& existing = found->second;
      if (existing.active.is_interrupt && !is_interrupt) {
        // A user handler goes on top of runner's Ctrl-C handling, which comes back on remove.
        existing.shadowed = std::move(existing.active);
        slots[static_cast<std::size_t>(signo)].kill_on_repeat.store(false);
      }
      existing.active = registration{std::move(callback), is_interrupt};
      return;
    }
    std::lock_guard guard(owners_mutex);
    if (owners[static_cast<std::size_t>(signo)] != nullptr) {
      throw std::runtime_error("add_signal_handler: signal " + signal_label(signo) +
                               " is already handled by another event loop");
    }
    signal_slot& slot = slots[static_cast<std::size_t>(signo)];
    slot.pending.store(false);
    slot.interrupts.store(0);
    slot.kill_on_repeat.store(is_interrupt);
    slot.wake_fd.store(write_fd_);
    struct sigaction action{};
    action.sa_handler = &wake_loop_for_signal;
    action.sa_flags = SA_RESTART;  // system calls on other threads are not interrupted
    ::sigemptyset(&action.sa_mask);
    struct sigaction previous{};
    if (::sigaction(signo, &action, &previous) != 0) {
      const int error = errno;
      slot.wake_fd.store(-1);
      slot.kill_on_repeat.store(false);
      if (error == EINVAL) {
        throw std::invalid_argument("add_signal_handler: signal " + signal_label(signo) +
                                    " cannot be caught");
      }
      throw std::system_error(error, std::system_category(), "add_signal_handler: sigaction");
    }
    owners[static_cast<std::size_t>(signo)] = this;
    entries_.emplace(
        signo, entry{registration{std::move(callback), is_interrupt}, std::nullopt, previous});
  }

  /// Removes the user handler (is_interrupt false) or runner's (true); false if there is none.
  bool remove(int signo, bool is_interrupt) {
    auto found = entries_.find(signo);
    if (found == entries_.end()) {
      return false;
    }
    entry& existing = found->second;
    if (is_interrupt && existing.shadowed) {
      existing.shadowed.reset();
      return true;
    }
    if (existing.active.is_interrupt != is_interrupt) {
      return false;
    }
    if (existing.shadowed) {
      existing.active = std::move(*existing.shadowed);
      existing.shadowed.reset();
      slots[static_cast<std::size_t>(signo)].kill_on_repeat.store(existing.active.is_interrupt);
      return true;
    }
    release(signo);
    return true;
  }

 private:
  struct registration {
    std::function<void()> callback;
    bool is_interrupt = false;  ///< runner's SIGINT handling rather than a user handler
  };
  struct entry {
    registration active;
    std::optional<registration> shadowed;  ///< runner's SIGINT under a user handler
    struct sigaction previous_action;      ///< what remove restores
  };

  /// Gives the signal its previous disposition back and forgets it.
  void release(int signo) noexcept {
    auto found = entries_.find(signo);
    ::sigaction(signo, &found->second.previous_action, nullptr);
    signal_slot& slot = slots[static_cast<std::size_t>(signo)];
    slot.wake_fd.store(-1);
    slot.kill_on_repeat.store(false);
    slot.pending.store(false);
    // A handler that started before the sigaction above may still be about to write to our
    // pipe; the pipe stays open until it is done.
    while (handlers_running.load() != 0) {
      std::this_thread::yield();
    }
    {
      std::lock_guard guard(owners_mutex);
      owners[static_cast<std::size_t>(signo)] = nullptr;
    }
    entries_.erase(found);
  }

  /// The pipe is readable: run the callback of every signal that arrived since last time.
  void dispatch() {
    char drained[64];
    while (::read(read_fd_, drained, sizeof drained) > 0) {
    }
    std::vector<int> arrived;
    for (const auto& [signo, registered] : entries_) {
      if (slots[static_cast<std::size_t>(signo)].pending.exchange(false)) {
        arrived.push_back(signo);
      }
    }
    for (int signo : arrived) {
      auto found = entries_.find(signo);
      if (found == entries_.end()) {
        continue;  // an earlier callback removed it
      }
      std::function<void()> callback = found->second.active.callback;  // it may remove itself
      try {
        callback();
      } catch (...) {
        loop_.call_exception_handler({"Exception in the handler of signal " + signal_label(signo),
                                      std::current_exception(),
                                      {}});
      }
    }
  }

  event_loop& loop_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::map<int, entry> entries_;
};

void loop_signals_deleter::operator()(loop_signals* signals) const noexcept { delete signals; }

bool install_interrupt_handler(event_loop& loop, std::function<void()> on_interrupt) {
  if (::gettid() != ::getpid() || loop.is_closed()) {
    return false;  // CPython's Runner: only the main thread handles Ctrl-C
  }
  struct sigaction current{};
  if (::sigaction(SIGINT, nullptr, &current) != 0 || (current.sa_flags & SA_SIGINFO) != 0 ||
      current.sa_handler != SIG_DFL) {
    return false;  // the program (or a test framework) handles SIGINT itself
  }
  loop.signals().add(SIGINT, std::move(on_interrupt), true);
  return true;
}

void remove_interrupt_handler(event_loop& loop) noexcept {
  if (loop.signals_) {
    loop.signals_->remove(SIGINT, true);
  }
}

}  // namespace eddy::detail

namespace eddy {

detail::loop_signals& event_loop::signals() {
  if (!signals_) {
    signals_.reset(new detail::loop_signals(*this));
  }
  return *signals_;
}

void event_loop::add_signal_handler(int signo, std::function<void()> callback) {
  check_usable("add_signal_handler");
  detail::check_signal_number("add_signal_handler", signo);
  if (signo == SIGKILL || signo == SIGSTOP) {
    throw std::invalid_argument("add_signal_handler: signal " + detail::signal_label(signo) +
                                " cannot be caught");
  }
  if (!callback) {
    throw std::invalid_argument("add_signal_handler: the callback is empty");
  }
  signals().add(signo, detail::in_current_context(std::move(callback)),
                false);  // as asyncio's Handle
}

bool event_loop::remove_signal_handler(int signo) {
  detail::check_signal_number("remove_signal_handler", signo);
  return signals_ ? signals_->remove(signo, false) : false;
}

void add_signal_handler(event_loop& loop, int signo, std::function<void()> callback) {
  loop.add_signal_handler(signo, std::move(callback));
}

bool remove_signal_handler(event_loop& loop, int signo) {
  return loop.remove_signal_handler(signo);
}

}  // namespace eddy
