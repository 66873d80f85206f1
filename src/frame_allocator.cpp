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
struct shared_pool {
  std::mutex mutex;
  frame_allocator::free_block* heads[frame_allocator::class_count] = {};
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

/// Puts `list` in front of `onto` and returns the joined list.
frame_allocator::free_block* splice(frame_allocator::free_block* list, frame_allocator::free_block* onto) {
  if (list == nullptr) return onto;
  frame_allocator::free_block* last = list;
  while (last->next != nullptr) last = last->next;
  last->next = onto;
  return list;
}

}  // namespace

frame_allocator::cache::cache() noexcept {
  shared_pool& shared = pool();
  std::lock_guard guard(shared.mutex);
  for (std::size_t each = 0; each < class_count; ++each) {
    heads[each] = shared.heads[each];
    shared.heads[each] = nullptr;
  }
  chunk_next = shared.chunk_next;
  chunk_end = shared.chunk_end;
  shared.chunk_next = shared.chunk_end = nullptr;
}

frame_allocator::cache::~cache() {
  shared_pool& shared = pool();
  std::lock_guard guard(shared.mutex);
  for (std::size_t each = 0; each < class_count; ++each) {
    shared.heads[each] = splice(heads[each], shared.heads[each]);
    heads[each] = nullptr;
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
