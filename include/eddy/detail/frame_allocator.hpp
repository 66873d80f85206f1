// A per-thread slab allocator for coroutine frames and task states (DESIGN.md §7).
//
// Blocks up to 4 KiB come in 16-byte size classes. A freed block joins its thread's free list
// for its class; a class with an empty list carves new blocks from the thread's current chunk
// (bump allocation). The first chunk is 64 KiB, the others 2 MiB, offered to the kernel as
// transparent huge pages: a burst of 100,000 fresh tasks then costs a few dozen page faults
// instead of tens of thousands, and no malloc bookkeeping per block.
//
// Memory is recycled, never returned: a thread's free lists keep what its peak needed, and when
// a thread ends, its free blocks and the rest of its chunk go to a shared pool that the next
// thread to allocate adopts. Chunks are never unmapped, so a block freed on a thread other
// than the one that carved it (it joins the freeing thread's lists) is always valid memory.
// Larger requests go straight to operator new. When the library is built with a sanitizer the
// slabs are off and every block is an ordinary operator-new block, so use-after-free in a frame
// is still caught.
//
// Slabs-or-operator-new is decided once, in src/frame_allocator.cpp, by the library's own build
// flags (frame_cache_enabled), never by the flags of the file that includes this header: a
// program compiled with -fsanitize=address against a release libeddy.a allocates and frees
// every frame the same way the library does (inline copies of allocate() in the program and in
// the library agree), where a macro here would pair a slab block with operator delete.
#pragma once

#include <cstddef>
#include <new>

namespace eddy::detail {

/// Whether frames up to frame_allocator::max_size come from the slabs: true unless libeddy was
/// built with ASan or TSan. Defined in src/frame_allocator.cpp.
extern const bool frame_cache_enabled;

class frame_allocator {
 public:
  static void* allocate(std::size_t size) {
    if (size <= max_size && frame_cache_enabled) {
      cache& cache = this_thread_cache();
      const std::size_t size_class = class_of(size);
      if (free_block* block = cache.heads[size_class]) {
        cache.heads[size_class] = block->next;
        return block;
      }
      return cache.carve(block_size(size_class));
    }
    return ::operator new(size);
  }

  static void deallocate(void* pointer, std::size_t size) noexcept {
    if (size <= max_size && frame_cache_enabled) {
      cache& cache = this_thread_cache();
      auto* block = static_cast<free_block*>(pointer);
      const std::size_t size_class = class_of(size);
      block->next = cache.heads[size_class];
      cache.heads[size_class] = block;
      return;
    }
    ::operator delete(pointer);
    static_cast<void>(size);
  }

  static constexpr std::size_t granule = 16;  ///< also the alignment of every block
  static constexpr std::size_t max_size = 4096;
  static constexpr std::size_t class_count = max_size / granule + 1;

  struct free_block {
    free_block* next;
  };

  /// One thread's free lists and the chunk it is carving (src/frame_allocator.cpp).
  struct cache {
    free_block* heads[class_count] = {};
    char* chunk_next = nullptr;
    char* chunk_end = nullptr;
    unsigned chunks_taken = 0;

    cache() noexcept;  ///< adopts what ended threads left in the shared pool
    ~cache();          ///< leaves this thread's blocks and chunk rest to the shared pool
    cache(const cache&) = delete;
    cache& operator=(const cache&) = delete;

    void* carve(std::size_t bytes) {
      if (static_cast<std::size_t>(chunk_end - chunk_next) < bytes) {
        take_chunk();
      }
      void* block = chunk_next;
      chunk_next += bytes;
      return block;
    }

   private:
    void take_chunk();  ///< throws std::bad_alloc
  };

 private:
  static constexpr std::size_t class_of(std::size_t size) noexcept {
    return (size + granule - 1) / granule;
  }
  static constexpr std::size_t block_size(std::size_t size_class) noexcept {
    return size_class == 0 ? granule : size_class * granule;
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
