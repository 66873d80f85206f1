// The errors of stream reads (asyncio.IncompleteReadError, asyncio.LimitOverrunError).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace eddy {

/// The stream ended before a read could be satisfied (asyncio.IncompleteReadError, which
/// derives from EOFError there). partial() holds the bytes that did arrive (they have been
/// taken out of the reader's buffer); expected() is the size asked for, or nullopt for a
/// readuntil() that never saw its separator.
class incomplete_read_error : public std::runtime_error {
 public:
  incomplete_read_error(std::string partial, std::optional<std::size_t> expected)
      : std::runtime_error(describe(partial.size(), expected)),
        partial_(std::move(partial)),
        expected_(expected) {}

  [[nodiscard]] const std::string& partial() const noexcept { return partial_; }
  [[nodiscard]] std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  static std::string describe(std::size_t got, std::optional<std::size_t> expected) {
    return std::to_string(got) + " bytes read on a total of " +
           (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes";
  }

  std::string partial_;
  std::optional<std::size_t> expected_;
};

/// A separator was not found within the reader's limit (asyncio.LimitOverrunError). The data
/// stays in the reader's buffer (except for readline(), see stream_reader::readline);
/// consumed() is how many bytes may be taken out before trying again: the offset at which
/// the separator was found, or up to which it is known not to start.
class limit_overrun_error : public std::runtime_error {
 public:
  limit_overrun_error(const std::string& message, std::size_t consumed)
      : std::runtime_error(message), consumed_(consumed) {}

  [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

}  // namespace eddy
