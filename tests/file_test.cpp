#include "eddy/file.hpp"
// eddy::file, open_file, read_file and write_file on real files in a temporary directory, on
// both routes (io_uring operations, or the thread pool under epoll). Cancellation is checked to
// be prompt where it can be, to lose nothing, and to leak no descriptor (ASan watches the
// buffers).

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/gather.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/thread.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;
using eddy_test::temp_dir;

/// Bytes that differ from position to position, so misplaced data shows.
std::string pattern(std::size_t size, unsigned seed = 1) {
  std::string text(size, '\0');
  std::uint32_t state = seed * 2654435761U + 1;
  for (char& each : text) {
    state = state * 1664525U + 1013904223U;
    each = static_cast<char>(state >> 24);
  }
  return text;
}

/// Writes a file synchronously (test set-up, not under test).
void put(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
}

/// Reads a file synchronously.
std::string get(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string content;
  std::array<char, 65536> chunk{};
  ssize_t count = 0;
  while ((count = ::read(fd, chunk.data(), chunk.size())) > 0) {
    content.append(chunk.data(), static_cast<std::size_t>(count));
  }
  ::close(fd);
  return content;
}

template <class Exception>
std::string message_of(const std::optional<Exception>& error) {
  return error ? std::string(error->what()) : std::string("(nothing thrown)");
}

}  // namespace

// --- routes -----------------------------------------------------------------------------------

TEST_CASE("file operations are io_uring operations on io_uring and thread-pool calls on epoll",
          "[file]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::event_loop& loop = eddy::get_running_loop();
    // This machine's kernel has every file opcode; the epoll backend never does.
    CHECK(loop.native_file_ops() == (loop.backend_name() == "uring"));
    co_return;
  }());
}

// --- open_file ------------------------------------------------------------------------------

TEST_CASE("open_file of a missing file throws std::system_error with ENOENT naming the path",
          "[file][open]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    std::optional<std::system_error> error =
        co_await caught<std::system_error>(eddy::open_file(path));
    REQUIRE(error);
    CHECK(error->code() == std::errc::no_such_file_or_directory);
    CHECK_THAT(error->what(), Catch::Contains(path));
  }(dir.file("missing")));
}

TEST_CASE("open_file rejects a bad mode at once with std::invalid_argument naming it",
          "[file][open]") {
  for (const char* mode : {"", "q", "rw", "r++", "rbb", "+", "b", "rt"}) {
    INFO(mode);
    try {
      (void)eddy::open_file("/tmp/never-opened", mode);
      FAIL("no exception");
    } catch (const std::invalid_argument& error) {
      CHECK_THAT(error.what(),
                 Catch::Contains("open_file") && Catch::Contains(std::string("'") + mode + "'"));
    }
  }
}

TEST_CASE("open_file modes behave like Python's open", "[file][open]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    // "x" creates; a second "x" fails with EEXIST.
    eddy::file created = co_await eddy::open_file(path, "xb");
    co_await created.write("first");
    co_await created.close();
    std::optional<std::system_error> exists =
        co_await caught<std::system_error>(eddy::open_file(path, "x"));
    REQUIRE(exists);
    CHECK(exists->code() == std::errc::file_exists);

    // "a" appends and starts at the end; "r" cannot write.
    eddy::file appending = co_await eddy::open_file(path, "a");
    CHECK(appending.tell() == 5);
    co_await appending.write(" second");
    co_await appending.close();
    CHECK(get(path) == "first second");
    eddy::file reading = co_await eddy::open_file(path, "rb");
    std::optional<std::system_error> read_only =
        co_await caught<std::system_error>(reading.write("no"));
    REQUIRE(read_only);
    CHECK(read_only->code() == std::errc::bad_file_descriptor);

    // "r+" reads and writes without truncating; "w" truncates.
    eddy::file updating = co_await eddy::open_file(path, "r+");
    co_await updating.write("FIRST");
    std::string rest = co_await updating.read(100);
    CHECK(rest == " second");
    co_await updating.close();
    CHECK(get(path) == "FIRST second");
    eddy::file truncating = co_await eddy::open_file(path, "w");
    co_await truncating.close();
    CHECK(get(path).empty());

    // "a+" reads from its position and writes at the end.
    put(path, "abc");
    eddy::file both = co_await eddy::open_file(path, "a+");
    both.seek(0);
    std::string head = co_await both.read(2);
    CHECK(head == "ab");
    co_await both.write("def");
    co_await both.close();
    CHECK(get(path) == "abcdef");
  }(dir.file("modes")));
}

TEST_CASE("files are opened close-on-exec, with the permissions asked for", "[file][open]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    const mode_t old_mask = ::umask(022);
    eddy::file opened = co_await eddy::open_file(path, "w", 0640);
    ::umask(old_mask);
    CHECK((::fcntl(opened.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    struct stat status{};
    REQUIRE(::stat(path.c_str(), &status) == 0);
    CHECK((status.st_mode & 0777) == 0640);
    CHECK(opened.path() == path);
  }(dir.file("perm")));
}

TEST_CASE("open_file with open(2) flags adds O_CLOEXEC", "[file][open]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path, O_RDWR | O_CREAT | O_TRUNC);
    CHECK((::fcntl(opened.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    co_await opened.write("flags");
    std::string content = co_await opened.read();
    CHECK(content.empty());  // the position is at the end of what was written
    opened.seek(0);
    content = co_await opened.read();
    CHECK(content == "flags");
  }(dir.file("flags")));
}

// --- read_file / write_file -------------------------------------------------------------------

TEST_CASE("write_file then read_file round-trips empty, small and multi-megabyte contents",
          "[file]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{3 * 1024 * 1024 + 17}}) {
      const std::string content = pattern(size, static_cast<unsigned>(size));
      const std::size_t written = co_await eddy::write_file(path, content);
      CHECK(written == size);
      std::string back = co_await eddy::read_file(path);
      CHECK(back.size() == size);
      CHECK(back == content);
      CHECK(get(path) == content);
    }
  }(dir.file("round")));
}

TEST_CASE("read_file reads files whose size statx does not know (/proc)", "[file]") {
  eddy::run([]() -> eddy::coro<void> {
    std::string status = co_await eddy::read_file("/proc/self/status");
    CHECK_THAT(status, Catch::Contains("Pid:"));
  }());
}

TEST_CASE("read_file of a directory throws std::system_error with EISDIR", "[file]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    std::optional<std::system_error> error =
        co_await caught<std::system_error>(eddy::read_file(path));
    REQUIRE(error);
    CHECK(error->code() == std::errc::is_a_directory);
  }(dir.path()));
}

// --- reading and writing ----------------------------------------------------------------------

TEST_CASE("read(n) reads from the position, advances it, and returns empty at the end",
          "[file][read]") {
  temp_dir dir;
  put(dir.file("data"), "hello, files");
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    std::string first = co_await opened.read(5);
    CHECK(first == "hello");
    CHECK(opened.tell() == 5);
    std::string rest = co_await opened.read(1000);
    CHECK(rest == ", files");
    std::string end = co_await opened.read(10);
    CHECK(end.empty());
    CHECK(opened.tell() == 12);
    opened.seek(7);
    std::string again = co_await opened.read();
    CHECK(again == "files");
  }(dir.file("data")));
}

TEST_CASE("read(SIZE_MAX) reads to the end, and a huge count on a small file allocates little",
          "[file][read]") {
  temp_dir dir;
  const std::string content = pattern(200 * 1024 + 3, 7);  // several growth steps
  put(dir.file("data"), content);
  eddy::run([](std::string path, std::string expected) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    opened.seek(3);
    std::string rest = co_await opened.read(SIZE_MAX);
    CHECK(rest.size() == expected.size() - 3);
    CHECK(rest == expected.substr(3));
    CHECK(opened.tell() == expected.size());
    std::string none = co_await opened.read(SIZE_MAX);
    CHECK(none.empty());
    // 1 TiB asked of a 200 KiB file: what comes back is what is there, in a buffer of about
    // its size (the old read(n) committed n bytes first, or threw length_error; std::string
    // may round its capacity up to twice what it holds).
    opened.seek(0);
    std::string all = co_await opened.read(std::size_t{1} << 40);
    CHECK(all == expected);
    CHECK(all.capacity() < 4 * expected.size());
    // Exactly the size: one more read confirms nothing is left, and the count is respected.
    opened.seek(0);
    std::string head = co_await opened.read(100 * 1024);
    CHECK(head == expected.substr(0, 100 * 1024));
  }(dir.file("data"), content));
}

TEST_CASE("read_at reads into the caller's buffer at an offset and leaves the position alone",
          "[file][read]") {
  temp_dir dir;
  const std::string content = pattern(100000);
  put(dir.file("data"), content);
  eddy::run([](std::string path, std::string expected) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    std::array<char, 1000> buffer{};
    std::size_t count = co_await opened.read_at(5000, buffer);
    CHECK(count == buffer.size());
    CHECK(std::string_view(buffer.data(), count) == std::string_view(expected).substr(5000, 1000));
    count = co_await opened.read_at(99500, buffer);
    CHECK(count == 500);  // short at the end
    count = co_await opened.read_at(200000, buffer);
    CHECK(count == 0);  // past the end
    CHECK(opened.tell() == 0);
  }(dir.file("data"), content));
}

TEST_CASE("a hundred concurrent read_at calls on one file each get their own bytes",
          "[file][read]") {
  temp_dir dir;
  const std::string content = pattern(100 * 4096, 7);
  put(dir.file("data"), content);
  eddy::run([](std::string path, std::string expected) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    auto read_block = [](const eddy::file* source, std::size_t block) -> eddy::coro<std::string> {
      std::string block_data(4096, '\0');
      const std::size_t count = co_await source->read_at(block * 4096, std::span(block_data));
      block_data.resize(count);
      co_return block_data;
    };
    std::vector<eddy::task<std::string>> readers;
    for (std::size_t block = 0; block < 100; ++block) {
      readers.push_back(eddy::create_task(read_block(&opened, 99 - block)));
    }
    for (std::size_t i = 0; i < readers.size(); ++i) {
      std::string got = co_await readers[i];
      CHECK(got == expected.substr((99 - i) * 4096, 4096));
    }
  }(dir.file("data"), content));
}

TEST_CASE("write and write_at write everything, at the position or at the offset",
          "[file][write]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path, "w+");
    const std::string big = pattern(2 * 1024 * 1024 + 3, 3);
    const std::size_t written = co_await opened.write(big);
    CHECK(written == big.size());
    CHECK(opened.tell() == big.size());
    const std::size_t patched = co_await opened.write_at(10, "PATCH");
    CHECK(patched == 5);
    CHECK(opened.tell() == big.size());
    const std::uint64_t size = co_await opened.size();
    CHECK(size == big.size());
    co_await opened.fsync();
    co_await opened.fdatasync();
    co_await opened.close();
    std::string expected = big;
    expected.replace(10, 5, "PATCH");
    CHECK(get(path) == expected);
  }(dir.file("written")));
}

TEST_CASE("write_at past the end leaves a hole of zeros and size() reports the new end",
          "[file][write]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path, "w");
    co_await opened.write_at(100, "end");
    const std::uint64_t size = co_await opened.size();
    CHECK(size == 103);
    co_await opened.close();
    CHECK(get(path) == std::string(100, '\0') + "end");
  }(dir.file("hole")));
}

// --- closing and bad input --------------------------------------------------------------------

TEST_CASE("a closed file throws std::system_error with EBADF at once; close is idempotent",
          "[file][close]") {
  temp_dir dir;
  put(dir.file("data"), "x");
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    CHECK(opened.is_open());
    co_await opened.close();
    CHECK_FALSE(opened.is_open());
    co_await opened.close();
    std::array<char, 4> buffer{};
    CHECK_THROWS_MATCHES(opened.read_at(0, buffer), std::system_error,
                         Catch::Predicate<std::system_error>([](const std::system_error& e) {
                           return e.code() == std::errc::bad_file_descriptor;
                         }));
    CHECK_THROWS_AS(opened.read(1), std::system_error);
    CHECK_THROWS_AS(opened.write("x"), std::system_error);
    CHECK_THROWS_AS(opened.size(), std::system_error);
    CHECK_THROWS_AS(opened.fsync(), std::system_error);
    eddy::file never_opened;
    CHECK_THROWS_AS(never_opened.read(), std::system_error);
  }(dir.file("data")));
}

TEST_CASE("offsets above INT64_MAX are rejected at once with std::invalid_argument", "[file]") {
  temp_dir dir;
  put(dir.file("data"), "x");
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    std::array<char, 4> buffer{};
    CHECK_THROWS_AS(opened.read_at(~std::uint64_t{0}, buffer), std::invalid_argument);
    CHECK_THROWS_AS(opened.write_at(~std::uint64_t{0} / 2 + 1, "x"), std::invalid_argument);
    CHECK_THROWS_AS(opened.seek(~std::uint64_t{0}), std::invalid_argument);
    CHECK_THROWS_AS(eddy::file(-1), std::invalid_argument);
  }(dir.file("data")));
}

TEST_CASE("destroying an open file, or moving over one, closes its descriptor", "[file][close]") {
  temp_dir dir;
  put(dir.file("data"), "x");
  const int before = eddy_test::open_descriptor_count();
  eddy::run([](std::string path) -> eddy::coro<void> {
    {
      eddy::file first = co_await eddy::open_file(path);
      eddy::file second = co_await eddy::open_file(path);
      first = std::move(second);  // first's descriptor closes here
      CHECK(first.is_open());
      CHECK_FALSE(second.is_open());  // NOLINT(bugprone-use-after-move): moved-from is closed
    }
    co_return;
  }(dir.file("data")));
  CHECK(eddy_test::open_descriptor_count() == before);
}

// --- non-seekable descriptors -----------------------------------------------------------------

TEST_CASE("a FIFO reads what is there and refuses read_at with ESPIPE", "[file][fifo]") {
  temp_dir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file pipe =
        co_await eddy::open_file(path, "r+");  // O_RDWR: open does not wait for a peer
    co_await pipe.write("through the fifo");
    std::string got = co_await pipe.read(100);
    CHECK(got == "through the fifo");
    std::array<char, 4> buffer{};
    std::optional<std::system_error> error;
    try {
      (void)pipe.read_at(0, buffer);
    } catch (const std::system_error& e) {
      error = e;
    }
    REQUIRE(error);
    CHECK(error->code().value() == ESPIPE);
  }(fifo));
}

// --- cancellation ---------------------------------------------------------------------------

TEST_CASE("a file read cancelled mid-flight throws cancelled_error and loses no data",
          "[file][cancel]") {
  // A read on an empty FIFO stays in flight. On io_uring the kernel cancels it at once; on the
  // thread pool the worker's read cannot be interrupted, so the task resumes when data
  // arrives, gets it, and sees the cancellation at its next await. Either way the bytes are
  // in one place: delivered to the reader, or still in the FIFO.
  temp_dir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file pipe = co_await eddy::open_file(path, "r+");
    auto reader = [](eddy::file* source, std::string* got) -> eddy::coro<void> {
      *got = co_await source->read(100);
      co_await eddy::sleep(0s);  // a cancellation that came too late for the read lands here
      *got += " (and no cancellation)";
    };
    auto got = std::make_shared<std::string>();
    eddy::task<void> reading = eddy::create_task(reader(&pipe, got.get()));
    co_await eddy::sleep(20ms);
    CHECK_FALSE(reading.done());
    reading.cancel("stop reading");
    // Unblocks the worker on the thread-pool route; on io_uring the read is already cancelled.
    const int writer = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(::write(writer, "payload", 7) == 7);
    ::close(writer);
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(reading);
    CHECK(error);
    CHECK(reading.cancelled());
    if (got->empty()) {
      std::string left = co_await pipe.read(100);  // the cancel won: the data is in the FIFO
      CHECK(left == "payload");
    } else {
      CHECK(*got == "payload");  // the read won: delivered, then cancelled at the next await
    }
  }(fifo));
}

TEST_CASE("on io_uring a blocked file read is cancelled promptly", "[file][cancel]") {
  temp_dir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  eddy::run([](std::string path) -> eddy::coro<void> {
    if (!eddy::get_running_loop().native_file_ops()) {
      co_return;  // the thread-pool route waits for the worker (previous test)
    }
    eddy::file pipe = co_await eddy::open_file(path, "r+");
    auto reader = [](eddy::file* source) -> eddy::coro<std::string> {
      co_return co_await source->read(10);
    };
    eddy::task<std::string> reading = eddy::create_task(reader(&pipe));
    co_await eddy::sleep(10ms);
    reading.cancel();
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(reading);
    CHECK(error);
  }(fifo));
}

TEST_CASE("regular-file reads cancelled right after they start never write into freed buffers",
          "[file][cancel]") {
  // Each reader's buffer is in its own frame. Whether the cancel or the read wins, the frame
  // is only freed after the read has finished with it (ASan would see a late write).
  temp_dir dir;
  put(dir.file("data"), pattern(64 * 65536, 5));
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    auto reader = [](const eddy::file* source, std::uint64_t offset) -> eddy::coro<std::size_t> {
      std::array<std::byte, 65536> buffer{};
      std::size_t total = 0;
      for (int round = 0; round < 4; ++round) {
        total += co_await source->read_at(offset, buffer);
      }
      co_return total;
    };
    std::vector<eddy::task<std::size_t>> readers;
    for (std::uint64_t i = 0; i < 64; ++i) {
      readers.push_back(eddy::create_task(reader(&opened, i * 65536)));
    }
    co_await eddy::sleep(0s);  // every reader has issued its first read
    for (eddy::task<std::size_t>& each : readers) {
      each.cancel();
    }
    for (eddy::task<std::size_t>& each : readers) {
      std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(each);
      CHECK(error);
    }
  }(dir.file("data")));
}

TEST_CASE("a cancelled read(n) does not move the position", "[file][cancel]") {
  temp_dir dir;
  put(dir.file("data"), pattern(1 << 20, 9));
  eddy::run([](std::string path) -> eddy::coro<void> {
    eddy::file opened = co_await eddy::open_file(path);
    auto reader = [](eddy::file* source) -> eddy::coro<std::string> {
      co_return co_await source->read(1 << 20);
    };
    eddy::task<std::string> reading = eddy::create_task(reader(&opened));
    co_await eddy::sleep(0s);
    reading.cancel();
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(reading);
    if (error) {
      CHECK(opened.tell() == 0);
    } else {
      CHECK(opened.tell() == (1U << 20));  // finished before the cancel reached it
    }
  }(dir.file("data")));
}

TEST_CASE("cancelled opens and closes leak no descriptor", "[file][cancel]") {
  temp_dir dir;
  put(dir.file("data"), "x");
  const int before = eddy_test::open_descriptor_count();
  eddy::run([](std::string path) -> eddy::coro<void> {
    auto open_and_close = [](std::string name) -> eddy::coro<void> {
      eddy::file opened = co_await eddy::open_file(std::move(name));
      co_await opened.close();
    };
    for (int delay_steps = 0; delay_steps < 4; ++delay_steps) {
      std::vector<eddy::task<void>> openers;
      for (int i = 0; i < 20; ++i) {
        openers.push_back(eddy::create_task(open_and_close(path)));
      }
      for (int step = 0; step < delay_steps; ++step) {
        co_await eddy::sleep(0s);
      }
      for (eddy::task<void>& each : openers) {
        each.cancel();
      }
      for (eddy::task<void>& each : openers) {
        (void)co_await caught<eddy::cancelled_error>(each);
      }
    }
  }(dir.file("data")));
  CHECK(eddy_test::open_descriptor_count() == before);
}

TEST_CASE("a cancellation pending before a file operation starts nothing", "[file][cancel]") {
  temp_dir dir;
  eddy::run([](std::string path) -> eddy::coro<void> {
    auto writer = [](std::string name) -> eddy::coro<void> {
      co_await eddy::write_file(std::move(name), "should not appear");
    };
    eddy::task<void> writing = eddy::create_task(writer(path));
    writing.cancel();  // before it ever ran
    std::optional<eddy::cancelled_error> error = co_await caught<eddy::cancelled_error>(writing);
    CHECK(error);
    CHECK(::access(path.c_str(), F_OK) != 0);
  }(dir.file("never")));
}

TEST_CASE("a loop closed with a file operation on the thread pool waits for it", "[file][cancel]") {
  // A task blocked in a FIFO read is destroyed by close() (it never finishes). On the thread
  // pool the worker is writing into its frame: the frame goes only after the worker is done.
  temp_dir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int keep_open = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(keep_open >= 0);
  {
    eddy::event_loop loop;
    eddy_test::error_log errors;
    errors.attach(loop);
    auto reader = [](std::string path) -> eddy::coro<void> {
      eddy::file pipe = co_await eddy::open_file(std::move(path), "r+");
      std::string got = co_await pipe.read(10);
    };
    eddy::task<void> reading = loop.create_task(reader(fifo));
    auto settle = []() -> eddy::coro<void> { co_await eddy::sleep(20ms); };
    loop.run_until_complete(settle());
    REQUIRE_FALSE(reading.done());
    // Feed the FIFO shortly, from another thread, so a waiting close() can finish.
    std::thread feeder([keep_open] {
      std::this_thread::sleep_for(50ms);
      (void)::write(keep_open, "late", 4);
    });
    loop.close();
    feeder.join();
    CHECK(errors.count("Task was destroyed but it is pending!") == 1);
  }
  ::close(keep_open);
}
