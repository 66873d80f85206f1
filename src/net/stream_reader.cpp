// stream_reader's reads: asyncio's StreamReader.read / readexactly / readuntil / readline, over
// the shared buffer of detail::stream_state.
#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "eddy/net/stream.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace {

using detail::stream_access;
using detail::stream_state;

/// The separators of one readuntil: one (no allocation for short ones) or several, sorted
/// shortest first as asyncio does.
struct separator_set {
  std::string single;
  std::vector<std::string> several;

  [[nodiscard]] std::span<const std::string> all() const noexcept {
    return several.empty() ? std::span<const std::string>(&single, 1)
                           : std::span<const std::string>(several);
  }
};

/// Where the earliest-ending separator match starts and ends.
struct separator_match {
  std::size_t start = 0;
  std::size_t end = 0;
};

/// The readuntil scan over what is buffered (CPython's algorithm): returns the match, or
/// advances `offset` past where no separator can start and throws limit_overrun_error when
/// that passes the limit. Returns nullopt when more data is needed.
std::optional<separator_match> scan(const stream_state& s, const separator_set& separators,
                                    std::size_t& offset) {
  std::span<const std::string> all = separators.all();
  std::size_t shortest = all.front().size();
  std::size_t longest = all.back().size();
  std::string_view data = s.buffer_view();
  if (offset > data.size()) {
    offset = 0;  // another task took data meanwhile: look again from the front
  }
  if (data.size() - offset < shortest) {
    return std::nullopt;
  }
  std::optional<separator_match> best;
  for (const std::string& separator : all) {
    std::size_t found = data.find(separator, offset);
    if (found != std::string_view::npos && (!best || found + separator.size() < best->end)) {
      best = separator_match{found, found + separator.size()};
    }
  }
  if (best) {
    return best;
  }
  offset = data.size() + 1 > longest ? data.size() + 1 - longest : 0;
  if (offset > s.limit()) {
    throw limit_overrun_error("Separator is not found, and chunk exceed the limit", offset);
  }
  return std::nullopt;
}

coro<std::string> readuntil_body(stream_reader self, separator_set separators, const char* what) {
  stream_state& s = stream_access::of(self);
  s.throw_if_read_failed(what);
  std::size_t offset = 0;
  std::optional<separator_match> match;
  while (!(match = scan(s, separators, offset))) {
    if (s.eof()) {
      std::string rest = s.take(s.buffered());
      throw incomplete_read_error(std::move(rest), std::nullopt);
    }
    co_await s.receive(what);
    s.throw_if_read_failed(what);
  }
  if (match->start > s.limit()) {
    throw limit_overrun_error("Separator is found, but chunk is longer than limit", match->start);
  }
  co_return s.take(match->end);
}

coro<std::string> readline_body(stream_reader self) {
  stream_state& s = stream_access::of(self);
  separator_set newline{"\n", {}};
  std::optional<std::string> partial;
  std::optional<limit_overrun_error> overrun;
  try {
    coro<std::string> line = readuntil_body(self, std::move(newline), "readline");
    co_return co_await std::move(line);
  } catch (const incomplete_read_error& error) {
    partial = error.partial();
  } catch (const limit_overrun_error& error) {
    overrun = error;
  }
  if (partial) {
    co_return std::move(*partial);
  }
  // asyncio's readline drops the overlong line: through its "\n" if that is buffered, else
  // everything buffered.
  std::string_view data = s.buffer_view();
  if (overrun->consumed() < data.size() && data[overrun->consumed()] == '\n') {
    s.discard(overrun->consumed() + 1);
  } else {
    s.discard(s.buffered());
  }
  throw *overrun;
}

coro<std::string> read_body(stream_reader self, std::ptrdiff_t n) {
  stream_state& s = stream_access::of(self);
  s.throw_if_read_failed("read");
  if (n == 0) {
    co_return std::string();
  }
  if (n < 0) {
    // Everything stays in the buffer until end of file, so a cancelled read(-1) loses nothing.
    while (!s.eof()) {
      co_await s.receive("read");
      s.throw_if_read_failed("read");
    }
    co_return s.take(s.buffered());
  }
  if (s.buffered() == 0 && !s.eof()) {
    co_await s.receive("read");
    s.throw_if_read_failed("read");
  }
  co_return s.take(std::min(static_cast<std::size_t>(n), s.buffered()));
}

coro<std::string> readexactly_body(stream_reader self, std::size_t n) {
  stream_state& s = stream_access::of(self);
  s.throw_if_read_failed("readexactly");
  while (s.buffered() < n) {
    if (s.eof()) {
      std::string partial = s.take(s.buffered());
      throw incomplete_read_error(std::move(partial), n);
    }
    co_await s.receive("readexactly");
    s.throw_if_read_failed("readexactly");
  }
  co_return s.take(n);
}

coro<std::size_t> read_into_body(stream_reader self, std::span<std::byte> into) {
  stream_state& s = stream_access::of(self);
  s.throw_if_read_failed("read_into");
  if (into.empty()) {
    co_return 0;
  }
  if (s.buffered() > 0) {
    std::size_t count = std::min(into.size(), s.buffered());
    std::memcpy(into.data(), s.buffer_view().data(), count);
    s.discard(count);
    co_return count;
  }
  if (s.eof()) {
    co_return 0;
  }
  std::size_t count = co_await s.receive("read_into", into);
  if (count == 0) {
    // Bytes already in `into` are returned even when set_exception() came meanwhile; the
    // next read throws it.
    s.throw_if_read_failed("read_into");
  }
  co_return count;
}

/// `async for line in reader`: readline() until it returns "" (end of file).
async_generator<std::string> lines_body(stream_reader self) {
  for (;;) {
    coro<std::string> reading = self.readline();
    std::string line = co_await std::move(reading);
    if (line.empty()) {
      co_return;
    }
    co_yield std::move(line);
  }
}

}  // namespace

async_generator<std::string> stream_reader::lines() const {
  state("lines");
  return lines_body(*this);
}

std::exception_ptr stream_reader::exception() const { return state("exception").exception(); }

void stream_reader::set_exception(std::exception_ptr error) const {
  detail::stream_state& s = state("set_exception");
  if (!error) {
    throw std::invalid_argument("set_exception: the exception_ptr is null");
  }
  s.set_exception(std::move(error));
}

coro<std::string> stream_reader::read(std::ptrdiff_t n) const {
  state("read");
  if (n < -1) {
    throw std::invalid_argument(
        fmt::format("read: n must be -1 (to end of file) or >= 0, got {}", n));
  }
  return read_body(*this, n);
}

coro<std::string> stream_reader::readexactly(std::ptrdiff_t n) const {
  state("readexactly");
  if (n < 0) {
    throw std::invalid_argument(fmt::format("readexactly: n must be >= 0, got {}", n));
  }
  return readexactly_body(*this, static_cast<std::size_t>(n));
}

coro<std::string> stream_reader::readline() const {
  state("readline");
  return readline_body(*this);
}

coro<std::string> stream_reader::readuntil(std::string separator) const {
  state("readuntil");
  if (separator.empty()) {
    throw std::invalid_argument("readuntil: Separator should be at least one-byte string");
  }
  return readuntil_body(*this, separator_set{std::move(separator), {}}, "readuntil");
}

coro<std::string> stream_reader::readuntil(std::vector<std::string> separators) const {
  state("readuntil");
  if (separators.empty()) {
    throw std::invalid_argument("readuntil: Separator should contain at least one element");
  }
  for (const std::string& separator : separators) {
    if (separator.empty()) {
      throw std::invalid_argument("readuntil: Separator should be at least one-byte string");
    }
  }
  std::sort(separators.begin(), separators.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  return readuntil_body(*this, separator_set{{}, std::move(separators)}, "readuntil");
}

coro<std::size_t> stream_reader::read_into(std::span<std::byte> into) const {
  state("read_into");
  return read_into_body(*this, into);
}

coro<std::size_t> stream_reader::read_into(std::span<char> into) const {
  return read_into(std::as_writable_bytes(into));
}

}  // namespace eddy
