// The floor under spawn_gather (WORKLOADS.md 2) on this machine: the same work with no runtime
// at all. N bare C++20 coroutines (coroutine i returns i) are created and their handles kept in
// a std::vector, each is resumed once, and their results are collected in creation order into
// a std::vector<std::uint64_t>, as gather returns them; then everything is freed. No scheduler,
// no task state, no cancellation, no done callbacks: only the frames and the two vectors any
// implementation of the workload touches.
//
//   spawn_gather_floor [N [malloc|hugepage_bump [RECORD_BYTES]]]  (defaults 200000, malloc, 0)
//
// Prints floor=spawn_gather frames=malloc|hugepage_bump n=.. record_bytes=.. ms=..
// per_task_ns=.. checksum=..
// "malloc" takes each frame from operator new (glibc); "hugepage_bump" from a bump pointer in
// one 2 MiB-aligned MADV_HUGEPAGE mapping, the cheapest frame allocation there can be.
// RECORD_BYTES (rounded up to 16) are added to each frame's block and written once when the
// frame is made: a stand-in for the bookkeeping any runtime keeps per task (its task record,
// its place in the gather), with none of the runtime's instructions. One
// process per measurement, as eddy_bench: a process's first burst is what the workload times.
// Run it a few times and take the median: the first run after a build often pays for
// compaction.
//
// Build: c++ -O2 -std=c++20 -o spawn_gather_floor spawn_gather_floor.cpp
#include <sys/mman.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace {

/// Where frames come from: operator new, or a bump pointer that never frees.
struct frame_source {
  char* next = nullptr;  // null: use operator new
  char* end = nullptr;
};
frame_source frames;
std::size_t record_bytes = 0;  // written right after each frame

/// Blocks are handed out in 16-byte steps, as eddy's frame allocator does.
constexpr std::size_t round_up_16(std::size_t bytes) { return (bytes + 15) & ~std::size_t{15}; }

struct bare_coroutine {
  struct promise_type {
    std::uint64_t value = 0;

    bare_coroutine get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_value(std::uint64_t v) noexcept { value = v; }
    void unhandled_exception() noexcept { std::abort(); }

    static void* operator new(std::size_t size) {
      size = round_up_16(size);
      char* frame = nullptr;
      if (frames.next == nullptr) {
        frame = static_cast<char*>(::operator new(size + record_bytes));
      } else {
        if (frames.next + size + record_bytes > frames.end) {
          throw std::bad_alloc();
        }
        frame = std::exchange(frames.next, frames.next + size + record_bytes);
      }
      std::memset(frame + size, 0, record_bytes);
      return frame;
    }
    static void operator delete(void* frame, std::size_t size) noexcept {
      if (frames.next == nullptr) {
        ::operator delete(frame, round_up_16(size) + record_bytes);
      }
    }
  };
  std::coroutine_handle<promise_type> handle;
};

bare_coroutine spawned_value(std::uint64_t value) { co_return value; }

double spawn_run_collect(std::uint64_t n, std::uint64_t& checksum) {
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::coroutine_handle<bare_coroutine::promise_type>> spawned;
    spawned.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      spawned.push_back(spawned_value(i).handle);
    }
    for (auto handle : spawned) {
      handle.resume();
    }
    std::vector<std::uint64_t> values;
    values.reserve(n);
    for (auto handle : spawned) {
      values.push_back(handle.promise().value);
      handle.destroy();
    }
    checksum = 0;
    for (std::uint64_t value : values) {
      checksum += value;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report(const char* source, std::uint64_t n, double seconds, std::uint64_t checksum) {
  std::printf(
      "floor=spawn_gather frames=%s n=%llu record_bytes=%zu ms=%.2f per_task_ns=%.1f "
      "checksum=%llu\n",
      source, static_cast<unsigned long long>(n), record_bytes, seconds * 1e3,
      seconds * 1e9 / static_cast<double>(n), static_cast<unsigned long long>(checksum));
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  if (n == 0) {
    std::fprintf(stderr, "usage: spawn_gather_floor [N]\n");
    return 2;
  }
  const std::string source = argc > 2 ? argv[2] : "malloc";
  record_bytes = argc > 3 ? round_up_16(std::strtoull(argv[3], nullptr, 10)) : 0;
  std::uint64_t checksum = 0;
  if (source == "malloc") {
    const double seconds = spawn_run_collect(n, checksum);
    report("malloc", n, seconds, checksum);
    return 0;
  }
  if (source != "hugepage_bump") {
    std::fprintf(stderr, "spawn_gather_floor: frames are malloc or hugepage_bump\n");
    return 2;
  }
  constexpr std::size_t huge_page = std::size_t{2} << 20;
  const std::size_t per_frame = 64 + record_bytes;  // a frame of this coroutine is under 64
  const std::size_t bytes = ((n * per_frame + huge_page - 1) / huge_page + 1) * huge_page;
  void* mapped =
      mmap(nullptr, bytes + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) {
    std::perror("spawn_gather_floor: mmap");
    return 1;
  }
  auto aligned = (reinterpret_cast<std::uintptr_t>(mapped) + huge_page - 1) & ~(huge_page - 1);
  frames.next = reinterpret_cast<char*>(aligned);
  frames.end = frames.next + bytes;
  madvise(frames.next, bytes, MADV_HUGEPAGE);
  const double seconds = spawn_run_collect(n, checksum);
  report("hugepage_bump", n, seconds, checksum);
  munmap(mapped, bytes + huge_page);
  return 0;
}
