// thread_pool_executor and executor_core, the state it shares with its worker threads: the
// queue of calls, the workers, and how an idle worker searches for work, then sleeps.
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "eddy/detail/intrusive_list.hpp"
#include "eddy/detail/thread_work.hpp"
#include "eddy/thread.hpp"

namespace eddy {

namespace detail {

namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  ::syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Workers take no asynchronous signals: a Ctrl-C belongs to the loop's thread. Faults stay
/// deliverable (blocking them would kill the process without a report).
void block_async_signals() noexcept {
  sigset_t blocked;
  sigfillset(&blocked);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
    sigdelset(&blocked, fault);
  }
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
}

// How an idle worker waits for the next call before it sleeps on its futex ("searching"). A
// submission that finds a searching worker makes no system call, and the worker picks the
// call up within a fraction of a microsecond on a free core. The pause phase is skipped when
// the process may use a single CPU (taskset -c 1): spinning there only delays the thread we
// wait for. sched_yield() lets the submitting loop run when both share one core; the worker
// resumes as soon as the loop blocks, still without a futex round trip.
constexpr int default_pause_rounds = 64;
constexpr int yield_rounds = 64;
/// Workers searching at once (the others sleep). A submission that finds a searcher with no
/// call counted for it yet counts itself for that searcher and wakes no one; every other one
/// wakes or starts a worker, so a burst of blocking calls runs concurrently.
constexpr std::size_t max_searching = 1;

}  // namespace

/// The state a thread_pool_executor shares with its workers (each worker holds a reference,
/// so a worker that shut its own executor down still has it while it returns).
class executor_core : public std::enable_shared_from_this<executor_core> {
 public:
  explicit executor_core(std::size_t max_workers) : max_workers_(max_workers) {}
  executor_core(const executor_core&) = delete;
  executor_core& operator=(const executor_core&) = delete;
  ~executor_core() {
    // Reached when the last reference goes: every thread has been joined or detached.
    for (auto& each : workers_) {
      if (each->thread.joinable()) {
        each->thread.detach();
      }
    }
  }

  [[nodiscard]] std::size_t max_workers() const noexcept { return max_workers_; }

  /// detail::enqueue: queues `work`, waking or starting a worker unless a searcher will take it.
  /// Inlined into detail::enqueue, its only caller: worker_call_base::start, in another file,
  /// calls that, and a hop between the two would cost every call made for a loop.
  [[gnu::always_inline]] void enqueue(thread_work& work) {
    worker* to_wake = nullptr;
    {
      std::lock_guard guard(mutex_);
      if (shutdown_) {
        throw std::runtime_error("thread_pool_executor: cannot schedule new calls after shutdown");
      }
      queue_.push_back(work);
      ++queued_;
      has_work_.store(true, std::memory_order_relaxed);
      if (claimed_ < searching_) {
        ++claimed_;  // a searching worker will take it: no system call
      } else {
        to_wake = idle_.pop_front();
        if (to_wake == nullptr && workers_.size() < max_workers_) {
          try {
            start_worker();
          } catch (...) {
            if (workers_.empty()) {  // no one will ever run it: take it back (it is all there is)
              static_cast<void>(queue_.take_all());
              queued_ = 0;
              has_work_.store(false, std::memory_order_relaxed);
              throw;
            }
            // Otherwise a busy worker will get to it.
          }
        }
      }
    }
    if (to_wake != nullptr) {
      wake(*to_wake);
    }
  }

  /// thread_pool_executor::shutdown: refuses new calls, wakes the sleepers so they return,
  /// drops the queued calls if cancel_futures, and joins every worker if wait.
  void shutdown(bool wait, bool cancel_futures) {
    thread_work* dropped = nullptr;
    worker* sleepers = nullptr;
    std::vector<worker*> to_join;
    {
      std::lock_guard guard(mutex_);
      shutdown_ = true;
      shutting_down_.store(true, std::memory_order_relaxed);
      if (cancel_futures) {
        dropped = queue_.take_all();
        queued_ = 0;
        claimed_ = 0;
        has_work_.store(false, std::memory_order_relaxed);
      }
      sleepers = idle_.take_all();
      if (wait) {
        for (auto& each : workers_) {
          to_join.push_back(each.get());
        }
      }
    }
    while (sleepers != nullptr) {
      worker* next = sleepers->next_idle;
      wake(*sleepers);
      sleepers = next;
    }
    while (dropped != nullptr) {
      thread_work* next = dropped->next_work;
      dropped->discard(*dropped);
      dropped = next;
    }
    if (!wait) {
      return;
    }
    std::lock_guard joining(join_mutex_);
    const std::thread::id self = std::this_thread::get_id();
    for (worker* each : to_join) {
      if (!each->thread.joinable()) {
        continue;
      }
      if (each->thread.get_id() == self) {
        each->thread.detach();  // a worker shutting its own pool down: it ends on return
      } else {
        each->thread.join();
      }
    }
  }

 private:
  /// One worker thread, and how it is woken.
  struct worker {
    std::atomic<std::uint32_t> wake_word{0};  ///< 0: asleep or about to be; 1: woken
    worker* next_idle = nullptr;              ///< the link in idle_, guarded by mutex_
    std::thread thread;                       ///< touched by the pool, never by the worker
  };

  /// Under mutex_. A searcher that leaves without work leaves no claim behind (the call it
  /// was counted for, if any, was taken by another worker).
  void stop_searching() noexcept {
    --searching_;
    claimed_ = std::min(claimed_, searching_);
  }

  /// Ends `sleeper`'s futex wait, once it has been taken off idle_.
  static void wake(worker& sleeper) noexcept {
    sleeper.wake_word.store(1, std::memory_order_release);
    futex_wake_one(sleeper.wake_word);
  }

  /// Under mutex_: a new worker thread, counted in workers_ before it runs.
  void start_worker() {
    workers_.push_back(std::make_unique<worker>());
    worker& started = *workers_.back();
    try {
      started.thread = std::thread([core = shared_from_this(), &started] { core->work(started); });
    } catch (...) {
      workers_.pop_back();
      throw;
    }
  }

  /// Spins for a while; true as soon as work (or shutdown) seems to be there.
  bool search(int pause_rounds) const noexcept {
    for (int round = 0; round < pause_rounds + yield_rounds; ++round) {
      if (has_work_.load(std::memory_order_relaxed) ||
          shutting_down_.load(std::memory_order_relaxed)) {
        return true;
      }
      if (round < pause_rounds) {
        cpu_relax();
      } else {
        sched_yield();
      }
    }
    return false;
  }

  /// A worker thread's body: runs queued calls until shutdown, searching, then sleeping, when
  /// there are none.
  void work(worker& self) noexcept {
    block_async_signals();
    pthread_setname_np(pthread_self(), "eddy-worker");
    // Spinning on the only CPU we may use would only delay the thread we wait for.
    cpu_set_t allowed;
    const bool one_cpu =
        sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) == 1;
    const int pause_rounds = one_cpu ? 0 : default_pause_rounds;
    std::unique_lock lock(mutex_);
    bool may_search = true;
    for (;;) {
      if (thread_work* next = queue_.pop_front()) {
        --queued_;
        if (queue_.empty()) {
          has_work_.store(false, std::memory_order_relaxed);
        }
        claimed_ = std::min(claimed_, queued_);
        lock.unlock();
        const bool publish_later = next->execute(*next);
        may_search = true;
        lock.lock();
        if (publish_later) {
          // Become available first, then publish: whoever waits for this call usually makes
          // the next one right away, and must find this worker searching rather than wake or
          // start another. (On one core the publication itself may switch to the waiter.)
          const bool will_search = queue_.empty() && !shutdown_ && searching_ < max_searching;
          if (will_search) {
            ++searching_;
          }
          lock.unlock();
          next->publish(*next);
          if (will_search) {
            search(pause_rounds);
            lock.lock();
            stop_searching();
            may_search = false;
            continue;
          }
          lock.lock();
        }
        continue;
      }
      if (shutdown_) {
        return;
      }
      if (may_search && searching_ < max_searching) {
        ++searching_;
        lock.unlock();
        search(pause_rounds);
        lock.lock();
        stop_searching();
        may_search = false;
        continue;
      }
      self.wake_word.store(0, std::memory_order_relaxed);
      idle_.push_front(self);
      lock.unlock();
      while (self.wake_word.load(std::memory_order_acquire) == 0) {
        futex_wait(self.wake_word, 0);
      }
      lock.lock();
      may_search = true;
    }
  }

  std::mutex mutex_;  ///< guards the queue, idle_, the counts, workers_ and shutdown_
  intrusive_fifo<thread_work, &thread_work::next_work> queue_;  ///< the calls, guarded by mutex_
  std::atomic<bool> has_work_{false};       ///< !queue_.empty(), for searching workers
  std::atomic<bool> shutting_down_{false};  ///< shutdown_, for searching workers
  /// Sleeping workers, newest first: pushed and popped at the front, so the one woken is the
  /// most recently idle (its stack and caches are warm). Guarded by mutex_.
  intrusive_fifo<worker, &worker::next_idle> idle_;
  std::size_t queued_ = 0;     ///< calls in the queue
  std::size_t searching_ = 0;  ///< workers spinning in search()
  /// Queued calls that a searcher will take (so no one was woken for them); at most
  /// min(searching_, queued_). Every other queued call woke or started a worker, unless all
  /// max_workers were busy.
  std::size_t claimed_ = 0;
  std::vector<std::unique_ptr<worker>> workers_;  ///< only grows; guarded by mutex_
  const std::size_t max_workers_;
  bool shutdown_ = false;  ///< no new calls; workers return once the queue is empty
  std::mutex join_mutex_;  ///< one joiner at a time
};

void enqueue(thread_pool_executor& executor, thread_work& work) { executor.core_->enqueue(work); }

}  // namespace detail

std::size_t thread_pool_executor::default_max_workers() noexcept {
  return std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4);
}

thread_pool_executor::thread_pool_executor(std::size_t max_workers) {
  if (max_workers == 0) {
    throw std::invalid_argument("thread_pool_executor: max_workers must be greater than 0, not 0");
  }
  core_ = std::make_shared<detail::executor_core>(max_workers);
}

thread_pool_executor::~thread_pool_executor() { core_->shutdown(true, false); }

void thread_pool_executor::shutdown(bool wait, bool cancel_futures) {
  core_->shutdown(wait, cancel_futures);
}

std::size_t thread_pool_executor::max_workers() const noexcept { return core_->max_workers(); }

}  // namespace eddy
