// Synchronization and queue workloads: pingpong, queue, lock (WORKLOADS.md 4, 5, 10).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <eddy/queue.hpp>
#include <eddy/sync.hpp>

#include "workload.hpp"

using namespace std::chrono_literals;

namespace {

using eddy_bench::outcome;

// --- 4. pingpong: two tasks alternate through two events ------------------------------------

eddy::coro<bool> pingpong_partner(eddy::event* ping, eddy::event* pong, const std::uint64_t* state,
                                  std::uint64_t n) {
  bool ok = true;
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await ping->wait();
    ping->clear();
    ok = ok && *state == i + 1;
    pong->set();
  }
  co_return ok;
}

eddy::coro<outcome> pingpong(std::uint64_t n) {
  eddy::event ping;
  eddy::event pong;
  std::uint64_t state = 0;
  auto partner = eddy::create_task(pingpong_partner(&ping, &pong, &state, n));
  for (std::uint64_t i = 0; i < n; ++i) {
    state += 1;
    ping.set();
    co_await pong.wait();
    pong.clear();
  }
  const bool partner_ok = co_await partner;
  co_return outcome{state, partner_ok && state == n,
                    "partner saw state == i + 1 each round; state == n"};
}

// --- 5. queue: a producer and the main task through a bounded queue -------------------------

eddy::coro<void> produce(eddy::queue<long>* items, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await items->put(static_cast<long>(i));
  }
}

eddy::coro<outcome> queue_items(std::uint64_t n) {
  eddy::queue<long> items(1024);
  auto producer = eddy::create_task(produce(&items, n));
  std::uint64_t sum = 0;
  bool in_order = true;
  for (std::uint64_t i = 0; i < n; ++i) {
    const long item = co_await items.get();
    in_order = in_order && item == static_cast<long>(i);
    sum += static_cast<std::uint64_t>(item);
  }
  co_await producer;
  co_return outcome{sum, in_order && sum == n * (n - 1) / 2, "items in order; sum == n(n-1)/2"};
}

// --- 10. lock: 100 tasks contend for one lock ------------------------------------------------

eddy::coro<void> increment_under_lock(eddy::lock* shared, std::uint64_t* counter,
                                      std::uint64_t times) {
  for (std::uint64_t i = 0; i < times; ++i) {
    co_await shared->acquire();
    const std::uint64_t value = *counter;
    co_await eddy::sleep(0s);
    *counter = value + 1;
    shared->release();
  }
}

eddy::coro<outcome> lock_contention(std::uint64_t n) {
  constexpr std::uint64_t contenders = 100;
  eddy::lock shared;
  std::uint64_t counter = 0;
  std::vector<eddy::task<void>> tasks;
  tasks.reserve(contenders);
  for (std::uint64_t k = 0; k < contenders; ++k) {
    tasks.push_back(eddy::create_task(increment_under_lock(&shared, &counter, n / contenders)));
  }
  for (auto& task : tasks) {
    co_await task;
  }
  const std::uint64_t expected = n / contenders * contenders;
  co_return outcome{counter, counter == expected, "counter == acquisitions (no lost update)"};
}

const eddy_bench::registration pingpong_entry("pingpong", {500'000, pingpong, false});
const eddy_bench::registration queue_entry("queue", {1'000'000, queue_items, false});
const eddy_bench::registration lock_entry("lock", {1'000'000, lock_contention, false});

}  // namespace
