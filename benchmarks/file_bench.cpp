// eddy_file_bench: the file workloads of WORKLOADS.md ("File workloads"), and two floors to
// compare them with on the same machine.
//
//   eddy_file_bench --create PATH [--size BYTES]   write the splitmix64 file (default 1 GiB)
//   eddy_file_bench WORKLOAD PATH [--impl IMPL]     seq64k | seq4k | rand4k
//   eddy_file_bench --smoke PATH                    small file, every workload, self-checked
//
// IMPL: eddy (default: eddy::file::read_at on the loop's backend), liburing (a raw io_uring
// loop, one read in flight per reader), pread (a blocking pread loop). Prints one line:
//   impl=.. backend=.. workload=.. bytes=.. reads=.. seconds=.. MBps=.. iops=.. checksum=0x..
// Read the file once with `cat PATH > /dev/null` first, so that it is in the page cache.
#include <liburing.h>
#include <eddy/eddy.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t block = 4096;
constexpr std::uint64_t default_size = std::uint64_t{1} << 30;
constexpr std::size_t rand_readers = 16;
constexpr std::size_t rand_reads_each = 6250;

struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

/// Wrapping sum of the first little-endian u64 of every 4,096-byte block in data.
std::uint64_t block_checksum(const std::byte* data, std::size_t count) noexcept {
  std::uint64_t sum = 0;
  for (std::size_t at = 0; at + sizeof(std::uint64_t) <= count; at += block) {
    std::uint64_t first = 0;
    std::memcpy(&first, data + at, sizeof first);
    sum += first;
  }
  return sum;
}

struct measurement {
  std::uint64_t bytes = 0;
  std::uint64_t reads = 0;
  double seconds = 0;
  std::uint64_t checksum = 0;
};

/// Reader r's offsets: 4096 * (splitmix64 from state r) % blocks-in-file.
std::vector<std::vector<std::uint64_t>> random_offsets(std::uint64_t file_size) {
  const std::uint64_t blocks = file_size / block;
  std::vector<std::vector<std::uint64_t>> offsets(rand_readers);
  for (std::size_t r = 0; r < rand_readers; ++r) {
    splitmix64 generator{r};
    offsets[r].reserve(rand_reads_each);
    for (std::size_t k = 0; k < rand_reads_each; ++k) {
      offsets[r].push_back(block * (generator.next() % blocks));
    }
  }
  return offsets;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::uint64_t file_size_of(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  ::close(fd);
  return static_cast<std::uint64_t>(size);
}

// --- eddy -----------------------------------------------------------------------------------

eddy::coro<measurement> eddy_sequential(std::string path, std::size_t chunk) {
  eddy::file input = co_await eddy::open_file(path);
  std::vector<std::byte> buffer(chunk);
  measurement result;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t offset = 0;
  while (true) {
    const std::size_t count = co_await input.read_at(offset, buffer);
    if (count == 0) break;
    result.checksum += block_checksum(buffer.data(), count);
    offset += count;
    ++result.reads;
  }
  result.seconds = seconds_since(start);
  result.bytes = offset;
  co_return result;
}

eddy::coro<std::uint64_t> eddy_random_reader(const eddy::file* input,
                                             const std::vector<std::uint64_t>* offsets) {
  std::array<std::byte, block> buffer{};
  std::uint64_t checksum = 0;
  for (const std::uint64_t offset : *offsets) {
    const std::size_t count = co_await input->read_at(offset, buffer);
    checksum += block_checksum(buffer.data(), count);
  }
  co_return checksum;
}

eddy::coro<measurement> eddy_random(std::string path) {
  eddy::file input = co_await eddy::open_file(path);
  const std::vector<std::vector<std::uint64_t>> offsets = random_offsets(file_size_of(path));
  measurement result;
  const auto start = std::chrono::steady_clock::now();
  std::vector<eddy::task<std::uint64_t>> readers;
  for (std::size_t r = 0; r < rand_readers; ++r) {
    readers.push_back(eddy::create_task(eddy_random_reader(&input, &offsets[r])));
  }
  for (eddy::task<std::uint64_t>& reader : readers) {
    result.checksum += co_await reader;
  }
  result.seconds = seconds_since(start);
  result.reads = rand_readers * rand_reads_each;
  result.bytes = result.reads * block;
  co_return result;
}

// --- raw liburing (the floor eddy is compared with) ------------------------------------------

struct raw_ring {
  io_uring ring{};
  raw_ring() {
    if (io_uring_queue_init(64, &ring, 0) < 0) throw std::runtime_error("io_uring_queue_init");
  }
  ~raw_ring() { io_uring_queue_exit(&ring); }
  void read(int fd, void* into, unsigned length, std::uint64_t offset, std::uint64_t tag) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_read(sqe, fd, into, length, offset);
    io_uring_sqe_set_data64(sqe, tag);
  }
};

measurement liburing_sequential(const std::string& path, std::size_t chunk) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  raw_ring ring;
  std::vector<std::byte> buffer(chunk);
  measurement result;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t offset = 0;
  while (true) {
    ring.read(fd, buffer.data(), static_cast<unsigned>(chunk), offset, 0);
    io_uring_submit_and_wait(&ring.ring, 1);
    io_uring_cqe* cqe = nullptr;
    io_uring_peek_cqe(&ring.ring, &cqe);
    const int count = cqe->res;
    io_uring_cqe_seen(&ring.ring, cqe);
    if (count <= 0) break;
    result.checksum += block_checksum(buffer.data(), static_cast<std::size_t>(count));
    offset += static_cast<std::uint64_t>(count);
    ++result.reads;
  }
  result.seconds = seconds_since(start);
  result.bytes = offset;
  ::close(fd);
  return result;
}

measurement liburing_random(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const auto offsets = random_offsets(file_size_of(path));
  raw_ring ring;
  std::vector<std::array<std::byte, block>> buffers(rand_readers);
  std::vector<std::size_t> next(rand_readers, 0);
  measurement result;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t r = 0; r < rand_readers; ++r) {
    ring.read(fd, buffers[r].data(), block, offsets[r][next[r]++], r);
  }
  std::size_t outstanding = rand_readers;
  while (outstanding > 0) {
    io_uring_submit_and_wait(&ring.ring, 1);
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring.ring, head, cqe) {
      const auto r = static_cast<std::size_t>(cqe->user_data);
      result.checksum += block_checksum(buffers[r].data(), static_cast<std::size_t>(cqe->res));
      if (next[r] < rand_reads_each) {
        ring.read(fd, buffers[r].data(), block, offsets[r][next[r]++], r);
      } else {
        --outstanding;
      }
      ++seen;
    }
    io_uring_cq_advance(&ring.ring, seen);
  }
  result.seconds = seconds_since(start);
  result.reads = rand_readers * rand_reads_each;
  result.bytes = result.reads * block;
  ::close(fd);
  return result;
}

// --- blocking pread -------------------------------------------------------------------------

measurement pread_sequential(const std::string& path, std::size_t chunk) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<std::byte> buffer(chunk);
  measurement result;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t offset = 0;
  ssize_t count = 0;
  while ((count = ::pread(fd, buffer.data(), chunk, static_cast<off_t>(offset))) > 0) {
    result.checksum += block_checksum(buffer.data(), static_cast<std::size_t>(count));
    offset += static_cast<std::uint64_t>(count);
    ++result.reads;
  }
  result.seconds = seconds_since(start);
  result.bytes = offset;
  ::close(fd);
  return result;
}

measurement pread_random(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const auto offsets = random_offsets(file_size_of(path));
  std::array<std::byte, block> buffer{};
  measurement result;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < rand_reads_each; ++k) {
    for (std::size_t r = 0; r < rand_readers; ++r) {
      const ssize_t count = ::pread(fd, buffer.data(), block, static_cast<off_t>(offsets[r][k]));
      result.checksum += block_checksum(buffer.data(), static_cast<std::size_t>(count));
    }
  }
  result.seconds = seconds_since(start);
  result.reads = rand_readers * rand_reads_each;
  result.bytes = result.reads * block;
  ::close(fd);
  return result;
}

// --- driver ---------------------------------------------------------------------------------

void create_file(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  splitmix64 generator{0x5EED5EED5EED5EEDULL};
  std::vector<std::uint64_t> chunk(1 << 17);  // 1 MiB
  for (std::uint64_t written = 0; written < size;) {
    for (std::uint64_t& word : chunk) word = generator.next();  // little-endian host
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size() * 8, size - written));
    if (::write(fd, chunk.data(), want) != static_cast<ssize_t>(want)) {
      throw std::runtime_error("short write to " + path);
    }
    written += want;
  }
  ::close(fd);
}

measurement run_workload(const std::string& workload, const std::string& path,
                         const std::string& impl) {
  if (workload != "seq64k" && workload != "seq4k" && workload != "rand4k") {
    throw std::invalid_argument("unknown workload '" + workload + "' (seq64k, seq4k, rand4k)");
  }
  const std::size_t chunk = workload == "seq64k" ? 65536 : block;
  const bool random = workload == "rand4k";
  if (impl == "eddy") {
    return random ? eddy::run(eddy_random(path)) : eddy::run(eddy_sequential(path, chunk));
  }
  if (impl == "liburing") return random ? liburing_random(path) : liburing_sequential(path, chunk);
  if (impl == "pread") return random ? pread_random(path) : pread_sequential(path, chunk);
  throw std::invalid_argument("unknown impl '" + impl + "' (eddy, liburing, pread)");
}

std::string backend_of(const std::string& impl) {
  if (impl != "eddy") return impl == "liburing" ? "uring" : "none";
  return eddy::run([]() -> eddy::coro<std::string> {
    eddy::event_loop& loop = eddy::get_running_loop();
    std::string name(loop.backend_name());
    if (!loop.native_file_ops()) name += "+threads";
    co_return name;
  }());
}

void print(const std::string& impl, const std::string& workload, const measurement& m) {
  std::printf("impl=%s backend=%s workload=%s bytes=%" PRIu64 " reads=%" PRIu64
              " seconds=%.6f MBps=%.1f iops=%.0f checksum=0x%016" PRIx64 "\n",
              impl.c_str(), backend_of(impl).c_str(), workload.c_str(), m.bytes, m.reads, m.seconds,
              static_cast<double>(m.bytes) / 1e6 / m.seconds,
              static_cast<double>(m.reads) / m.seconds, m.checksum);
  std::fflush(stdout);
}

/// Every workload with every impl on a small file; the checksums must agree.
int smoke(const std::string& path) {
  create_file(path, 4 << 20);
  int failures = 0;
  for (const char* workload : {"seq64k", "seq4k", "rand4k"}) {
    const measurement floor = run_workload(workload, path, "pread");
    for (const char* impl : {"eddy", "liburing"}) {
      const measurement m = run_workload(workload, path, impl);
      print(impl, workload, m);
      if (m.checksum != floor.checksum || m.bytes != floor.bytes) {
        std::fprintf(stderr, "FAIL: %s %s checksum 0x%016" PRIx64 ", pread says 0x%016" PRIx64 "\n",
                     impl, workload, m.checksum, floor.checksum);
        ++failures;
      }
    }
  }
  ::unlink(path.c_str());
  return failures == 0 ? 0 : 1;
}

int usage() {
  std::fprintf(stderr,
               "usage: eddy_file_bench --create PATH [--size BYTES]\n"
               "       eddy_file_bench seq64k|seq4k|rand4k PATH [--impl eddy|liburing|pread]\n"
               "       eddy_file_bench --smoke PATH\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() >= 2 && args[0] == "--create") {
      std::uint64_t size = default_size;
      if (args.size() == 4 && args[2] == "--size") size = std::stoull(args[3]);
      create_file(args[1], size);
      return 0;
    }
    if (args.size() == 2 && args[0] == "--smoke") return smoke(args[1]);
    if (args.size() == 2 || (args.size() == 4 && args[2] == "--impl")) {
      const std::string impl = args.size() == 4 ? args[3] : "eddy";
      print(impl, args[0], run_workload(args[0], args[1], impl));
      return 0;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "eddy_file_bench: %s\n", error.what());
    return 1;
  }
  return usage();
}
