// loop_threads, a loop's thread-bridge state (event_loop owns one): its mailbox and its default
// executor. Private to src/: worker_call.cpp finds it for every call started, loop_threads.cpp
// makes and closes it and holds event_loop's default-executor methods.
#pragma once

#include <memory>
#include <stdexcept>

#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/loop_mailbox.hpp"
#include "eddy/thread.hpp"

namespace eddy::detail {

/// Declared in loop_mailbox.hpp, where event_loop holds it through loop_threads_ptr; defined
/// here, for src/ alone.
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

  /// The loop's inbox for other threads.
  [[nodiscard]] loop_mailbox& mailbox() noexcept { return *mailbox_; }

  /// The executor calls go to when none is named: made on first use (asyncio's default
  /// executor). Throws std::runtime_error once shutdown_default_executor has run.
  thread_pool_executor& default_executor() {
    if (shutdown_called_) {
      throw std::runtime_error(
          "the default executor has been shut down (shutdown_default_executor)");
    }
    if (!default_executor_) {
      default_executor_ = std::make_shared<thread_pool_executor>();
    }
    return *default_executor_;
  }

  loop_mailbox* mailbox_;  ///< one reference; every call in flight holds another
  std::shared_ptr<thread_pool_executor> default_executor_;  ///< null until used or set
  bool shutdown_called_ = false;  ///< by shutdown_default_executor: none will be made again
};

}  // namespace eddy::detail
