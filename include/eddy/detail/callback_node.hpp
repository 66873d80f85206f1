// A callback scheduled with call_soon / call_later / call_at / call_soon_threadsafe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/detail/frame_allocator.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/detail/ref_counted.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

/// Shared by the loop (while queued or armed as a timer) and the user's handle; the count is
/// atomic because call_soon_threadsafe hands it across threads. The callback runs in a copy of
/// the context it was scheduled from (asyncio's Handle), taken on the scheduling thread.
class callback_node : public ready_node,
                      public timer_node,
                      public recycled,
                      public ref_counted<callback_node, ref_counting::atomic> {
 public:
  /// Throws std::bad_alloc if the current context cannot be copied.
  explicit callback_node(loop_core& loop) : loop_(&loop), context_(capture_context()) {
    run = &run_callback;
    fire = &timer_fired;
  }
  callback_node(const callback_node&) = delete;
  callback_node& operator=(const callback_node&) = delete;
  virtual ~callback_node() { release_context(context_); }

  /// Marks it cancelled; a queued timer is also taken off the heap (loop thread only).
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept {
    return cancelled_.load(std::memory_order_acquire);
  }
  [[nodiscard]] loop_core& loop() const noexcept { return *loop_; }

 protected:
  virtual void invoke() = 0;

 private:
  static void run_callback(ready_node& node) noexcept;
  static void timer_fired(timer_node& node) noexcept {
    auto& self = static_cast<callback_node&>(node);
    self.loop_->schedule(self);
  }

  loop_core* loop_;
  context_cell* context_;  ///< null: the empty context
  std::atomic<bool> cancelled_{false};
};

template <class Callback>
class callback_impl final : public callback_node {
 public:
  callback_impl(loop_core& loop, Callback callback)
      : callback_node(loop), callback_(std::move(callback)) {}

 private:
  void invoke() override { callback_(); }
  Callback callback_;
};

/// `callback(args...)` as one callable owning decayed copies of both, for call_soon(callback,
/// args...) (asyncio's `loop.call_soon(callback, *args)`): what the caller passed may be gone
/// by the time the loop runs it. A callback runs once, so it gets its arguments as rvalues
/// (a std::unique_ptr argument moves into a by-value parameter).
template <class Callback, class... Args>
auto bind_callback(Callback&& callback, Args&&... args) {
  if constexpr (sizeof...(Args) == 0) {
    static_assert(std::is_invocable_v<std::decay_t<Callback>&>,
                  "eddy::event_loop::call_soon / call_later / call_at: the callback must be "
                  "callable with no arguments, or be given its arguments after it");
    return std::decay_t<Callback>(std::forward<Callback>(callback));
  } else {
    static_assert(std::is_invocable_v<std::decay_t<Callback>, std::decay_t<Args>...>,
                  "eddy::event_loop::call_soon / call_later / call_at: the callback cannot be "
                  "called with these arguments (it is called once as callback(args...), with "
                  "copies of them)");
    return [callback = std::decay_t<Callback>(std::forward<Callback>(callback)),
            ... args = std::decay_t<Args>(std::forward<Args>(args))]() mutable {
      std::invoke(std::move(callback), std::move(args)...);
    };
  }
}

}  // namespace eddy::detail
