// The floor under to_thread (WORKLOADS.md 8) on this machine: two threads that hand control
// back and forth, with nothing else to do. Pinned to one core (taskset -c 1) this is two
// context switches per round trip, the least a call on another thread can cost there.
//
//   thread_handoff yield|futex [N]     (default N = 200000 round trips)
//
// yield: each thread spins on a shared turn with sched_yield (no sleeping, no wake-up calls);
// futex: each thread sleeps on its own futex and wakes the other (a blocking hand-off).
// Prints: floor=thread_handoff mode=.. n=.. per_roundtrip_ns=..
//
// Build: cc -O2 -pthread -o thread_handoff thread_handoff.c
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long round_trips = 200000;
static int use_futex;
static atomic_int turn;                 // yield mode: whose turn it is (0: main, 1: other)
static atomic_uint to_other, to_main;   // futex mode: 1 = woken

static void futex_sleep(atomic_uint* word) {
  while (!atomic_exchange(word, 0)) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  }
}

static void futex_wake(atomic_uint* word) {
  atomic_store(word, 1);
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void* other_thread(void* unused) {
  (void)unused;
  for (long i = 0; i < round_trips; ++i) {
    if (use_futex) {
      futex_sleep(&to_other);
      futex_wake(&to_main);
    } else {
      while (atomic_load(&turn) != 1) {
        sched_yield();
      }
      atomic_store(&turn, 0);
    }
  }
  return NULL;
}

static double seconds_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 2 || (strcmp(argv[1], "yield") != 0 && strcmp(argv[1], "futex") != 0)) {
    fprintf(stderr, "usage: thread_handoff yield|futex [N]\n");
    return 2;
  }
  use_futex = strcmp(argv[1], "futex") == 0;
  if (argc > 2) {
    round_trips = atol(argv[2]);
  }
  pthread_t other;
  pthread_create(&other, NULL, other_thread, NULL);
  const double start = seconds_now();
  for (long i = 0; i < round_trips; ++i) {
    if (use_futex) {
      futex_wake(&to_other);
      futex_sleep(&to_main);
    } else {
      atomic_store(&turn, 1);
      while (atomic_load(&turn) != 0) {
        sched_yield();
      }
    }
  }
  const double elapsed = seconds_now() - start;
  pthread_join(other, NULL);
  printf("floor=thread_handoff mode=%s n=%ld per_roundtrip_ns=%.0f\n", argv[1], round_trips,
         elapsed * 1e9 / (double)round_trips);
  return 0;
}
