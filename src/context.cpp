// Context maps: the values of a context's variables, shared between copies of the context
// until one of them changes (copy on write), so that copying a context is O(1).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "eddy/detail/context_state.hpp"
#include "eddy/detail/task_base.hpp"

namespace eddy::detail {

class context_map : public ref_counted<context_map, ref_counting::atomic> {
 public:
  struct entry {
    std::uint64_t var;
    context_value* value;  ///< one reference per map
  };

  context_map() = default;
  /// A copy of `other`'s entries, each value referenced once more.
  explicit context_map(const context_map& other) : ref_counted(), entries_(other.entries_) {
    for (entry& each : entries_) {
      each.value->add_ref();
    }
  }
  context_map& operator=(const context_map&) = delete;

  /// Only the caller's cell holds it: it may change in place. (No other thread can take a
  /// reference meanwhile: that needs a cell holding this map, and there is only the caller's.)
  [[nodiscard]] bool unshared() const noexcept { return use_count() == 1; }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  [[nodiscard]] context_value* find(std::uint64_t var) const noexcept {
    auto found = position(var);
    return found != entries_.end() && found->var == var ? found->value : nullptr;
  }

  /// Replaces, adds (adopting `value`) or, for a null `value`, removes `var`'s entry. The
  /// vector may have to grow: std::bad_alloc leaves the map as it was (and `value` to the
  /// caller).
  void assign(std::uint64_t var, context_value* value) {
    auto found = entries_.begin() + (position(var) - entries_.cbegin());
    if (found != entries_.end() && found->var == var) {
      context_value* old = found->value;
      if (value != nullptr) {
        found->value = value;
      } else {
        entries_.erase(found);
      }
      old->release();
    } else if (value != nullptr) {
      entries_.insert(found, entry{var, value});
    }
  }

 private:
  friend class ref_counted<context_map, ref_counting::atomic>;
  ~context_map() {
    for (entry& each : entries_) {
      each.value->release();
    }
  }

  [[nodiscard]] std::vector<entry>::const_iterator position(std::uint64_t var) const noexcept {
    return std::lower_bound(entries_.begin(), entries_.end(), var,
                            [](const entry& each, std::uint64_t id) { return each.var < id; });
  }

  std::vector<entry> entries_;
};

context_cell::~context_cell() {
  if (map_ != nullptr) {
    map_->release();
  }
}

std::size_t context_cell::size() const noexcept { return map_ != nullptr ? map_->size() : 0; }

context_value* context_cell::find(std::uint64_t var) const noexcept {
  return map_ != nullptr ? map_->find(var) : nullptr;
}

void context_cell::assign(std::uint64_t var, context_value* value) {
  try {
    if (map_ == nullptr) {
      if (value == nullptr) {
        return;
      }
      map_ = new context_map();
    } else if (!map_->unshared()) {
      auto* copy = new context_map(*map_);
      map_->release();
      map_ = copy;
    }
    map_->assign(var, value);
  } catch (...) {
    if (value != nullptr) {
      value->release();
    }
    throw;
  }
  if (map_->size() == 0) {
    // Empty again: copies of this context (each new task's) are free again too.
    std::exchange(map_, nullptr)->release();
  }
}

context_cell* context_cell::copy() const {
  auto* cell = new context_cell();
  if (map_ != nullptr) {
    map_->add_ref();
    cell->map_ = map_;
  }
  return cell;
}

namespace {

/// A std::function callback and the context it runs in, made for in_current_context.
class contextual_callback {
 public:
  contextual_callback(context_cell* context, std::function<void()> callback) noexcept
      : context_(context), callback_(std::move(callback)) {}
  contextual_callback(const contextual_callback& other)
      : context_(other.context_), callback_(other.callback_) {
    if (context_ != nullptr) {
      context_->add_ref();
    }
  }
  contextual_callback& operator=(const contextual_callback&) = delete;
  ~contextual_callback() { release_context(context_); }

  void operator()() {
    context_scope in_context(context_);
    callback_();
  }

 private:
  context_cell* context_;  ///< null until a variable has a value (then made by the first set)
  std::function<void()> callback_;
};

/// Releases the thread's own context at thread exit. Only a thread that set a variable
/// outside any task or callback has one, so only those pay for a thread_local destructor.
struct thread_context_release {
  ~thread_context_release() { release_context(thread_context); }
};

}  // namespace

context_cell& current_context_for_writing() {
  context_cell*& slot = current_context();
  if (slot == nullptr) {
    if (&slot == &thread_context) {
      thread_local thread_context_release at_exit;
      (void)at_exit;
    }
    slot = new context_cell();
  }
  return *slot;
}

std::function<void()> in_current_context(std::function<void()> callback) {
  context_cell* context = capture_context();
  try {
    return contextual_callback(context, std::move(callback));
  } catch (...) {
    release_context(context);
    throw;
  }
}

std::uint64_t next_context_var_id() noexcept {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace eddy::detail
