// The loop's timers: a hierarchical timing wheel of intrusive nodes with 1 ms ticks.
//
// Why a wheel and not a heap: adding, cancelling and expiring a timer are O(1) and touch only
// the timer's own node and its list neighbours, where a heap touches log(n) nodes scattered
// over as many coroutine frames. Timers are never early: a timer fires at the first loop
// wake-up on or after the millisecond tick that contains its deadline (at most 1 ms late, like
// asyncio's selector loops, which wait in whole milliseconds). Timers that come due together
// fire in deadline order, and timers with equal deadlines in the order they were scheduled.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "eddy/detail/clock.hpp"

namespace eddy::detail {

/// A link in one of the wheel's circular lists. next == nullptr means "not in the wheel".
struct timer_link {
  timer_link* prev = nullptr;
  timer_link* next = nullptr;
};

struct timer_node : timer_link {
  clock::time_point deadline{};
  std::uint64_t sequence = 0;           ///< insertion order, the tie-breaker
  void (*fire)(timer_node&) = nullptr;  ///< called by the loop once the deadline has passed

  [[nodiscard]] bool queued() const noexcept { return next != nullptr; }
};

/// The wheel's geometry. 4096 one-millisecond slots on the first level: a timer is filed in
/// the lowest level whose current block holds its deadline, so one under a second lands in the
/// first level and is never re-filed three times out of four (with 1024 slots, half of them
/// were). Each higher level has 64 slots of 64 times the span of the one below; ten levels
/// reach 2^66 ms.
namespace wheel_layout {
constexpr std::size_t first_bits = 12;
constexpr std::size_t upper_bits = 6;
constexpr std::size_t level_count = 10;

constexpr std::size_t bits_of(std::size_t level) noexcept { return level == 0 ? first_bits : upper_bits; }
constexpr std::size_t shift_of(std::size_t level) noexcept {
  return level == 0 ? 0 : first_bits + (level - 1) * upper_bits;
}
constexpr std::size_t slots_in(std::size_t level) noexcept { return std::size_t{1} << bits_of(level); }
/// Where a level's slots start in the wheel's flat slot array.
constexpr std::size_t first_slot_of(std::size_t level) noexcept {
  return level == 0 ? 0 : slots_in(0) + (level - 1) * slots_in(1);
}
static_assert(shift_of(level_count - 1) + upper_bits >= 64, "the levels must cover 64 bits");
}  // namespace wheel_layout

class timer_wheel {
 public:
  timer_wheel() noexcept : current_tick_(floor_tick(clock::now())) {
    make_empty(overdue_);
    for (auto& slot : slots_) {
      make_empty(slot);
    }
  }
  timer_wheel(const timer_wheel&) = delete;  // the lists point at their own heads
  timer_wheel& operator=(const timer_wheel&) = delete;

  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

  void add(timer_node& node) noexcept {
    node.sequence = next_sequence_++;
    ++count_;
    place(node);
  }

  void remove(timer_node& node) noexcept {
    unlink(node);
    --count_;
  }

  /// When the loop should wake up for the earliest timer (a time in the past if one is already
  /// due). Precondition: !empty().
  [[nodiscard]] clock::time_point next_wakeup() noexcept {
    if (!is_empty(overdue_)) {
      return clock::time_point{};  // the clock's epoch: already passed
    }
    slot_position next = next_occupied();
    return clock::time_point(std::chrono::duration_cast<clock::duration>(tick(next.wake_tick)));
  }

  /// Fires, in deadline order, every timer due at `now`.
  template <class Fire>
  void expire(clock::time_point now, Fire&& fire) {
    const std::uint64_t now_tick = floor_tick(now);
    due_.clear();
    take_list(overdue_);
    for (;;) {
      slot_position next = next_occupied();
      if (next.level == no_level || next.wake_tick > now_tick) {
        break;
      }
      current_tick_ = next.wake_tick;
      timer_link& slot = slots_[next.slot];
      clear_occupied(next.slot);
      if (next.level == 0) {
        take_list(slot);
      } else {
        cascade(slot);
      }
    }
    current_tick_ = std::max(current_tick_, now_tick);
    if (due_.size() > 1) {
      std::sort(due_.begin(), due_.end(), [](const timer_node* a, const timer_node* b) {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->sequence < b->sequence);
      });
    }
    count_ -= due_.size();
    for (timer_node* node : due_) {
      fire(*node);
    }
  }

  /// Takes every timer out of the wheel, calling `visit` on each (used when the loop closes).
  template <class Visit>
  void drain(Visit&& visit) {
    due_.clear();
    take_list(overdue_);
    for (auto& slot : slots_) {
      take_list(slot);
    }
    std::fill(std::begin(occupied_), std::end(occupied_), std::uint64_t{0});
    count_ = 0;
    for (timer_node* node : due_) {
      visit(*node);
    }
  }

 private:
  static constexpr std::size_t first_bits = wheel_layout::first_bits;
  static constexpr std::size_t level_count = wheel_layout::level_count;
  static constexpr std::size_t no_level = level_count;
  static constexpr std::size_t slot_total = wheel_layout::first_slot_of(level_count);
  using tick = std::chrono::milliseconds;
  static constexpr std::size_t upper_bits = wheel_layout::upper_bits;

  struct slot_position {
    std::size_t level = no_level;
    std::size_t slot = 0;  ///< index into slots_
    std::uint64_t wake_tick = 0;
  };

  static std::uint64_t floor_tick(clock::time_point when) noexcept {
    return static_cast<std::uint64_t>(std::chrono::floor<tick>(when.time_since_epoch()).count());
  }
  static std::uint64_t ceil_tick(clock::time_point when) noexcept {
    return static_cast<std::uint64_t>(std::chrono::ceil<tick>(when.time_since_epoch()).count());
  }

  static void make_empty(timer_link& list) noexcept { list.prev = list.next = &list; }
  static bool is_empty(const timer_link& list) noexcept { return list.next == &list; }

  static void append(timer_link& list, timer_node& node) noexcept {
    node.prev = list.prev;
    node.next = &list;
    list.prev->next = &node;
    list.prev = &node;
  }

  static void unlink(timer_node& node) noexcept {
    node.prev->next = node.next;
    node.next->prev = node.prev;
    node.prev = node.next = nullptr;
  }

  /// Moves every node of `list` to due_, leaving them unlinked.
  void take_list(timer_link& list) {
    for (timer_link* link = list.next; link != &list;) {
      timer_link* next = link->next;
      auto* node = static_cast<timer_node*>(link);
      node->prev = node->next = nullptr;
      due_.push_back(node);
      link = next;
    }
    make_empty(list);
  }

  /// Re-files the nodes of a higher-level slot whose time has come, relative to current_tick_.
  void cascade(timer_link& list) noexcept {
    timer_link* link = list.next;
    make_empty(list);
    while (link != &list) {
      timer_link* next = link->next;
      place(*static_cast<timer_node*>(link));
      link = next;
    }
  }

  /// Files a node: overdue, or the slot of the lowest level whose current block contains it.
  void place(timer_node& node) noexcept {
    const std::uint64_t due_tick = ceil_tick(node.deadline);
    if (due_tick <= current_tick_) {
      append(overdue_, node);
      return;
    }
    const auto highest_differing = static_cast<std::size_t>(63 - std::countl_zero(due_tick ^ current_tick_));
    const std::size_t level =
        highest_differing < first_bits ? 0 : 1 + (highest_differing - first_bits) / upper_bits;
    const std::size_t slot = wheel_layout::first_slot_of(level) +
                             ((due_tick >> wheel_layout::shift_of(level)) & (wheel_layout::slots_in(level) - 1));
    append(slots_[slot], node);
    occupied_[slot / 64] |= std::uint64_t{1} << (slot % 64);
  }

  void clear_occupied(std::size_t slot) noexcept {
    occupied_[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
  }

  /// The earliest non-empty slot after the current tick; lower levels always come first.
  /// Every level holds a multiple of 64 slots, so its occupancy bits start on a word boundary.
  slot_position next_occupied() noexcept {
    for (std::size_t level = 0; level < level_count; ++level) {
      const std::size_t shift = wheel_layout::shift_of(level);
      const std::size_t level_slots = wheel_layout::slots_in(level);
      const std::size_t base = wheel_layout::first_slot_of(level);
      const std::size_t current_slot = (current_tick_ >> shift) & (level_slots - 1);
      for (std::size_t first = current_slot + 1; first < level_slots;) {
        const std::size_t word = (base + first) / 64;
        std::uint64_t later = occupied_[word] & (~std::uint64_t{0} << ((base + first) % 64));
        if (later == 0) {
          first = (word + 1) * 64 - base;
          continue;
        }
        const std::size_t slot = word * 64 + static_cast<std::size_t>(std::countr_zero(later)) - base;
        if (is_empty(slots_[base + slot])) {
          // Bits are cleared lazily: cancelling a timer does not know its slot.
          clear_occupied(base + slot);
          first = slot + 1;
          continue;
        }
        const std::size_t block_shift = shift + wheel_layout::bits_of(level);
        const std::uint64_t block_start =
            block_shift >= 64 ? 0 : (current_tick_ >> block_shift) << block_shift;
        return {level, base + slot, block_start | (std::uint64_t{slot} << shift)};
      }
    }
    return {};
  }

  timer_link overdue_;
  timer_link slots_[slot_total];  ///< every level's slots, level 0 first
  std::uint64_t occupied_[slot_total / 64] = {};
  std::uint64_t current_tick_;
  std::uint64_t next_sequence_ = 0;
  std::size_t count_ = 0;
  std::vector<timer_node*> due_;  ///< reused by expire(), so firing allocates nothing
};

}  // namespace eddy::detail
