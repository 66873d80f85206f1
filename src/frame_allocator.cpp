#include "eddy/detail/frame_allocator.hpp"

#include "eddy/detail/array_allocator.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

// The one place that decides slabs-or-operator-new, for the library and every program linked
// with it (see frame_allocator.hpp).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EDDY_NO_FRAME_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EDDY_NO_FRAME_CACHE 1
#endif
#endif

namespace eddy::detail {

#ifndef EDDY_NO_FRAME_CACHE
extern const bool frame_cache_enabled = true;

namespace {

constexpr std::size_t first_chunk = 64 * 1024;
constexpr std::size_t huge_page = 2 * 1024 * 1024;

/// What threads that ended left behind, for the next thread that allocates. Chunks are kept
/// here too, so that they stay reachable (and are never unmapped) for the process's lifetime.
/// Each class keeps the lists it was handed whole: joining two singly linked lists would walk
/// one of them, and a thread's lists can hold a million cold blocks.
struct shared_pool {
  std::mutex mutex;
  std::vector<frame_allocator::free_block*> lists[frame_allocator::class_count];
  char* chunk_next = nullptr;
  char* chunk_end = nullptr;
  std::vector<void*> chunks;
};

shared_pool& pool() {
  // Never destroyed: thread_local caches of threads that outlive static destruction (or of
  // the main thread, destroyed after statics) still hand their blocks back to it.
  static auto* instance = new shared_pool;
  return *instance;
}

std::size_t bulk_mapping_size(std::size_t bytes) noexcept {
  return (bytes + huge_page - 1) & ~(huge_page - 1);
}

}  // namespace

void* allocate_bulk(std::size_t bytes) {
  if (bytes < bulk_threshold) {
    return ::operator new(bytes);
  }
  const std::size_t size = bulk_mapping_size(bytes);
  // Map a huge page more than needed and trim both ends, so that the block starts on a 2 MiB
  // boundary (only aligned 2 MiB ranges can become huge pages).
  void* mapped =
      ::mmap(nullptr, size + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) {
    throw std::bad_alloc();
  }
  const auto start = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t aligned = (start + huge_page - 1) & ~std::uintptr_t{huge_page - 1};
  if (aligned > start) {
    ::munmap(mapped, aligned - start);
  }
  const std::uintptr_t tail = aligned + size;
  const std::uintptr_t mapped_end = start + size + huge_page;
  if (mapped_end > tail) {
    ::munmap(reinterpret_cast<void*>(tail), mapped_end - tail);
  }
  auto* block = reinterpret_cast<void*>(aligned);
  (void)::madvise(block, size, MADV_HUGEPAGE);  // a hint; fine to be refused
  return block;
}

void deallocate_bulk(void* block, std::size_t bytes) noexcept {
  if (bytes < bulk_threshold) {
    ::operator delete(block);
    return;
  }
  ::munmap(block, bulk_mapping_size(bytes));
}

frame_allocator::cache::cache() noexcept {
  shared_pool& shared = pool();
  std::lock_guard guard(shared.mutex);
  for (std::size_t each = 0; each < class_count; ++each) {
    if (!shared.lists[each].empty()) {
      heads[each] = shared.lists[each].back();
      shared.lists[each].pop_back();
    }
  }
  chunk_next = shared.chunk_next;
  chunk_end = shared.chunk_end;
  shared.chunk_next = shared.chunk_end = nullptr;
}

frame_allocator::cache::~cache() {
  shared_pool& shared = pool();
  std::lock_guard guard(shared.mutex);
  for (std::size_t each = 0; each < class_count; ++each) {
    if (heads[each] != nullptr) {
      try {
        shared.lists[each].push_back(heads[each]);
      } catch (const std::bad_alloc&) {
        // The blocks stay unreachable but valid: chunks are never unmapped.
      }
      heads[each] = nullptr;
    }
  }
  // Keep whichever unused chunk rest is larger.
  if (chunk_end - chunk_next > shared.chunk_end - shared.chunk_next) {
    shared.chunk_next = chunk_next;
    shared.chunk_end = chunk_end;
  }
  chunk_next = chunk_end = nullptr;
}

void frame_allocator::cache::take_chunk() {
  // A thread that runs a few coroutines keeps 64 KiB; one that needs more gets 2 MiB huge-page
  // chunks at once. (Chunks of 128 KiB to 1 MiB in between cost a 4 KiB page fault per 4 KiB,
  // microseconds each on a virtual machine, where a huge page costs one fault.)
  const std::size_t size = chunks_taken == 0 ? first_chunk : huge_page;
  void* chunk = chunks_taken == 0 ? std::malloc(size) : allocate_bulk(size);  // bulk throws
  if (chunk == nullptr) {
    throw std::bad_alloc();
  }
  {
    shared_pool& shared = pool();
    std::lock_guard guard(shared.mutex);
    shared.chunks.push_back(chunk);
  }
  ++chunks_taken;
  // The rest of the old chunk (smaller than the block asked for, so under 4 KiB) is dropped.
  chunk_next = static_cast<char*>(chunk);
  chunk_end = chunk_next + size;
}

#else  // sanitizers: every block is a plain operator-new block; there is nothing to pool.

extern const bool frame_cache_enabled = false;

frame_allocator::cache::cache() noexcept = default;
frame_allocator::cache::~cache() = default;
void frame_allocator::cache::take_chunk() { throw std::bad_alloc(); }

// Plain operator new, so that the sanitizers see every array.
void* allocate_bulk(std::size_t bytes) { return ::operator new(bytes); }
void deallocate_bulk(void* block, std::size_t) noexcept { ::operator delete(block); }

#endif

}  // namespace eddy::detail
