// The loop's timers: a hierarchical timing wheel with 1 ms ticks.
//
// Why a wheel and not a heap: adding, cancelling and expiring a timer are O(1) and touch only
// the timer's own node (and, for a cancel, the one moved into its place), where a heap touches
// log(n) nodes scattered over as many coroutine frames. Each slot is an array of entries
// (node, deadline) rather than a list linked through the nodes: the nodes live in cold
// coroutine frames, and walking a list through them is a chain of cache misses, one after the
// other (a third of the timers workload's CPU time); an array is read at memory speed and the
// nodes it names are touched independently of each other.
//
// Timers are never early: a timer fires at the first loop wake-up on or after the millisecond
// tick that contains its deadline (at most 1 ms late, like asyncio's selector loops, which
// wait in whole milliseconds). Timers that come due together fire in deadline order, and
// timers with equal deadlines in the order they were scheduled.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "eddy/detail/array_allocator.hpp"
#include "eddy/detail/clock.hpp"

namespace eddy::detail {

/// A timer, embedded in whatever waits for it (an awaiter in a coroutine frame, a callback).
struct timer_node {
  clock::time_point deadline{};
  std::uint64_t sequence = 0;           ///< insertion order, the tie-breaker
  void (*fire)(timer_node&) = nullptr;  ///< called by the loop once the deadline has passed

  [[nodiscard]] bool queued() const noexcept { return wheel_slot < removed_while_due; }

  // Where the wheel keeps it: the slot's array and the position in it, or one of these.
  static constexpr std::uint32_t not_queued = UINT32_MAX;
  /// Taken for firing by the expiry in progress, then removed before its turn.
  static constexpr std::uint32_t removed_while_due = UINT32_MAX - 1;
  std::uint32_t wheel_slot = not_queued;
  std::uint32_t wheel_index = 0;
};

/// A slot's record of a timer: the deadline is copied beside the pointer so that filing,
/// re-filing and sorting due timers read the array, not the node.
struct timer_entry {
  timer_node* node;
  clock::time_point deadline;
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

constexpr std::size_t bits_of(std::size_t level) noexcept {
  return level == 0 ? first_bits : upper_bits;
}
constexpr std::size_t shift_of(std::size_t level) noexcept {
  return level == 0 ? 0 : first_bits + (level - 1) * upper_bits;
}
constexpr std::size_t slots_in(std::size_t level) noexcept {
  return std::size_t{1} << bits_of(level);
}
/// Where a level's slots start in the wheel's flat slot array.
constexpr std::size_t first_slot_of(std::size_t level) noexcept {
  return level == 0 ? 0 : slots_in(0) + (level - 1) * slots_in(1);
}
static_assert(shift_of(level_count - 1) + upper_bits >= 64, "the levels must cover 64 bits");
}  // namespace wheel_layout

class timer_wheel {
  using entry_array = array_vector<timer_entry>;

 public:
  /// Throws std::bad_alloc (the slot table is allocated up front).
  timer_wheel()
      : slots_(std::make_unique<entry_array[]>(slot_total + 1)),
        current_tick_(floor_tick(clock::now())) {}
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

  /// Files a timer. A slot's array grows when it must (amortised: a loop that keeps a steady
  /// number of timers allocates nothing); running out of memory there aborts the process, as
  /// there is no caller to hand the failure to when a timer is re-filed during expiry.
  void add(timer_node& node) noexcept {
    node.sequence = next_sequence_++;
    ++count_;
    place({&node, node.deadline});
  }

  /// Takes a queued timer out: the slot's last entry moves into its place. A timer already
  /// taken for firing by the expiry in progress (a fire callback cancelling another due timer)
  /// is skipped when its turn comes instead. Fire callbacks never re-add a due timer (they only
  /// schedule), which is what keeps that mark unambiguous.
  void remove(timer_node& node) noexcept {
    entry_array& slot = slots_[node.wheel_slot];
    const std::uint32_t index = node.wheel_index;
    if (index >= slot.size() || slot[index].node != &node) {
      node.wheel_slot = timer_node::removed_while_due;  // in due_; count_ already excludes it
      return;
    }
    if (index + 1 != slot.size()) {
      slot[index] = slot.back();
      slot[index].node->wheel_index = index;
    }
    slot.pop_back();
    node.wheel_slot = timer_node::not_queued;
    --count_;
  }

  /// When the loop should wake up for the earliest timer (a time in the past if one is already
  /// due). Precondition: !empty().
  [[nodiscard]] clock::time_point next_wakeup() noexcept {
    if (!slots_[overdue_slot].empty()) {
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
    take_slot(overdue_slot);
    for (;;) {
      slot_position next = next_occupied();
      if (next.level == no_level || next.wake_tick > now_tick) {
        break;
      }
      current_tick_ = next.wake_tick;
      clear_occupied(next.slot);
      if (next.level == 0) {
        take_slot(next.slot);
      } else {
        cascade(next.slot);
      }
    }
    current_tick_ = std::max(current_tick_, now_tick);
    if (due_.size() > 1) {
      // Equal deadlines are rare (the clock counts nanoseconds), so the tie-breaker's read of
      // the nodes is too.
      std::sort(due_.begin(), due_.end(), [](const timer_entry& a, const timer_entry& b) {
        return a.deadline < b.deadline ||
               (a.deadline == b.deadline && a.node->sequence < b.node->sequence);
      });
    }
    count_ -= due_.size();
    for (const timer_entry& entry : due_) {
      if (leave_wheel(*entry.node)) {
        fire(*entry.node);
      }
    }
  }

  /// Takes every timer out of the wheel, calling `visit` on each (used when the loop closes).
  template <class Visit>
  void drain(Visit&& visit) {
    due_.clear();
    for (std::uint32_t slot = 0; slot <= overdue_slot; ++slot) {
      take_slot(slot);
    }
    std::fill(std::begin(occupied_), std::end(occupied_), std::uint64_t{0});
    count_ = 0;
    for (const timer_entry& entry : due_) {
      if (leave_wheel(*entry.node)) {
        visit(*entry.node);
      }
    }
  }

 private:
  static constexpr std::size_t first_bits = wheel_layout::first_bits;
  static constexpr std::size_t level_count = wheel_layout::level_count;
  static constexpr std::size_t no_level = level_count;
  static constexpr std::size_t slot_total = wheel_layout::first_slot_of(level_count);
  /// One more array after every level's slots: timers already due when filed.
  static constexpr std::uint32_t overdue_slot = slot_total;
  /// A slot array emptied with more room than this gives its memory back, so that one burst
  /// of timers does not stay reserved in every slot it passed through.
  static constexpr std::size_t kept_capacity = 256;
  using tick = std::chrono::milliseconds;
  static constexpr std::size_t upper_bits = wheel_layout::upper_bits;

  struct slot_position {
    std::size_t level = no_level;
    std::size_t slot = 0;  ///< index into slots_
    std::uint64_t wake_tick = 0;
  };

  // Ticks count from the clock's epoch. A deadline before it (call_at(time_point::min()),
  // call_later(nanoseconds::min())) is tick 0, which is always past: due now, never wrapped
  // round to a tick far in the future.
  static std::uint64_t floor_tick(clock::time_point when) noexcept {
    const auto ticks = std::chrono::floor<tick>(when.time_since_epoch()).count();
    return ticks < 0 ? 0 : static_cast<std::uint64_t>(ticks);
  }
  static std::uint64_t ceil_tick(clock::time_point when) noexcept {
    const auto ticks = std::chrono::ceil<tick>(when.time_since_epoch()).count();
    return ticks < 0 ? 0 : static_cast<std::uint64_t>(ticks);
  }

  /// Moves every entry of a slot to due_. The nodes are not touched here (they sit in cold
  /// frames): each still names the slot until leave_wheel() runs just before it fires, and
  /// remove() tells a stale position from a live one by the entry it points at.
  void take_slot(std::uint32_t slot_index) noexcept {
    entry_array& slot = slots_[slot_index];
    if (slot.empty()) {
      return;
    }
    grow_or_abort([&] { due_.insert(due_.end(), slot.begin(), slot.end()); });
    empty_slot(slot);
  }

  /// Re-files the entries of a higher-level slot whose time has come, relative to
  /// current_tick_ (every one lands in a lower level, or is overdue).
  void cascade(std::uint32_t slot_index) noexcept {
    cascading_.swap(slots_[slot_index]);
    for (const timer_entry& entry : cascading_) {
      place(entry);
    }
    empty_slot(cascading_);
  }

  /// Marks a due node as out of the wheel; returns false if it was removed while due.
  static bool leave_wheel(timer_node& node) noexcept {
    const bool fires = node.wheel_slot != timer_node::removed_while_due;
    node.wheel_slot = timer_node::not_queued;
    return fires;
  }

  static void empty_slot(entry_array& slot) noexcept {
    if (slot.capacity() > kept_capacity) {
      entry_array().swap(slot);
    } else {
      slot.clear();
    }
  }

  /// Files an entry: overdue, or the slot of the lowest level whose current block contains it.
  void place(const timer_entry& entry) noexcept {
    const std::uint64_t due_tick = ceil_tick(entry.deadline);
    std::uint32_t slot = overdue_slot;
    if (due_tick > current_tick_) {
      const auto highest_differing =
          static_cast<std::size_t>(63 - std::countl_zero(due_tick ^ current_tick_));
      const std::size_t level =
          highest_differing < first_bits ? 0 : 1 + (highest_differing - first_bits) / upper_bits;
      slot = static_cast<std::uint32_t>(
          wheel_layout::first_slot_of(level) +
          ((due_tick >> wheel_layout::shift_of(level)) & (wheel_layout::slots_in(level) - 1)));
      occupied_[slot / 64] |= std::uint64_t{1} << (slot % 64);
    }
    entry_array& array = slots_[slot];
    entry.node->wheel_slot = slot;
    entry.node->wheel_index = static_cast<std::uint32_t>(array.size());
    grow_or_abort([&] { array.push_back(entry); });
  }

  template <class Grow>
  static void grow_or_abort(Grow&& grow) noexcept {
    try {
      grow();
    } catch (...) {
      std::fputs("eddy: out of memory while filing a timer\n", stderr);
      std::abort();
    }
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
        const std::size_t slot =
            word * 64 + static_cast<std::size_t>(std::countr_zero(later)) - base;
        if (slots_[base + slot].empty()) {
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

  /// Every level's slots, level 0 first, then overdue_slot.
  std::unique_ptr<entry_array[]> slots_;
  std::uint64_t occupied_[slot_total / 64] = {};
  std::uint64_t current_tick_;
  std::uint64_t next_sequence_ = 0;
  std::size_t count_ = 0;
  entry_array due_;        ///< reused by expire(), so firing allocates nothing
  entry_array cascading_;  ///< the slot being re-filed
};

}  // namespace eddy::detail
