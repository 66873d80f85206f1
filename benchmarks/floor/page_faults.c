// The floor under the burst workloads (spawn_gather, timers, sleeping_memory) on this machine:
// what first touching fresh memory costs, in 4 KiB pages and in 2 MiB transparent huge pages.
//
//   page_faults [MB]     (default 52, about what spawn_gather's 200,000 tasks touch)
//
// Prints one line per page size: floor=page_faults pages=4k|2m mb=.. ms=.. per_4k_page_ns=..
// (Run it twice: the first huge-page run after a build often pays for the kernel compacting
// memory.)
//
// Build: cc -O2 -o page_faults page_faults.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

enum { small_page = 4096, huge_page = 2 << 20 };

static double seconds_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/// Maps `bytes` (2 MiB-aligned), optionally asks for huge pages, and touches every 4 KiB page.
static double touch(size_t bytes, int huge) {
  char* mapped = mmap(NULL, bytes + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
  if (mapped == MAP_FAILED) {
    perror("page_faults: mmap");
    exit(1);
  }
  char* region = (char*)(((uintptr_t)mapped + huge_page - 1) & ~(uintptr_t)(huge_page - 1));
  madvise(region, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  const double start = seconds_now();
  for (size_t offset = 0; offset < bytes; offset += small_page) {
    region[offset] = 1;
  }
  const double elapsed = seconds_now() - start;
  munmap(mapped, bytes + huge_page);
  return elapsed;
}

int main(int argc, char** argv) {
  const long megabytes = argc > 1 ? atol(argv[1]) : 52;
  if (megabytes <= 0) {
    fprintf(stderr, "usage: page_faults [MB]\n");
    return 2;
  }
  const size_t bytes = (size_t)megabytes << 20;
  for (int huge = 0; huge <= 1; ++huge) {
    const double elapsed = touch(bytes, huge);
    printf("floor=page_faults pages=%s mb=%ld ms=%.1f per_4k_page_ns=%.0f\n", huge ? "2m" : "4k",
           megabytes, elapsed * 1e3, elapsed * 1e9 / (double)(bytes / small_page));
  }
  return 0;
}
