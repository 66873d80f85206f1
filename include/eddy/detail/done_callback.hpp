// Done callbacks added by the user (Future/Task.add_done_callback): run through the loop, in
// the context they were added in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/detail/frame_allocator.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

/// A done callback added by the user: scheduled on the ready queue when the future completes
/// (asyncio runs done callbacks with call_soon, never inside set_result).
class user_done_callback : public done_link, public ready_node, public recycled {
 public:
  user_done_callback(const user_done_callback&) = delete;
  user_done_callback& operator=(const user_done_callback&) = delete;
  virtual ~user_done_callback() { release_context(context_); }

  /// Links a new callback to `state`, or schedules it at once if state is done.
  static std::uintptr_t attach(future_base& state, user_done_callback* callback) noexcept {
    callback->loop_of_callback_ = &state.loop();
    if (state.done()) {
      state.loop().schedule(*callback);
    } else {
      state.add_done_link(*callback);
    }
    return reinterpret_cast<std::uintptr_t>(static_cast<done_link*>(callback));
  }

  /// Removes a callback that has not been scheduled yet; returns how many were removed (0/1).
  static std::size_t detach(future_base& state, std::uintptr_t id) noexcept {
    auto* link = reinterpret_cast<done_link*>(id);
    if (id == 0 || !state.has_done_link(*link)) {
      return 0;
    }
    state.remove_done_link(*link);
    delete static_cast<user_done_callback*>(link);
    return 1;
  }

 protected:
  /// Throws std::bad_alloc if the current context cannot be copied.
  user_done_callback() : context_(capture_context()) {
    on_done = [](done_link& link, future_base& state) noexcept {
      state.loop().schedule(static_cast<user_done_callback&>(link));
    };
    run = [](ready_node& node) noexcept {
      auto& self = static_cast<user_done_callback&>(node);
      self.invoke_and_report();
      delete &self;
    };
  }

  virtual void invoke() = 0;
  virtual std::string owner_name() const = 0;

 private:
  void invoke_and_report() noexcept;

  loop_core* loop_of_callback_ = nullptr;
  /// The context add_done_callback was called in (a copy; null: empty): the callback runs
  /// there, as asyncio's done callbacks do.
  context_cell* context_;
};

template <class Handle, class Callback>
class typed_done_callback final : public user_done_callback {
 public:
  typed_done_callback(Handle handle, Callback callback)
      : handle_(std::move(handle)), callback_(std::move(callback)) {}

 private:
  void invoke() override {
    if constexpr (std::is_invocable_v<Callback&, Handle&>) {
      std::invoke(callback_, handle_);
    } else {
      std::invoke(callback_);
    }
  }
  std::string owner_name() const override { return handle_.state()->describe(); }

  Handle handle_;
  Callback callback_;
};

}  // namespace eddy::detail
