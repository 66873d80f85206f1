// An item on a thread pool executor's queue, and how it is queued.
#pragma once

namespace eddy {
class thread_pool_executor;
}

namespace eddy::detail {

// --- executor queue items -----------------------------------------------------------------

/// An item in a thread_pool_executor's queue (intrusive: queuing allocates nothing).
struct thread_work {
  thread_work* next_work = nullptr;  ///< the executor queue's link (an intrusive_fifo's Next)
  /// Runs the call on a worker thread with no lock held; the executor has forgotten the item.
  /// Returns true if the outcome is still to be published with `publish`, which the worker
  /// calls once it has made itself available for the next call (so that the call a waiter
  /// makes as soon as it hears of this one finds that worker, rather than waking or starting
  /// another); false if the item is done with. Never throws.
  bool (*execute)(thread_work& work) noexcept = nullptr;
  void (*publish)(thread_work& work) noexcept = nullptr;
  /// Called instead of execute when shutdown(cancel_futures = true) drops the item, on the
  /// thread that called shutdown.
  void (*discard)(thread_work& work) noexcept = nullptr;
};

/// Queues `work` on `executor`, waking or starting a worker if none is looking for work.
/// Throws std::runtime_error after shutdown (the item is not queued then).
void enqueue(thread_pool_executor& executor, thread_work& work);

}  // namespace eddy::detail
