// A per-thread recycling allocator for coroutine frames and task states (DESIGN.md §7).
//
// Blocks are ordinary operator-new blocks, so a block freed on another thread simply joins that
// thread's lists. Each thread keeps up to `max_cached` freed blocks per 16-byte size class, up
// to 1 KiB; larger requests go straight to operator new. Under a sanitizer the cache is off, so
// that use-after-free in a frame is still caught.
#pragma once

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EDDY_DETAIL_NO_FRAME_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EDDY_DETAIL_NO_FRAME_CACHE 1
#endif
#endif

namespace eddy::detail {

class frame_allocator {
 public:
  static void* allocate(std::size_t size) {
#ifndef EDDY_DETAIL_NO_FRAME_CACHE
    if (size <= max_size) {
      auto& cache = this_thread_cache();
      std::size_t size_class = class_of(size);
      if (free_block* block = cache.heads[size_class]) {
        cache.heads[size_class] = block->next;
        --cache.counts[size_class];
        return block;
      }
      return ::operator new(block_size(size_class));
    }
#endif
    return ::operator new(size);
  }

  static void deallocate(void* pointer, std::size_t size) noexcept {
#ifndef EDDY_DETAIL_NO_FRAME_CACHE
    if (size <= max_size) {
      auto& cache = this_thread_cache();
      std::size_t size_class = class_of(size);
      if (cache.counts[size_class] < max_cached) {
        auto* block = static_cast<free_block*>(pointer);
        block->next = cache.heads[size_class];
        cache.heads[size_class] = block;
        ++cache.counts[size_class];
        return;
      }
    }
#endif
    ::operator delete(pointer);
    static_cast<void>(size);
  }

 private:
  // malloc hands out chunks of 16k + 8 usable bytes, so classes follow the same steps: a
  // block of a class wastes nothing beyond what malloc itself would.
  static constexpr std::size_t granule = 16;
  static constexpr std::size_t max_size = 1024;
  static constexpr std::size_t class_count = (max_size + 7) / granule + 1;
  static constexpr unsigned max_cached = 4096;

  struct free_block {
    free_block* next;
  };

  struct cache {
    free_block* heads[class_count] = {};
    unsigned counts[class_count] = {};
    cache() = default;
    cache(const cache&) = delete;
    cache& operator=(const cache&) = delete;
    ~cache() {
      for (free_block* head : heads) {
        while (head != nullptr) {
          free_block* next = head->next;
          ::operator delete(head);
          head = next;
        }
      }
    }
  };

  static constexpr std::size_t class_of(std::size_t size) noexcept { return (size + 7) / granule; }
  static constexpr std::size_t block_size(std::size_t size_class) noexcept {
    return size_class * granule + 8;
  }

  static cache& this_thread_cache() noexcept {
    thread_local cache instance;
    return instance;
  }
};

/// Gives a class operator new/delete that go through frame_allocator.
struct recycled {
  static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
  static void operator delete(void* pointer, std::size_t size) noexcept {
    frame_allocator::deallocate(pointer, size);
  }
};

}  // namespace eddy::detail
