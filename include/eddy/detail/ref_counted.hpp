// ref_counted: the reference count of a shared state, and its deletion by the last release.
// state_ref (future_base.hpp) holds such references; add_ref/release are the whole protocol.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace eddy::detail {

/// Whether the count may be touched by several threads at once.
enum class ref_counting : std::uint8_t {
  single_thread,  ///< loop-thread states: a plain increment
  atomic,         ///< states handed between threads (the thread bridge, contexts, callbacks)
};

/// Gives Derived add_ref() and release(); the release that drops the count to zero deletes
/// the Derived (through a virtual destructor, when Derived has one). A Derived whose
/// destructor is not public befriends its base: `friend class ref_counted<Derived, ...>;`.
template <class Derived, ref_counting Counting>
class ref_counted {
 public:
  ref_counted(const ref_counted&) = delete;
  ref_counted& operator=(const ref_counted&) = delete;

  void add_ref() noexcept {
    if constexpr (Counting == ref_counting::atomic) {
      references_.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++references_;
    }
  }

  void release() noexcept {
    bool last;
    if constexpr (Counting == ref_counting::atomic) {
      last = references_.fetch_sub(1, std::memory_order_acq_rel) == 1;
    } else {
      last = --references_ == 0;
    }
    if (last) {
      delete static_cast<Derived*>(this);
    }
  }

 protected:
  /// `initial` references, held by whoever made the state (1: the maker's own).
  explicit ref_counted(std::uint32_t initial = 1) noexcept : references_(initial) {}
  ~ref_counted() = default;

  /// The count now. Exact for a single-thread count; for an atomic one, a reading that another
  /// thread may change at once, except that 1 means "only the caller holds it" when the
  /// caller holds a reference (no one else can add one then).
  [[nodiscard]] std::uint32_t use_count() const noexcept {
    if constexpr (Counting == ref_counting::atomic) {
      return references_.load(std::memory_order_acquire);
    } else {
      return references_;
    }
  }

 private:
  using counter = std::conditional_t<Counting == ref_counting::atomic, std::atomic<std::uint32_t>,
                                     std::uint32_t>;
  counter references_;
};

}  // namespace eddy::detail
