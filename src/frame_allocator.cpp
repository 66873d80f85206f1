#include "eddy/detail/frame_allocator.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace eddy::detail {

#ifndef EDDY_DETAIL_NO_FRAME_CACHE
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

}  // namespace

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
  // Grow geometrically: a thread that runs a few coroutines keeps 64 KiB, a burst of a million
  // tasks gets 2 MiB huge-page chunks.
  std::size_t size = first_chunk << (chunks_taken < 5 ? chunks_taken : 5);
  void* chunk = nullptr;
  if (size >= huge_page) {
    chunk = std::aligned_alloc(huge_page, size);
    if (chunk != nullptr) {
      (void)::madvise(chunk, size, MADV_HUGEPAGE);  // a hint; fine to be refused
    }
  } else {
    chunk = std::malloc(size);
  }
  if (chunk == nullptr) {
    throw std::bad_alloc();
  }
  {
    shared_pool& shared = pool();
    std::lock_guard guard(shared.mutex);
    shared.chunks.push_back(chunk);
  }
  ++chunks_taken;
  // The rest of the old chunk (smaller than the block asked for, so under 1 KiB) is dropped.
  chunk_next = static_cast<char*>(chunk);
  chunk_end = chunk_next + size;
}

#else  // sanitizers: every block is a plain operator-new block; there is nothing to pool.

frame_allocator::cache::cache() noexcept = default;
frame_allocator::cache::~cache() = default;
void frame_allocator::cache::take_chunk() { throw std::bad_alloc(); }

#endif

}  // namespace eddy::detail
