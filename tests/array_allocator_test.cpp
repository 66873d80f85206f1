#include "eddy/detail/array_allocator.hpp"
// eddy's allocator for arrays that grow with the work (task registry, timer slots, gather's
// links): small arrays from the frame allocator, large ones from a mapping of their own. Every
// size must behave as std::allocator does.

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using eddy::detail::array_allocator;
using eddy::detail::array_vector;

struct entry {
  void* pointer;
  std::uint64_t value;
};

template <class T>
bool aligned_to_16(const T* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0;
}

}  // namespace

TEST_CASE("array_allocator: vectors of every size class hold what was written",
          "[array_allocator]") {
  // From one element to past the bulk threshold (1 MiB), through the frame allocator's
  // largest class (4 KiB) and operator new in between.
  for (std::size_t count :
       {std::size_t{1}, std::size_t{255}, std::size_t{256}, std::size_t{257}, std::size_t{10'000},
        std::size_t{65'536}, std::size_t{65'537}, std::size_t{300'000}}) {
    array_vector<entry> values(count);
    CHECK(aligned_to_16(values.data()));
    for (std::size_t i = 0; i < count; ++i) {
      values[i] = {&values[i], i * 3};
    }
    array_vector<entry> moved = std::move(values);
    bool intact = true;
    for (std::size_t i = 0; i < count; ++i) {
      intact = intact && moved[i].value == i * 3 && moved[i].pointer == &moved[i];
    }
    CHECK(intact);
  }
}

TEST_CASE("array_allocator: growing one element at a time crosses every threshold",
          "[array_allocator]") {
  array_vector<std::uint64_t> grown;
  for (std::uint64_t i = 0; i < 400'000; ++i) {  // 3.2 MB: two bulk mappings on the way
    grown.push_back(i);
  }
  std::uint64_t sum = 0;
  for (std::uint64_t value : grown) {
    sum += value;
  }
  CHECK(sum == 400'000ull * 399'999 / 2);
  grown.clear();
  grown.shrink_to_fit();
  CHECK(grown.capacity() == 0);
}

TEST_CASE("array_allocator: an impossible size throws std::bad_array_new_length",
          "[array_allocator]") {
  array_allocator<entry> allocator;
  CHECK_THROWS_AS(allocator.allocate(SIZE_MAX / 8), std::bad_array_new_length);
}
