// Context variables (Python's contextvars): values that follow the flow of a program through
// tasks and callbacks, as a request id follows a request.
//
//     eddy::context_var<std::string> request_id("request_id", "-");
//
//     eddy::coro<void> handle(std::string id) {
//       request_id.set(id);               // this task's context only
//       co_await eddy::create_task(log_it());  // the child starts with a copy: it sees `id`
//     }
//
// Every task runs in a context of its own, a copy of its creator's taken by create_task
// (`{.context = ctx}` gives it `ctx` itself instead). A callback (call_soon, call_later,
// call_at, call_soon_threadsafe, a done callback, add_reader/add_writer, a signal handler)
// runs in a copy of the context it was scheduled from, and to_thread runs its function in a
// copy of the awaiting task's. Setting a variable changes the current context only: never the
// creator's, never a sibling's.
//
// While no variable has a value, copying a context costs nothing (no allocation); afterwards
// a copy is one allocation that shares the values with the original until one of them sets a
// variable. Contexts, like the variables' values, are used by one thread at a time; a
// context_var itself may be shared by every thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/detail/context_state.hpp"
#include "eddy/detail/future_base.hpp"
#include "eddy/detail/task_base.hpp"
#include "eddy/errors.hpp"

namespace eddy {

/// Python's LookupError: context_var::get() of a variable with no value and no default.
class lookup_error : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

template <class T>
class context_var;

namespace detail {
/// A counted reference to a context cell.
using cell_ref = state_ref<context_cell>;
}  // namespace detail

/// A context (contextvars.Context): the values of the context variables, as one task or
/// callback sees them. Copies of an eddy::context are the same context (as Python objects
/// are shared); copy() makes a new one with the same values.
class context {
 public:
  /// A new, empty context (contextvars.Context()). Throws std::bad_alloc.
  context() : cell_(detail::cell_ref::adopt(new detail::context_cell())) {}

  /// Calls `function(args...)` with this context as the current one and returns what it
  /// returns (Context.run): variables it sets are set here, and are seen by later runs and by
  /// the tasks that run in this context. Throws invalid_state_error if this context is
  /// already entered (by a run on any thread, or as the caller's current context); what the
  /// function throws passes through.
  template <class Function, class... Args>
    requires std::invocable<Function, Args...>
  decltype(auto) run(Function&& function, Args&&... args) const {
    entry entered(*this);
    return std::invoke(std::forward<Function>(function), std::forward<Args>(args)...);
  }

  /// A new context with the same values (Context.copy()). Throws std::bad_alloc.
  [[nodiscard]] context copy() const {
    return context(detail::cell_ref::adopt(cell_.get()->copy()));
  }

  /// `var`'s value in this context, or nullopt (Context.get(var); the default is not used).
  template <class T>
  [[nodiscard]] std::optional<T> get(const context_var<T>& var) const {
    return var.lookup_in(*cell_.get());
  }
  /// Whether `var` has a value in this context (`var in ctx`).
  template <class T>
  [[nodiscard]] bool contains(const context_var<T>& var) const noexcept {
    return cell_.get()->find(var.id()) != nullptr;
  }
  /// How many variables have a value here (len(ctx)).
  [[nodiscard]] std::size_t size() const noexcept { return cell_.get()->size(); }

  /// The same context (not equal values: Python compares Context objects by identity too).
  friend bool operator==(const context& a, const context& b) noexcept {
    return a.cell_.get() == b.cell_.get();
  }

  /// For eddy's internals: the context a cell is. Takes a reference.
  explicit context(detail::cell_ref cell) noexcept : cell_(std::move(cell)) {}
  [[nodiscard]] detail::context_cell* cell() const noexcept { return cell_.get(); }

 private:
  /// Enters the context for a run: refuses a context already entered, then makes it current.
  class entry {
   public:
    explicit entry(const context& target)
        : cell_(target.cell_), outer_(detail::current_context_slot) {
      detail::context_cell* cell = cell_.get();
      if (detail::current_context() == cell ||
          cell->entered.exchange(true, std::memory_order_acquire)) {
        throw invalid_state_error("context::run: cannot enter a context that is already entered");
      }
      slot_ = cell;
      detail::current_context_slot = &slot_;
    }
    ~entry() {
      detail::current_context_slot = outer_;
      cell_.get()->entered.store(false, std::memory_order_release);
    }
    entry(const entry&) = delete;
    entry& operator=(const entry&) = delete;

   private:
    detail::cell_ref cell_;  ///< kept alive even if the function drops every other handle
    detail::context_cell** outer_;
    detail::context_cell* slot_ = nullptr;  ///< borrowed from cell_: never replaced, never null
  };

  detail::cell_ref cell_;
};

/// A copy of the current context (contextvars.copy_context()): of the running task's, the
/// running callback's, or the thread's own outside them. Throws std::bad_alloc.
[[nodiscard]] inline context copy_context() {
  detail::context_cell* current = detail::current_context();
  return context(
      detail::cell_ref::adopt(current != nullptr ? current->copy() : new detail::context_cell()));
}

/// A context variable (contextvars.ContextVar): one name, and in each context a value or
/// none. Make it once and share it, typically as a global or a static; copies are refused,
/// since the variable is its identity. Any thread may use it (each in its own context). T
/// must be copy constructible: get() returns a copy, so no value is ever read after a later
/// set() has replaced it.
template <class T>
class context_var {
  static_assert(
      std::is_copy_constructible_v<T> && std::is_same_v<T, std::remove_cvref_t<T>>,
      "eddy::context_var<T>: T must be a copy-constructible, non-reference, non-const type");

 public:
  /// What set() returns, for reset() to undo that set() (contextvars.Token). Move-only: it is
  /// used once.
  class token {
   public:
    token(token&& other) noexcept
        : var_id_(other.var_id_),
          cell_(std::move(other.cell_)),
          old_(std::exchange(other.old_, nullptr)),
          used_(std::exchange(other.used_, true)) {}
    token& operator=(token&&) = delete;
    ~token() {
      if (old_ != nullptr) {
        old_->release();
      }
    }

    /// The value the variable had before the set() (Token.old_value), or nullopt if it had
    /// none (Token.MISSING).
    [[nodiscard]] std::optional<T> old_value() const {
      if (old_ == nullptr) {
        return std::nullopt;
      }
      return static_cast<const detail::typed_context_value<T>*>(old_)->value;
    }
    /// Whether reset() has used it.
    [[nodiscard]] bool used() const noexcept { return used_; }

   private:
    friend class context_var;
    token(std::uint64_t var_id, detail::cell_ref cell, detail::context_value* old) noexcept
        : var_id_(var_id), cell_(std::move(cell)), old_(old) {}

    std::uint64_t var_id_;
    detail::cell_ref cell_;       ///< the context it was made in
    detail::context_value* old_;  ///< referenced; null: no value before
    bool used_ = false;
  };

  /// A variable with no default: get() throws lookup_error where it has no value.
  explicit context_var(std::string name) : name_(std::move(name)) {}
  /// A variable whose get() returns `default_value` where it has no value.
  context_var(std::string name, T default_value)
      : name_(std::move(name)), default_(std::move(default_value)) {}
  context_var(const context_var&) = delete;
  context_var& operator=(const context_var&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The default given at construction (ContextVar's `default`), if any.
  [[nodiscard]] const std::optional<T>& default_value() const noexcept { return default_; }

  /// The value in the current context, else the default. Throws lookup_error when there is
  /// neither.
  [[nodiscard]] T get() const {
    if (const T* found = find_current()) {
      return *found;
    }
    if (default_) {
      return *default_;
    }
    throw lookup_error("context_var '" + name_ + "' has no value in this context and no default");
  }
  /// The value in the current context, else `fallback` (ContextVar.get(default); the
  /// variable's own default is not used).
  [[nodiscard]] T get(T fallback) const {
    if (const T* found = find_current()) {
      return *found;
    }
    return fallback;
  }

  /// Gives the variable `value` in the current context and returns a token for reset().
  /// Throws std::bad_alloc (then nothing changed) and what T's constructor throws.
  token set(T value) {
    detail::context_cell& cell = detail::current_context_for_writing();
    auto* fresh = new detail::typed_context_value<T>(std::move(value));
    detail::context_value* old = cell.find(id_);
    if (old != nullptr) {
      old->add_ref();
    }
    try {
      cell.assign(id_, fresh);  // releases `fresh` if it throws
    } catch (...) {
      if (old != nullptr) {
        old->release();
      }
      throw;
    }
    return token(id_, detail::cell_ref(&cell), old);
  }

  /// Undoes the set() that made `t`: the variable gets back the value it had then, or none
  /// (ContextVar.reset). Throws std::invalid_argument if `t` comes from another variable or
  /// was made in another context (Python's ValueError), invalid_state_error if it has been
  /// used already (RuntimeError); then nothing changes.
  void reset(token& t) {
    if (t.var_id_ != id_) {
      throw std::invalid_argument(
          "context_var::reset: the token was created by a different context_var");
    }
    if (t.used_) {
      throw invalid_state_error("context_var::reset: the token has already been used once");
    }
    if (t.cell_.get() != detail::current_context()) {
      throw std::invalid_argument(
          "context_var::reset: the token was created in a different context");
    }
    if (t.old_ != nullptr) {
      t.old_->add_ref();
    }
    t.cell_.get()->assign(id_, t.old_);
    t.used_ = true;
  }
  void reset(token&& t) { reset(t); }

 private:
  friend class context;

  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  [[nodiscard]] const T* find_current() const noexcept {
    detail::context_cell* cell = detail::current_context();
    if (cell == nullptr) {
      return nullptr;
    }
    detail::context_value* found = cell->find(id_);
    return found != nullptr ? &static_cast<const detail::typed_context_value<T>*>(found)->value
                            : nullptr;
  }

  [[nodiscard]] std::optional<T> lookup_in(const detail::context_cell& cell) const {
    detail::context_value* found = cell.find(id_);
    if (found == nullptr) {
      return std::nullopt;
    }
    return static_cast<const detail::typed_context_value<T>*>(found)->value;
  }

  const std::uint64_t id_ = detail::next_context_var_id();
  std::string name_;
  std::optional<T> default_;
};

}  // namespace eddy
