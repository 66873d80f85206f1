// producer_consumer: producers and workers around a bounded queue, with task_done() and join(),
// in the spirit of the asyncio.Queue example of the Python documentation.
//
// Two producers put 6 jobs each into a queue that holds at most 4 (a put waits while it is
// full); three workers take jobs, "work" (sleep) and mark them done. main waits for the
// producers, then join()s the queue (every job done), then shuts it down so the workers stop.
// Expected output (the interleaving varies a little):
//   producer-A puts job A1 (17 ms)
//   ...
//   worker-0 finished job A1 after 17 ms
//   ...
//   all 12 jobs done; the queue is empty: yes
//   worker-2 stops: the queue is shut down (did 4 jobs)
//   ...
#include <eddy/eddy.hpp>
#include <eddy/queue.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

struct job {
  std::string name;
  std::chrono::milliseconds duration;
};

// Parameters are taken by value (or as pointers to objects that outlive the task): a reference
// parameter would dangle once the coroutine first suspends.
eddy::coro<void> producer(std::string name, eddy::queue<job>* jobs, int count) {
  for (int i = 1; i <= count; ++i) {
    job next{name.substr(name.size() - 1) + std::to_string(i),
             std::chrono::milliseconds(10 + (i * 7) % 30)};
    std::printf("%s puts job %s (%lld ms)\n", name.c_str(), next.name.c_str(),
                static_cast<long long>(next.duration.count()));
    co_await jobs->put(std::move(next));  // waits while 4 jobs are queued
  }
}

eddy::coro<int> worker(std::string name, eddy::queue<job>* jobs) {
  int done = 0;
  for (;;) {
    job next;
    try {
      next = co_await jobs->get();
    } catch (const eddy::queue_shut_down&) {
      std::printf("%s stops: the queue is shut down (did %d jobs)\n", name.c_str(), done);
      co_return done;
    }
    co_await eddy::sleep(next.duration);
    std::printf("%s finished job %s after %lld ms\n", name.c_str(), next.name.c_str(),
                static_cast<long long>(next.duration.count()));
    ++done;
    jobs->task_done();
  }
}

eddy::coro<int> main_task() {
  eddy::queue<job> jobs(4);
  std::vector<eddy::task<void>> producers;
  producers.push_back(eddy::create_task(producer("producer-A", &jobs, 6)));
  producers.push_back(eddy::create_task(producer("producer-B", &jobs, 6)));
  std::vector<eddy::task<int>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(eddy::create_task(worker("worker-" + std::to_string(i), &jobs)));
  }

  for (auto& each : producers) {
    co_await each;
  }
  co_await jobs.join();  // until task_done() was called for every job put
  std::printf("all 12 jobs done; the queue is empty: %s\n", jobs.empty() ? "yes" : "no");

  jobs.shutdown();  // Python 3.13: waiting get()s throw queue_shut_down
  int total = 0;
  for (auto& each : workers) {
    total += co_await each;
  }
  std::printf("workers did %d jobs in all\n", total);
  co_return total == 12 ? 0 : 1;
}

int main() { return eddy::run(main_task()); }
