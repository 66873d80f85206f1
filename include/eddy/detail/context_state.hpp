// The machinery under context variables (Python's contextvars): a context is a cell holding a
// map from variable to value; the map is shared between copies until one of them changes it,
// so copying a context (what every create_task does) costs a reference count, and nothing at
// all while no variable has a value. The current context is a context::run's, a callback's,
// the running task's or the thread's own (current_context, in task_base.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#include "eddy/detail/ref_counted.hpp"

namespace eddy::detail {

/// One variable's value, shared by every map that holds it and by tokens. Immutable, so any
/// thread may read it; counted atomically, since to_thread shares maps with a worker.
class context_value : public ref_counted<context_value, ref_counting::atomic> {
 public:
  context_value() noexcept = default;

 protected:
  friend class ref_counted<context_value, ref_counting::atomic>;
  virtual ~context_value() = default;
};

template <class T>
class typed_context_value final : public context_value {
 public:
  template <class U>
  explicit typed_context_value(U&& initial) : value(std::forward<U>(initial)) {}
  const T value;
};

/// The variables' values (src/context.cpp): sorted by variable id, shared between cells.
class context_map;

/// What an eddy::context is: a mutable cell whose map changes when a variable is set in it.
/// Counted atomically (a worker thread may drop the last reference to a to_thread copy).
/// Used by one thread at a time, like the Python object.
class context_cell : public ref_counted<context_cell, ref_counting::atomic> {
 public:
  context_cell() noexcept = default;

  /// No variable has a value here: copying this context is copying nothing.
  [[nodiscard]] bool empty() const noexcept { return map_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept;

  /// `var`'s value here, or null; borrowed (valid while this cell's map is unchanged).
  [[nodiscard]] context_value* find(std::uint64_t var) const noexcept;

  /// Gives `var` the value `value` (adopting its reference), or no value if `value` is null.
  /// A map shared with another cell is copied first; one this cell alone holds changes in
  /// place. Throws std::bad_alloc (then `value` is released and nothing changed).
  void assign(std::uint64_t var, context_value* value);

  /// A new cell sharing this one's map (contextvars.copy_context): one reference each.
  [[nodiscard]] context_cell* copy() const;

  /// Set while a context::run is inside this context (Python refuses to enter it twice).
  std::atomic<bool> entered{false};

 private:
  friend class ref_counted<context_cell, ref_counting::atomic>;
  ~context_cell();

  context_map* map_ = nullptr;
};

/// Set while code that has a context of its own runs outside any task step: a callback, a
/// context::run, a to_thread call on its worker. Null otherwise: the running task's context
/// is current then, or the thread's own outside tasks (see current_context in task_base.hpp).
/// A task step keeps no slot here, so that resuming a task costs nothing more.
constinit inline thread_local context_cell** current_context_slot = nullptr;
/// The thread's own context, for code outside any task or callback (null until a variable is
/// set there; released at thread exit).
constinit inline thread_local context_cell* thread_context = nullptr;

/// Releases a slot's cell, if any.
inline void release_context(context_cell*& slot) noexcept {
  if (slot != nullptr) [[unlikely]] {
    std::exchange(slot, nullptr)->release();
  }
}

/// Makes `slot` the current context for its lifetime (a callback's or worker call's run).
/// Not for task steps: task_base::start clears the slot around an eager first step.
class context_scope {
 public:
  explicit context_scope(context_cell*& slot) noexcept
      : outer_(std::exchange(current_context_slot, &slot)) {}
  ~context_scope() { current_context_slot = outer_; }
  context_scope(const context_scope&) = delete;
  context_scope& operator=(const context_scope&) = delete;

 private:
  context_cell** outer_;
};

/// `callback`, made to run in a copy of the current context (kept for every call, as asyncio's
/// Handle keeps its context): for the callbacks held as std::function (add_reader,
/// add_writer, add_signal_handler). Throws std::bad_alloc.
[[nodiscard]] std::function<void()> in_current_context(std::function<void()> callback);

/// The next context variable's id: unique in the process, never reused, so a value never
/// outlives its variable into another one created at the same address.
[[nodiscard]] std::uint64_t next_context_var_id() noexcept;

}  // namespace eddy::detail
