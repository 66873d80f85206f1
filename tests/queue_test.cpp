#include "eddy/queue.hpp"
// eddy::queue, priority_queue, lifo_queue (asyncio.Queue, PriorityQueue, LifoQueue): the scenarios
// of CPython's test_queues.py (basic, get, put, join, shutdown), the cancellation races (no item
// lost, no cancelled put inserted), producers/consumers, and move-only items.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

template <class Queue>
eddy::coro<typename Queue::value_type> get_one(Queue* q) {
  co_return co_await q->get();
}

template <class Queue>
eddy::coro<void> put_one(Queue* q, typename Queue::value_type item) {
  co_await q->put(std::move(item));
}

/// Orders unique_ptrs by what they point to.
struct pointee_less {
  bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
    return *a < *b;
  }
};

eddy::coro<void> yield_times(int n) {
  for (int i = 0; i < n; ++i) {
    co_await eddy::sleep(0s);
  }
}

template <class Exception, class Function>
std::string message_of(Function function) {
  try {
    function();
  } catch (const Exception& error) {
    return error.what();
  }
  return "no exception";
}

}  // namespace

// --- basic ----------------------------------------------------------------------------------

TEST_CASE("test_empty_full_qsize_maxsize", "[queue]") {
  eddy::queue<int> q(2);
  CHECK(q.empty());
  CHECK_FALSE(q.full());
  CHECK(q.maxsize() == 2);
  q.put_nowait(1);
  CHECK_FALSE(q.empty());
  CHECK(q.qsize() == 1);
  q.put_nowait(2);
  CHECK(q.full());
  CHECK(message_of<eddy::queue_full>([&] { q.put_nowait(3); }) ==
        "queue.put_nowait(): the queue is full (maxsize 2)");
  CHECK(q.get_nowait() == 1);
  CHECK(q.get_nowait() == 2);
  CHECK(message_of<eddy::queue_empty>([&] { q.get_nowait(); }) ==
        "queue.get_nowait(): the queue is empty");
  eddy::queue<int> unbounded;
  CHECK(unbounded.maxsize() == 0);
  for (int i = 0; i < 10'000; ++i) {
    unbounded.put_nowait(i);
  }
  CHECK_FALSE(unbounded.full());
  CHECK(unbounded.qsize() == 10'000);
}

TEST_CASE("test_negative_maxsize_throws_invalid_argument", "[queue]") {
  CHECK_THROWS_WITH(eddy::queue<int>(-1),
                    "queue: maxsize must be >= 0 (0 means unbounded), got -1");
  CHECK_THROWS_AS(eddy::lifo_queue<int>(-5), std::invalid_argument);
  CHECK_THROWS_AS(eddy::priority_queue<int>(-5), std::invalid_argument);
}

TEST_CASE("test_order: queue is FIFO, lifo_queue LIFO, priority_queue smallest first", "[queue]") {
  eddy::queue<int> fifo;
  eddy::lifo_queue<int> lifo;
  eddy::priority_queue<int> priority;
  for (int item : {1, 3, 2}) {
    fifo.put_nowait(item);
    lifo.put_nowait(item);
    priority.put_nowait(item);
  }
  std::vector<int> fifo_out;
  std::vector<int> lifo_out;
  std::vector<int> priority_out;
  for (int i = 0; i < 3; ++i) {
    fifo_out.push_back(fifo.get_nowait());
    lifo_out.push_back(lifo.get_nowait());
    priority_out.push_back(priority.get_nowait());
  }
  CHECK(fifo_out == std::vector<int>{1, 3, 2});
  CHECK(lifo_out == std::vector<int>{2, 3, 1});
  CHECK(priority_out == std::vector<int>{1, 2, 3});
}

TEST_CASE("test_fifo_ring_wraps_and_grows_in_order", "[queue]") {
  eddy::queue<int> q;
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round * 3 + 1; ++i) {
      q.put_nowait(next_in++);
    }
    for (int i = 0; i < round * 2 + 1; ++i) {
      REQUIRE(q.get_nowait() == next_out++);
    }
  }
  while (!q.empty()) {
    REQUIRE(q.get_nowait() == next_out++);
  }
  CHECK(next_out == next_in);
}

TEST_CASE("test_priority_queue_equal_priorities_come_out_in_insertion_order", "[queue]") {
  using entry = std::pair<int, std::string>;
  auto by_priority = [](const entry& a, const entry& b) { return a.first < b.first; };
  eddy::priority_queue<entry, decltype(by_priority)> q(0, by_priority);
  q.put_nowait({2, "b1"});
  q.put_nowait({1, "a1"});
  q.put_nowait({2, "b2"});
  q.put_nowait({1, "a2"});
  q.put_nowait({3, "c1"});
  q.put_nowait({2, "b3"});
  q.put_nowait({1, "a3"});
  std::vector<std::string> out;
  while (!q.empty()) {
    out.push_back(q.get_nowait().second);
  }
  CHECK(out == std::vector<std::string>{"a1", "a2", "a3", "b1", "b2", "b3", "c1"});
}

TEST_CASE("test_priority_queue_comparator_means_comes_out_first", "[queue]") {
  eddy::priority_queue<int, std::greater<int>> largest_first;
  for (int item : {5, 1, 9, 3}) {
    largest_first.put_nowait(item);
  }
  std::vector<int> out;
  while (!largest_first.empty()) {
    out.push_back(largest_first.get_nowait());
  }
  CHECK(out == std::vector<int>{9, 5, 3, 1});
}

TEST_CASE("test_move_only_items", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<std::unique_ptr<int>> q(1);
    auto producer =
        eddy::create_task([](eddy::queue<std::unique_ptr<int>>* shared) -> eddy::coro<void> {
          for (int i = 0; i < 5; ++i) {
            co_await shared->put(std::make_unique<int>(i));
          }
        }(&q));
    int sum = 0;
    for (int i = 0; i < 5; ++i) {
      std::unique_ptr<int> item = co_await q.get();
      REQUIRE(item != nullptr);
      CHECK(*item == i);
      sum += *item;
    }
    co_await producer;
    CHECK(sum == 10);

    eddy::priority_queue<std::unique_ptr<int>, pointee_less> boxes;
    boxes.put_nowait(std::make_unique<int>(3));
    boxes.put_nowait(std::make_unique<int>(1));
    CHECK(*boxes.get_nowait() == 1);
    eddy::lifo_queue<std::unique_ptr<int>> stack;
    stack.put_nowait(std::make_unique<int>(1));
    stack.put_nowait(std::make_unique<int>(2));
    CHECK(*stack.get_nowait() == 2);
  };
  eddy::run(main());
}

TEST_CASE("test_put_and_get_without_waiting_do_not_suspend", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(2);
    std::vector<std::string> order;
    auto other = eddy::create_task([](std::vector<std::string>* log) -> eddy::coro<void> {
      log->push_back("other");
      co_return;
    }(&order));
    co_await q.put(1);
    int item = co_await q.get();
    order.push_back("put+get " + std::to_string(item));
    co_await other;
    CHECK(order == std::vector<std::string>{"put+get 1", "other"});
  };
  eddy::run(main());
}

// --- get ------------------------------------------------------------------------------------

TEST_CASE("test_blocking_get: a getter waits for the put", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    auto getter = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    CHECK_FALSE(getter.done());
    q.put_nowait(7);
    CHECK(q.qsize() == 0);  // promised to the waiting getter
    CHECK(q.empty());
    auto result = co_await getter;
    CHECK(result == 7);
  };
  eddy::run(main());
}

TEST_CASE("test_get_with_putters: a get frees a slot for the longest waiting putter", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(1);
    q.put_nowait(1);
    auto putter = eddy::create_task(put_one(&q, 2));
    co_await eddy::sleep(0s);
    CHECK_FALSE(putter.done());
    CHECK(q.get_nowait() == 1);
    CHECK(q.full());  // the slot is promised to the putter
    CHECK_THROWS_AS(q.put_nowait(9), eddy::queue_full);
    co_await putter;
    CHECK(q.get_nowait() == 2);
  };
  eddy::run(main());
}

TEST_CASE("test_getters_are_served_in_fifo_order", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    std::vector<eddy::task<int>> getters;
    for (int i = 0; i < 5; ++i) {
      getters.push_back(eddy::create_task(get_one(&q)));
    }
    co_await eddy::sleep(0s);
    for (int i = 0; i < 5; ++i) {
      q.put_nowait(i * 10);
    }
    for (int i = 0; i < 5; ++i) {
      auto result = co_await getters[static_cast<std::size_t>(i)];
      CHECK(result == i * 10);
    }
  };
  eddy::run(main());
}

TEST_CASE("test_get_cancelled_race: a cancelled getter does not take the next item", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<std::string> q;
    auto t1 = eddy::create_task(get_one(&q));
    auto t2 = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    t1.cancel();
    co_await eddy::sleep(0s);
    CHECK(t1.done());
    co_await q.put("a");
    co_await eddy::sleep(0s);
    CHECK(t2.done());
    CHECK(t2.result() == "a");
  };
  eddy::run(main());
}

TEST_CASE(
    "test_get_cancel_drop_one_pending_reader: an item handed to a cancelled getter stays first",
    "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    auto reader = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    q.put_nowait(1);  // promised to the reader ...
    q.put_nowait(2);
    reader.cancel();  // ... which is cancelled before it runs
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(reader);
    CHECK(error.has_value());
    CHECK(q.qsize() == 2);
    auto again = eddy::create_task(get_one(&q));
    auto result = co_await again;  // 1 was not lost
    CHECK(result == 1);
    CHECK(q.get_nowait() == 2);
  };
  eddy::run(main());
}

TEST_CASE("test_get_cancel_drop_many_pending_readers: the promise passes to the next reader",
          "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    auto reader1 = eddy::create_task(get_one(&q));
    auto reader2 = eddy::create_task(get_one(&q));
    auto reader3 = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    q.put_nowait(1);
    q.put_nowait(2);
    reader1.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(reader1);
    CHECK(error.has_value());
    int second = co_await reader2;
    int third = co_await reader3;
    CHECK(std::set<int>{second, third} == std::set<int>{1, 2});
    CHECK(second == 1);  // eddy keeps the order
    CHECK(q.empty());
  };
  eddy::run(main());
}

TEST_CASE("test_cancelled_getters_not_being_held", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    std::vector<eddy::task<int>> getters;
    for (int i = 0; i < 3; ++i) {
      getters.push_back(eddy::create_task(get_one(&q)));
    }
    co_await eddy::sleep(0s);
    for (auto& getter : getters) {
      getter.cancel();
    }
    co_await eddy::sleep(0s);
    q.put_nowait(5);
    CHECK(q.qsize() == 1);  // no cancelled getter was promised it
    CHECK(q.get_nowait() == 5);
  };
  eddy::run(main());
}

TEST_CASE("test_lifo_getter_takes_the_top_when_it_runs", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::lifo_queue<int> q;
    auto getter = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    q.put_nowait(1);
    q.put_nowait(2);
    auto result = co_await getter;  // as asyncio: the getter pops when it runs
    CHECK(result == 2);
    CHECK(q.get_nowait() == 1);
  };
  eddy::run(main());
}

// --- put ------------------------------------------------------------------------------------

TEST_CASE("test_blocking_put: putters wait while full and go in FIFO order", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(1);
    co_await q.put(0);
    auto p1 = eddy::create_task(put_one(&q, 1));
    auto p2 = eddy::create_task(put_one(&q, 2));
    auto p3 = eddy::create_task(put_one(&q, 3));
    co_await eddy::sleep(0s);
    std::vector<int> out;
    for (int i = 0; i < 4; ++i) {
      out.push_back(co_await q.get());
    }
    CHECK(out == std::vector<int>{0, 1, 2, 3});
    co_await p1;
    co_await p2;
    co_await p3;
  };
  eddy::run(main());
}

TEST_CASE("test_put_cancelled: a put cancelled while waiting inserts nothing", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(1);
    q.put_nowait(1);
    auto putter = eddy::create_task(put_one(&q, 2));
    co_await eddy::sleep(0s);
    putter.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(putter);
    CHECK(error.has_value());
    CHECK(q.get_nowait() == 1);
    CHECK(q.empty());
    CHECK(q.unfinished_tasks() == 1);  // only the first put counted
  };
  eddy::run(main());
}

TEST_CASE("test_put_cancel_drop: a slot promised to a cancelled putter is not used by it",
          "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(1);
    q.put_nowait(1);
    auto writer = eddy::create_task(put_one(&q, 2));
    co_await eddy::sleep(0s);
    CHECK(q.get_nowait() == 1);  // the slot is promised to the writer ...
    writer.cancel();             // ... which is cancelled before it runs
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(writer);
    CHECK(error.has_value());
    CHECK(q.empty());       // it inserted nothing
    CHECK_FALSE(q.full());  // and gave the slot back
    co_await q.put(2);
    CHECK(q.get_nowait() == 2);
    CHECK(q.qsize() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_put_cancelled_race: the slot of a cancelled putter goes to the next one",
          "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<std::string> q(1);
    auto put_a = eddy::create_task(put_one(&q, std::string("a")));
    auto put_b = eddy::create_task(put_one(&q, std::string("b")));
    auto put_x = eddy::create_task(put_one(&q, std::string("X")));
    auto put_d = eddy::create_task(put_one(&q, std::string("d")));
    co_await eddy::sleep(0s);
    CHECK(put_a.done());
    CHECK_FALSE(put_b.done());
    CHECK(q.get_nowait() == "a");  // slot promised to put_b
    CHECK(q.full());
    co_await eddy::sleep(0s);      // put_b inserts
    CHECK(q.get_nowait() == "b");  // slot promised to put_x ...
    put_x.cancel();                // ... cancelled before it runs: the slot passes to put_d
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(put_x);
    CHECK(error.has_value());
    co_await put_d;
    CHECK(q.get_nowait() == "d");
    co_await put_b;
  };
  eddy::run(main());
}

TEST_CASE("test_put_with_waiting_getters", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<std::string> q;
    auto getter = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    co_await q.put("a");
    auto result = co_await getter;
    CHECK(result == "a");
  };
  eddy::run(main());
}

TEST_CASE("test_why_are_getters_waiting: many producers and consumers, every item once",
          "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(5);
    constexpr int producers = 3;
    constexpr int consumers = 4;
    constexpr int per_producer = 100;
    std::vector<int> received;
    std::vector<eddy::task<void>> tasks;
    for (int p = 0; p < producers; ++p) {
      tasks.push_back(eddy::create_task([](eddy::queue<int>* shared, int base) -> eddy::coro<void> {
        for (int i = 0; i < per_producer; ++i) {
          co_await shared->put(base + i);
          if (i % 13 == 0) {
            co_await eddy::sleep(0s);
          }
        }
      }(&q, p * 1000)));
    }
    for (int c = 0; c < consumers; ++c) {
      tasks.push_back(eddy::create_task(
          [](eddy::queue<int>* shared, std::vector<int>* out) -> eddy::coro<void> {
            for (int i = 0; i < producers * per_producer / consumers; ++i) {
              out->push_back(co_await shared->get());
              shared->task_done();
            }
          }(&q, &received)));
    }
    co_await q.join();
    for (auto& task : tasks) {
      co_await task;
    }
    REQUIRE(received.size() == producers * per_producer);
    std::vector<int> sorted = received;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    // Each producer's items arrive in the order it put them.
    for (int p = 0; p < producers; ++p) {
      int last = -1;
      for (int item : received) {
        if (item / 1000 == p) {
          CHECK(item % 1000 > last);
          last = item % 1000;
        }
      }
    }
    CHECK(q.empty());
    CHECK(q.unfinished_tasks() == 0);
  };
  eddy::run(main());
}

// --- join and task_done ---------------------------------------------------------------------

TEST_CASE("test_task_done_underflow: too many task_done() throws logic_error", "[queue]") {
  eddy::queue<int> q;
  CHECK(message_of<std::logic_error>([&] { q.task_done(); }) ==
        "queue.task_done(): called more times than there were items put (0 unfinished)");
  q.put_nowait(1);
  q.get_nowait();
  q.task_done();
  CHECK_THROWS_AS(q.task_done(), std::logic_error);
}

TEST_CASE("test_join_empty_queue: join returns at once", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    co_await q.join();
    q.put_nowait(1);
    q.get_nowait();
    q.task_done();
    co_await q.join();
  };
  eddy::run(main());
}

TEST_CASE("test_task_done: join waits until every item is done", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    int sum = 0;
    for (int i = 0; i < 100; ++i) {
      q.put_nowait(i);
    }
    bool running = true;
    std::vector<eddy::task<void>> workers;
    for (int w = 0; w < 2; ++w) {
      workers.push_back(
          eddy::create_task([](eddy::queue<int>* shared, int* total, bool* go) -> eddy::coro<void> {
            while (*go) {
              int item = co_await shared->get();
              *total += item;
              co_await eddy::sleep(0s);
              shared->task_done();
            }
          }(&q, &sum, &running)));
    }
    co_await q.join();
    CHECK(sum == 4950);
    running = false;
    for (auto& worker : workers) {
      worker.cancel();
      co_await eddy_test::caught<eddy::cancelled_error>(worker);
    }
  };
  eddy::run(main());
}

TEST_CASE("test_join_cancelled: a cancelled join takes nothing", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    q.put_nowait(1);
    auto joiner = eddy::create_task(
        [](eddy::queue<int>* shared) -> eddy::coro<void> { co_await shared->join(); }(&q));
    co_await eddy::sleep(0s);
    joiner.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(joiner);
    CHECK(error.has_value());
    CHECK(q.qsize() == 1);
    CHECK(q.unfinished_tasks() == 1);
  };
  eddy::run(main());
}

// --- shutdown (Python 3.13) ---------------------------------------------------------------

TEST_CASE("test_shutdown_empty: put and get both throw queue_shut_down", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    q.shutdown();
    CHECK(q.is_shut_down());
    auto put_error = co_await eddy_test::caught<eddy::queue_shut_down>(q.put(1));
    CHECK(put_error.has_value());
    auto get_error = co_await eddy_test::caught<eddy::queue_shut_down>(q.get());
    CHECK(get_error.has_value());
    CHECK_THROWS_AS(q.put_nowait(1), eddy::queue_shut_down);
    CHECK_THROWS_AS(q.get_nowait(), eddy::queue_shut_down);
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_nonempty: gets drain the queue, then throw", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    q.shutdown();
    auto item = co_await q.get();
    CHECK(item == 1);
    CHECK(q.get_nowait() == 2);
    auto error = co_await eddy_test::caught<eddy::queue_shut_down>(q.get());
    CHECK(error.has_value());
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_immediate: items are discarded and gets throw at once", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    q.put_nowait(1);
    q.shutdown(true);
    CHECK(q.empty());
    auto error = co_await eddy_test::caught<eddy::queue_shut_down>(q.get());
    CHECK(error.has_value());
    co_await q.join();  // the discarded item counts as done
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_immediate_with_unfinished: only the discarded items are marked done",
          "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    auto item = co_await q.get();
    CHECK(item == 1);
    q.shutdown(true);
    CHECK(q.unfinished_tasks() == 1);
    auto joiner = eddy::create_task(
        [](eddy::queue<int>* shared) -> eddy::coro<void> { co_await shared->join(); }(&q));
    co_await eddy::sleep(0s);
    CHECK_FALSE(joiner.done());
    q.task_done();
    co_await joiner;
    CHECK_THROWS_AS(q.task_done(), std::logic_error);
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_wakes_waiting_getters_and_putters", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> empty_queue;
    auto getter = eddy::create_task(get_one(&empty_queue));
    eddy::queue<int> full_queue(1);
    full_queue.put_nowait(0);
    auto putter = eddy::create_task(put_one(&full_queue, 1));
    co_await eddy::sleep(0s);
    empty_queue.shutdown();
    full_queue.shutdown();
    auto get_error = co_await eddy_test::caught<eddy::queue_shut_down>(getter);
    auto put_error = co_await eddy_test::caught<eddy::queue_shut_down>(putter);
    CHECK(get_error.has_value());
    CHECK(put_error.has_value());
    CHECK(full_queue.qsize() == 1);  // the waiting put inserted nothing
    CHECK(full_queue.get_nowait() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_putter_promised_a_slot_still_throws", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q(1);
    q.put_nowait(0);
    auto putter = eddy::create_task(put_one(&q, 1));
    co_await eddy::sleep(0s);
    CHECK(q.get_nowait() == 0);  // slot promised to the putter
    q.shutdown();
    auto error = co_await eddy_test::caught<eddy::queue_shut_down>(putter);
    CHECK(error.has_value());
    CHECK(q.empty());
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_getter_promised_an_item_keeps_it_unless_immediate", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::queue<int> q;
    auto keeps = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    q.put_nowait(1);
    q.shutdown();
    auto result = co_await keeps;
    CHECK(result == 1);

    eddy::queue<int> r;
    auto loses = eddy::create_task(get_one(&r));
    co_await eddy::sleep(0s);
    r.put_nowait(1);
    r.shutdown(true);
    auto error = co_await eddy_test::caught<eddy::queue_shut_down>(loses);
    CHECK(error.has_value());
    CHECK(r.unfinished_tasks() == 0);
  };
  eddy::run(main());
}

TEST_CASE("test_shutdown_repeated_and_then_immediate", "[queue]") {
  eddy::queue<int> q;
  q.put_nowait(1);
  q.shutdown();
  q.shutdown();
  CHECK(q.qsize() == 1);
  q.shutdown(true);
  CHECK(q.qsize() == 0);
  CHECK(q.unfinished_tasks() == 0);
}

// --- loops and threads ----------------------------------------------------------------------

TEST_CASE("test_debug_mode_reports_put_from_another_thread", "[queue]") {
  auto main = []() -> eddy::coro<std::string> {
    eddy::queue<int> q;
    auto getter = eddy::create_task(get_one(&q));
    co_await eddy::sleep(0s);
    std::string error;
    std::thread other([&] {
      try {
        q.put_nowait(1);
      } catch (const std::runtime_error& caught) {
        error = caught.what();
      }
    });
    other.join();
    CHECK(q.unfinished_tasks() == 0);  // refused before any change
    q.put_nowait(2);
    auto result = co_await getter;
    CHECK(result == 2);
    co_return error;
  };
  std::string error = eddy::run(main(), {.debug = true});
  CHECK(error.find("queue.put()") != std::string::npos);
}

TEST_CASE("test_destroying_a_queue_with_waiters_leaves_them_cancellable", "[queue]") {
  auto main = []() -> eddy::coro<void> {
    eddy::task<int> getter;
    {
      eddy::queue<int> q;
      getter = eddy::create_task(get_one(&q));
      co_await eddy::sleep(0s);
    }
    getter.cancel();
    auto error = co_await eddy_test::caught<eddy::cancelled_error>(getter);
    CHECK(error.has_value());
  };
  eddy::run(main());
}

TEST_CASE("test_run_ends_with_tasks_waiting_on_a_queue", "[queue]") {
  // run() cancels what is left when main returns: a consumer stuck in get() is cancelled cleanly.
  auto main = []() -> eddy::coro<int> {
    static eddy::queue<int> jobs;  // outlives run(), as a queue shared by tasks must
    eddy::create_task(get_one(&jobs));
    co_await yield_times(2);
    co_return 1;
  };
  CHECK(eddy::run(main()) == 1);
}
