#include "eddy/detail/timer_wheel.hpp"
// The loop's timing wheel on a made-up clock: every timer fires on the first expiry at or
// after its deadline's millisecond tick, never before, and due timers come out in deadline
// order, then insertion order, whichever level of the wheel they waited in.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace {

using eddy::clock;
using eddy::detail::timer_node;
using eddy::detail::timer_wheel;
using std::chrono::milliseconds;

struct recorded_timer : timer_node {
  std::size_t id = 0;
};

/// Steps `now` forward a millisecond at a time (or straight to the next wake-up when the wheel
/// says it is later) and records the order timers fire in, with the time each fired.
struct wheel_driver {
  timer_wheel wheel;
  clock::time_point now = clock::now();
  std::vector<const recorded_timer*> fired;
  std::vector<clock::time_point> fired_at;

  void add(recorded_timer& timer, clock::duration delay) {
    timer.deadline = now + delay;
    wheel.add(timer);
  }

  void run_until_empty() {
    while (!wheel.empty()) {
      const clock::time_point wake = wheel.next_wakeup();
      now = std::max(now + milliseconds(1), wake);
      wheel.expire(now, [this](timer_node& due) {
        fired.push_back(static_cast<recorded_timer*>(&due));
        fired_at.push_back(now);
      });
    }
  }
};

}  // namespace

TEST_CASE("timers fire no earlier than their deadline and at most a tick late", "[timer_wheel]") {
  auto driver = std::make_unique<wheel_driver>();
  // Deadlines from a millisecond to years, so that timers wait in many levels and are re-filed
  // downwards as their time approaches.
  std::mt19937_64 random(12345);
  std::vector<clock::duration> delays;
  for (int i = 0; i < 400; ++i) {
    const int level = i % 7;
    const auto span = std::int64_t{1} << (2 + 6 * level);  // 4 ms ... 2^38 ms (8.7 years)
    delays.push_back(milliseconds(1 + static_cast<std::int64_t>(random() % span)) +
                     std::chrono::microseconds(random() % 1000));
  }
  std::vector<recorded_timer> timers(delays.size());
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].id = i;
    driver->add(timers[i], delays[i]);
  }
  CHECK(driver->wheel.size() == timers.size());

  // Far-apart deadlines: jump the clock with next_wakeup() rather than tick by tick.
  while (!driver->wheel.empty()) {
    driver->now = std::max(driver->now, driver->wheel.next_wakeup());
    driver->wheel.expire(driver->now, [&](timer_node& due) {
      driver->fired.push_back(static_cast<recorded_timer*>(&due));
      driver->fired_at.push_back(driver->now);
    });
  }

  REQUIRE(driver->fired.size() == timers.size());
  for (std::size_t i = 0; i < driver->fired.size(); ++i) {
    const recorded_timer& timer = *driver->fired[i];
    CHECK(driver->fired_at[i] >= timer.deadline);
    CHECK(driver->fired_at[i] - timer.deadline < milliseconds(1));
    CHECK_FALSE(timer.queued());
    if (i > 0) {
      CHECK(driver->fired[i - 1]->deadline <= timer.deadline);
    }
  }
}

TEST_CASE("timers due in the same tick fire in deadline order, ties in insertion order",
          "[timer_wheel]") {
  auto driver = std::make_unique<wheel_driver>();
  std::vector<recorded_timer> timers(6);
  const clock::duration delays[] = {
      std::chrono::microseconds(5'900), std::chrono::microseconds(5'100),
      std::chrono::microseconds(5'500), std::chrono::microseconds(5'100),
      std::chrono::microseconds(5'100), std::chrono::microseconds(5'200)};
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].id = i;
    driver->add(timers[i], delays[i]);
  }
  driver->run_until_empty();
  std::vector<std::size_t> order;
  for (const recorded_timer* timer : driver->fired) {
    order.push_back(timer->id);
  }
  CHECK(order == std::vector<std::size_t>{1, 3, 4, 5, 2, 0});
}

TEST_CASE("a removed timer never fires, wherever it was filed", "[timer_wheel]") {
  auto driver = std::make_unique<wheel_driver>();
  std::vector<recorded_timer> timers(4);
  const clock::duration delays[] = {milliseconds(3), milliseconds(5'000),
                                    std::chrono::hours(24 * 400), milliseconds(7)};
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].id = i;
    driver->add(timers[i], delays[i]);
  }
  driver->wheel.remove(timers[1]);
  driver->wheel.remove(timers[2]);
  CHECK(driver->wheel.size() == 2);
  driver->run_until_empty();
  REQUIRE(driver->fired.size() == 2);
  CHECK(driver->fired[0]->id == 0);
  CHECK(driver->fired[1]->id == 3);
}

TEST_CASE("a timer added for the past is due at the next expiry", "[timer_wheel]") {
  auto driver = std::make_unique<wheel_driver>();
  recorded_timer late;
  driver->add(late, -milliseconds(10));
  CHECK(driver->wheel.next_wakeup() <= driver->now);
  driver->wheel.expire(driver->now, [&](timer_node& due) {
    driver->fired.push_back(static_cast<recorded_timer*>(&due));
  });
  REQUIRE(driver->fired.size() == 1);
  CHECK(driver->wheel.empty());
}

TEST_CASE("a due timer removed by an earlier one's firing does not fire", "[timer_wheel]") {
  // As when a callback_node is cancelled by a timer that fired just before it in the same
  // expiry: the wheel has already taken both out of their slot.
  auto driver = std::make_unique<wheel_driver>();
  std::vector<recorded_timer> timers(3);
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].id = i;
    driver->add(timers[i], milliseconds(2) + std::chrono::microseconds(100 * i));
  }
  driver->now += milliseconds(5);
  std::vector<std::size_t> order;
  driver->wheel.expire(driver->now, [&](timer_node& due) {
    auto& timer = static_cast<recorded_timer&>(due);
    order.push_back(timer.id);
    if (timer.id == 0) {
      REQUIRE(timers[1].queued());
      driver->wheel.remove(timers[1]);
      CHECK_FALSE(timers[1].queued());
    }
  });
  CHECK(order == std::vector<std::size_t>{0, 2});
  CHECK(driver->wheel.empty());
  CHECK_FALSE(timers[1].queued());
  // The wheel is still consistent: the removed node can be filed again and fires.
  driver->add(timers[1], milliseconds(1));
  driver->run_until_empty();
  REQUIRE(driver->fired.size() == 1);
  CHECK(driver->fired[0]->id == 1);
}

TEST_CASE("removing timers from the middle of a slot keeps the others in order", "[timer_wheel]") {
  auto driver = std::make_unique<wheel_driver>();
  std::vector<recorded_timer> timers(8);
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].id = i;
    driver->add(timers[i], milliseconds(3) + std::chrono::microseconds(10 * i));  // one slot
  }
  driver->wheel.remove(timers[2]);
  driver->wheel.remove(timers[0]);
  driver->wheel.remove(timers[7]);
  CHECK(driver->wheel.size() == 5);
  driver->run_until_empty();
  std::vector<std::size_t> order;
  for (const recorded_timer* timer : driver->fired) {
    order.push_back(timer->id);
  }
  CHECK(order == std::vector<std::size_t>{1, 3, 4, 5, 6});
}
