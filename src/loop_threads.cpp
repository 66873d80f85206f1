// A loop's thread-bridge state over the loop's life: made with the loop, closed with it, and
// event_loop's default-executor methods (set_default_executor, shutdown_default_executor).
#include "loop_threads.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

#include "eddy/coro.hpp"
#include "eddy/loop.hpp"
#include "eddy/thread.hpp"

namespace eddy {

namespace detail {

// --- made and closed with the loop --------------------------------------------------------

void loop_threads_deleter::operator()(loop_threads* threads) const noexcept { delete threads; }

loop_threads_ptr make_loop_threads(loop_core& loop) {
  return loop_threads_ptr(new loop_threads(loop));
}

void loop_closing(loop_threads& threads) noexcept {
  // Closing the mailbox waits for a post still inside schedule_threadsafe, so no worker can
  // touch the backend once close() goes on to destroy it; later posts fail without touching
  // the loop at all.
  threads.mailbox().close();
  if (threads.default_executor_) {
    threads.default_executor_->shutdown(false);
  }
}

}  // namespace detail

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
  co_await detail::to_thread_awaiter<void>(
      new detail::worker_call_for<decltype(join_all)>(std::move(join_all)), &joiner);
}

}  // namespace eddy
