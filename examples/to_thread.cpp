// to_thread: blocking calls on a thread pool while the loop keeps running (asyncio.to_thread).
//
// A ticker prints every 100 ms. Meanwhile two blocking calls run on the loop's default
// executor: a 500 ms std::this_thread::sleep_for and a plain blocking read of a 4 MiB file.
// Neither stops the ticks. Takes about one second. Expected output (tick counts may shift by
// one on a busy machine):
//   tick 1
//   ...
//   blocking sleep: done after 500 ms
//   blocking read: 4194304 bytes
//   tick 5 ... tick 10
//   the loop ticked 10 times; the blocking calls ran on worker threads
#include <eddy/eddy.hpp>
#include <eddy/thread.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

eddy::coro<int> ticker(int times) {
  for (int i = 1; i <= times; ++i) {
    co_await eddy::sleep(100ms);
    std::printf("tick %d\n", i);
  }
  co_return times;
}

// Plain blocking functions, written without any knowledge of eddy.
std::thread::id blocking_sleep(std::chrono::milliseconds duration) {
  std::this_thread::sleep_for(duration);
  std::printf("blocking sleep: done after %lld ms\n", static_cast<long long>(duration.count()));
  return std::this_thread::get_id();
}

std::size_t blocking_read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + path);
  }
  std::vector<char> buffer(1 << 16);
  std::size_t total = 0;
  ssize_t count = 0;
  while ((count = ::read(fd, buffer.data(), buffer.size())) > 0) {
    total += static_cast<std::size_t>(count);
  }
  ::close(fd);
  return total;
}

std::string make_file(std::size_t size) {
  char path[] = "/tmp/eddy-to_thread-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) {
    throw std::runtime_error("mkstemp failed");
  }
  std::vector<char> chunk(size, 'x');
  bool written = ::write(fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size());
  ::close(fd);
  if (!written) {
    throw std::runtime_error("cannot write the sample file");
  }
  return path;
}

eddy::coro<int> main_task() {
  const std::string path = make_file(4 << 20);
  eddy::task<int> ticks = eddy::create_task(ticker(10));

  // The arguments are copied into each call; `path` is passed by value, so the call does not
  // depend on this frame. Both calls run at once, on two workers of the default executor.
  auto [slept_on, bytes] = co_await eddy::gather(eddy::to_thread(blocking_sleep, 500ms),
                                                 eddy::to_thread(blocking_read, path));
  std::printf("blocking read: %zu bytes\n", bytes);

  int ticked = co_await ticks;
  ::unlink(path.c_str());
  const bool elsewhere = slept_on != std::this_thread::get_id();
  std::printf("the loop ticked %d times; the blocking calls ran on %s\n", ticked,
              elsewhere ? "worker threads" : "the loop thread (wrong!)");
  co_return (elsewhere && bytes == (4u << 20)) ? 0 : 1;
}

int main() { return eddy::run(main_task()); }
