// worker_call_base's compiled members: a call made for a loop, from start() on an executor to
// the way its outcome goes back. threads_of() and mailbox_of(), the lookup of a loop's thread
// state, are defined here too, so that start(), which makes it on every call, inlines it.
#include "eddy/detail/worker_call.hpp"

#include <atomic>

#include "eddy/loop.hpp"
#include "eddy/thread.hpp"
#include "loop_threads.hpp"

namespace eddy::detail {

// --- ownership and the way back -----------------------------------------------------------

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

// --- finding a loop's thread state --------------------------------------------------------

loop_threads& threads_of(loop_core& loop) noexcept {
  return *static_cast<event_loop&>(loop).threads_;
}

loop_mailbox& mailbox_of(loop_core& loop) noexcept { return threads_of(loop).mailbox(); }

// --- starting a call ----------------------------------------------------------------------

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

}  // namespace eddy::detail
