// The thread bridge's compiled part: thread_pool_executor's workers, the loop mailbox that
// carries completions back, and the loop's default executor.
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
#include <string>
#include <thread>
#include <vector>

#include "eddy/loop.hpp"
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

  void enqueue(thread_work& work) {
    worker* to_wake = nullptr;
    {
      std::lock_guard guard(mutex_);
      if (shutdown_) {
        throw std::runtime_error("thread_pool_executor: cannot schedule new calls after shutdown");
      }
      work.next_work = nullptr;
      (tail_ != nullptr ? tail_->next_work : head_) = &work;
      tail_ = &work;
      ++queued_;
      has_work_.store(true, std::memory_order_relaxed);
      if (claimed_ < searching_) {
        ++claimed_;  // a searching worker will take it: no system call
      } else {
        to_wake = take_idle();
        if (to_wake == nullptr && workers_.size() < max_workers_) {
          try {
            start_worker();
          } catch (...) {
            if (workers_.empty()) {  // no one will ever run it: take it back
              head_ = tail_ = nullptr;
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

  void shutdown(bool wait, bool cancel_futures) {
    thread_work* dropped = nullptr;
    worker* sleepers = nullptr;
    std::vector<worker*> to_join;
    {
      std::lock_guard guard(mutex_);
      shutdown_ = true;
      shutting_down_.store(true, std::memory_order_relaxed);
      if (cancel_futures) {
        dropped = std::exchange(head_, nullptr);
        tail_ = nullptr;
        queued_ = 0;
        claimed_ = 0;
        has_work_.store(false, std::memory_order_relaxed);
      }
      sleepers = std::exchange(idle_, nullptr);
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
  struct worker {
    std::atomic<std::uint32_t> wake_word{0};  ///< 0: asleep or about to be; 1: woken
    worker* next_idle = nullptr;              ///< guarded by mutex_
    std::thread thread;                       ///< touched by the pool, never by the worker
  };

  /// Under mutex_. A searcher that leaves without work leaves no claim behind (the call it
  /// was counted for, if any, was taken by another worker).
  void stop_searching() noexcept {
    --searching_;
    claimed_ = std::min(claimed_, searching_);
  }

  /// Under mutex_: the most recently idle worker (LIFO: its stack and caches are warm).
  worker* take_idle() noexcept {
    worker* taken = idle_;
    if (taken != nullptr) {
      idle_ = taken->next_idle;
    }
    return taken;
  }

  static void wake(worker& sleeper) noexcept {
    sleeper.wake_word.store(1, std::memory_order_release);
    futex_wake_one(sleeper.wake_word);
  }

  /// Under mutex_.
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
      if (has_work_.load(std::memory_order_relaxed) || shutting_down_.load(std::memory_order_relaxed)) {
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

  void work(worker& self) noexcept {
    block_async_signals();
    pthread_setname_np(pthread_self(), "eddy-worker");
    // Spinning on the only CPU we may use would only delay the thread we wait for.
    cpu_set_t allowed;
    const bool one_cpu = sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) == 1;
    const int pause_rounds = one_cpu ? 0 : default_pause_rounds;
    std::unique_lock lock(mutex_);
    bool may_search = true;
    for (;;) {
      if (thread_work* next = head_) {
        head_ = next->next_work;
        --queued_;
        if (head_ == nullptr) {
          tail_ = nullptr;
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
          const bool will_search = head_ == nullptr && !shutdown_ && searching_ < max_searching;
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
      self.next_idle = idle_;
      idle_ = &self;
      lock.unlock();
      while (self.wake_word.load(std::memory_order_acquire) == 0) {
        futex_wait(self.wake_word, 0);
      }
      lock.lock();
      may_search = true;
    }
  }

  std::mutex mutex_;
  thread_work* head_ = nullptr;  ///< the queue (FIFO), guarded by mutex_
  thread_work* tail_ = nullptr;
  std::atomic<bool> has_work_{false};       ///< head_ != null, for searching workers
  std::atomic<bool> shutting_down_{false};  ///< shutdown_, for searching workers
  worker* idle_ = nullptr;                  ///< sleeping workers, newest first
  std::size_t queued_ = 0;                  ///< calls in the queue
  std::size_t searching_ = 0;               ///< workers spinning in search()
  /// Queued calls that a searcher will take (so no one was woken for them); at most
  /// min(searching_, queued_). Every other queued call woke or started a worker, unless all
  /// max_workers were busy.
  std::size_t claimed_ = 0;
  std::vector<std::unique_ptr<worker>> workers_;  ///< only grows; guarded by mutex_
  const std::size_t max_workers_;
  bool shutdown_ = false;
  std::mutex join_mutex_;  ///< one joiner at a time
};

void enqueue(thread_pool_executor& executor, thread_work& work) { executor.core_->enqueue(work); }

// --- the mailbox --------------------------------------------------------------------------

loop_mailbox::loop_mailbox(loop_core& loop) noexcept : loop_(&loop) { run = &drain; }

bool loop_mailbox::post(mail_node& node) noexcept {
  // Dekker-style with close(): either close() sees this post counted and waits for it, or
  // this post sees closed_ and leaves the loop alone. Hence seq_cst on both sides.
  posting_.fetch_add(1, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    posting_.fetch_sub(1, std::memory_order_release);
    return false;
  }
  mail_node* newest = newest_.load(std::memory_order_relaxed);
  do {
    node.next_mail = newest;
  } while (!newest_.compare_exchange_weak(newest, &node, std::memory_order_release, std::memory_order_relaxed));
  if (newest == nullptr) {
    // The inbox was empty, so it is not queued on the loop: hand it over. (Anything pushed
    // after us rides along.) If the loop closed meanwhile, schedule_threadsafe throws, and
    // close(), which cannot finish before this post does, delivers what is here.
    try {
      loop_->schedule_threadsafe(*this);
    } catch (const std::runtime_error&) {
    }
  }
  posting_.fetch_sub(1, std::memory_order_release);
  return true;
}

void loop_mailbox::deliver_all(mail_node* newest_first, bool loop_open) noexcept {
  mail_node* oldest_first = nullptr;
  while (newest_first != nullptr) {
    mail_node* older = newest_first->next_mail;
    newest_first->next_mail = oldest_first;
    oldest_first = newest_first;
    newest_first = older;
  }
  while (oldest_first != nullptr) {
    mail_node* next = oldest_first->next_mail;
    oldest_first->deliver(*oldest_first, loop_open);
    oldest_first = next;
  }
}

void loop_mailbox::drain(ready_node& node) noexcept {
  auto& self = static_cast<loop_mailbox&>(node);
  const bool loop_open = !self.closed_.load(std::memory_order_relaxed) && !self.loop_->is_closed_for_callbacks();
  self.deliver_all(self.newest_.exchange(nullptr, std::memory_order_acquire), loop_open);
}

void loop_mailbox::close() noexcept {
  closed_.store(true, std::memory_order_seq_cst);
  while (posting_.load(std::memory_order_acquire) != 0) {
    sched_yield();  // a post between its check and its return: a few instructions
  }
  deliver_all(newest_.exchange(nullptr, std::memory_order_acquire), false);
}

// --- loop calls ---------------------------------------------------------------------------

worker_call_base::~worker_call_base() {
  release_context(context_);
  if (mailbox_ != nullptr) {
    mailbox_->release();
  }
}

void worker_call_base::send_back() noexcept {
  if (!mailbox_->post(*this)) {
    release();  // the loop is gone: the outcome is dropped here
  }
}

void worker_call_base::discard_work(thread_work& work) noexcept {
  auto& self = static_cast<worker_call_base&>(work);
  phase expected = phase::queued;
  if (self.phase_.compare_exchange_strong(expected, phase::discarded, std::memory_order_acq_rel)) {
    self.drop_invocation();
    self.send_back();  // the awaiter or future learns it was cancelled
  } else {
    self.release();  // its owner cancelled it first
  }
}

// --- the loop's state ---------------------------------------------------------------------

class loop_threads {
 public:
  explicit loop_threads(loop_core& loop) : mailbox_(new loop_mailbox(loop)) {}
  loop_threads(const loop_threads&) = delete;
  loop_threads& operator=(const loop_threads&) = delete;
  ~loop_threads() {
    // After the loop's close(): workers that finish from now on drop their outcomes
    // themselves. Then the default executor goes (joining its workers, if this was the last
    // reference).
    mailbox_->close();
    mailbox_->release();
    default_executor_.reset();
  }

  [[nodiscard]] loop_mailbox& mailbox() noexcept { return *mailbox_; }

  thread_pool_executor& default_executor() {
    if (shutdown_called_) {
      throw std::runtime_error("the default executor has been shut down (shutdown_default_executor)");
    }
    if (!default_executor_) {
      default_executor_ = std::make_shared<thread_pool_executor>();
    }
    return *default_executor_;
  }

  loop_mailbox* mailbox_;
  std::shared_ptr<thread_pool_executor> default_executor_;
  bool shutdown_called_ = false;
};

void loop_threads_deleter::operator()(loop_threads* threads) const noexcept { delete threads; }

loop_threads_ptr make_loop_threads(loop_core& loop) { return loop_threads_ptr(new loop_threads(loop)); }

void loop_closing(loop_threads& threads) noexcept {
  // Closing the mailbox waits for a post still inside schedule_threadsafe, so no worker can
  // touch the backend once close() goes on to destroy it; later posts fail without touching
  // the loop at all.
  threads.mailbox().close();
  if (threads.default_executor_) {
    threads.default_executor_->shutdown(false);
  }
}

loop_threads& threads_of(loop_core& loop) noexcept { return *static_cast<event_loop&>(loop).threads_; }

loop_mailbox& mailbox_of(loop_core& loop) noexcept { return threads_of(loop).mailbox(); }

void worker_call_base::start(loop_core& loop, thread_pool_executor* executor) {
  loop_threads& threads = threads_of(loop);
  thread_pool_executor& target = executor != nullptr ? *executor : threads.default_executor();
  if (mailbox_ == nullptr) {
    mailbox_ = &threads.mailbox();
    mailbox_->add_ref();
  }
  references_.fetch_add(1, std::memory_order_relaxed);  // the execution side's
  phase_.store(phase::queued, std::memory_order_relaxed);
  try {
    enqueue(target, *this);
  } catch (...) {
    phase_.store(phase::created, std::memory_order_relaxed);
    references_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  loop.note_thread_call_started();
}

}  // namespace detail

// --- thread_pool_executor -----------------------------------------------------------------

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

void thread_pool_executor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

std::size_t thread_pool_executor::max_workers() const noexcept { return core_->max_workers(); }

// --- event_loop's part --------------------------------------------------------------------

void event_loop::set_default_executor(std::shared_ptr<thread_pool_executor> executor) {
  if (!executor) {
    throw std::invalid_argument("set_default_executor: the executor is null");
  }
  threads_->default_executor_ = std::move(executor);
}

coro<void> event_loop::shutdown_default_executor() {
  detail::loop_threads& threads = *threads_;
  threads.shutdown_called_ = true;
  std::shared_ptr<thread_pool_executor> executor = std::move(threads.default_executor_);
  if (!executor) {
    co_return;
  }
  // Joined on a thread of its own, so that the loop keeps running meanwhile: a call that
  // waits for this loop (run_coroutine_threadsafe(...).get()) can still finish.
  thread_pool_executor joiner(1);
  auto join_all = [executor = std::move(executor)] { executor->shutdown(true); };
  co_await detail::to_thread_awaiter<void>(new detail::worker_call_for<decltype(join_all)>(std::move(join_all)),
                                           &joiner);
}

}  // namespace eddy
