// An allocator for eddy's own arrays, the ones that grow with the number of tasks or timers:
// the loop's task registry, the timer wheel's slots, the per-child links of gather, wait and
// as_completed.
//
// Why not std::allocator: on a fresh burst of work these arrays are new memory, and the cost
// of new memory is its first touch. A 4 KiB page fault costs microseconds (tens on some
// virtual machines), so a 10 MB array of links can cost more than the tasks it links. Small
// arrays therefore come from the frame allocator's slabs (huge-page chunks, recycled per
// thread), and large ones are mapped on their own in 2 MiB-aligned regions offered to the
// kernel as transparent huge pages: a few faults instead of thousands.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <vector>

#include "eddy/detail/frame_allocator.hpp"

namespace eddy::detail {

/// Arrays of at least this many bytes get a mapping of their own, rounded up to 2 MiB (so at
/// most half of it is slack).
inline constexpr std::size_t bulk_threshold = std::size_t{1} << 20;

/// A block of `bytes` for an array: a huge-page mapping from bulk_threshold up, else
/// operator new. Throws std::bad_alloc. (src/frame_allocator.cpp)
void* allocate_bulk(std::size_t bytes);
/// Frees a block from allocate_bulk; `bytes` must be the size it was asked for.
void deallocate_bulk(void* block, std::size_t bytes) noexcept;

/// A standard allocator over the frame allocator (small arrays) and allocate_bulk (large).
template <class T>
class array_allocator {
  static_assert(alignof(T) <= frame_allocator::granule, "array_allocator aligns to 16 bytes");

 public:
  using value_type = T;

  array_allocator() noexcept = default;
  template <class U>
  array_allocator(const array_allocator<U>&) noexcept {}  // NOLINT: rebinding is implicit

  T* allocate(std::size_t count) {
    if (count > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
      throw std::bad_array_new_length();
    }
    const std::size_t bytes = count * sizeof(T);
    if (bytes <= frame_allocator::max_size) {
      return static_cast<T*>(frame_allocator::allocate(bytes));
    }
    return static_cast<T*>(allocate_bulk(bytes));
  }

  void deallocate(T* block, std::size_t count) noexcept {
    const std::size_t bytes = count * sizeof(T);
    if (bytes <= frame_allocator::max_size) {
      frame_allocator::deallocate(block, bytes);
    } else {
      deallocate_bulk(block, bytes);
    }
  }

  template <class U>
  friend bool operator==(const array_allocator&, const array_allocator<U>&) noexcept {
    return true;
  }
};

/// A std::vector whose storage comes from array_allocator.
template <class T>
using array_vector = std::vector<T, array_allocator<T>>;

}  // namespace eddy::detail
