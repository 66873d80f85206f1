// result_slot<T>: a value's storage whose presence its owner tracks (a future's or task's
// status), shared by futures, tasks and thread calls.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace eddy::detail {

/// Storage for a value whose presence the owner tracks (a future's status says "finished"),
/// so it costs no engaged flag. The owner calls destroy() exactly once if it emplaced.
template <class T>
class result_slot {
 public:
  result_slot() noexcept {}
  result_slot(const result_slot&) = delete;
  result_slot& operator=(const result_slot&) = delete;
  ~result_slot() {}

  template <class... Args>
  void emplace(Args&&... args) {
    std::construct_at(&value_, std::forward<Args>(args)...);
  }
  T& get() noexcept { return value_; }
  void destroy() noexcept { std::destroy_at(&value_); }

 private:
  union {
    T value_;
  };
};

/// Whether a finished owner must call destroy() at all (a compile-time answer spares a test of
/// the owner's status on every destruction).
template <class T>
inline constexpr bool result_needs_destroy =
    !std::is_void_v<T> && !std::is_trivially_destructible_v<T>;

template <>
class result_slot<void> {
 public:
  void emplace() noexcept {}
  void get() noexcept {}
  void destroy() noexcept {}
};

}  // namespace eddy::detail
