// The backend interface (src/backend/backend.hpp), driven directly on io_uring and on epoll
// with real sockets, pipes and files. Every TEST_CASE runs once per backend.
#include "backend/backend.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace eddy::detail;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// Creates the backend GENERATE picked, so one TEST_CASE body covers both.
std::unique_ptr<backend> make_named_backend(const std::string& name) {
  return name == "uring" ? make_uring_backend() : make_epoll_backend();
}

#define EACH_BACKEND(variable)                                                    \
  const std::string backend_name = GENERATE(as<std::string>{}, "uring", "epoll"); \
  INFO("backend: " << backend_name);                                              \
  std::unique_ptr<backend> variable = make_named_backend(backend_name)

/// Closes a descriptor on scope exit.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) { REQUIRE(fd >= 0); }
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~unique_fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct fd_pair {
  unique_fd first;
  unique_fd second;
};

fd_pair make_socketpair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

/// first = read end, second = write end.
fd_pair make_pipe() {
  int fds[2];
  REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

unique_fd make_tcp_socket() {
  return unique_fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

sockaddr_in loopback_address(std::uint16_t port_in_network_order) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = port_in_network_order;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

/// A TCP socket bound to 127.0.0.1 on a port the kernel picked; listening if asked.
std::pair<unique_fd, sockaddr_in> make_bound_tcp_socket(bool listening) {
  unique_fd socket = make_tcp_socket();
  sockaddr_in address = loopback_address(0);
  REQUIRE(::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  if (listening) REQUIRE(::listen(socket.get(), 16) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return {std::move(socket), address};
}

void write_all(int fd, std::string_view text) {
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
}

/// An io_op that counts its on_complete calls and remembers whether submit() finished it.
struct tracked_op : io_op {
  int completions = 0;
  bool finished_at_once = false;

  tracked_op() {
    on_complete = [](io_op& op) noexcept { ++static_cast<tracked_op&>(op).completions; };
  }

  [[nodiscard]] bool finished() const noexcept { return finished_at_once || completions > 0; }
};

/// submit(), remembering an immediate completion.
bool start(backend& backend, tracked_op& op) {
  op.finished_at_once = backend.submit(op);
  return op.finished_at_once;
}

/// Polls (10 ms at a time) until done() or the limit; never hangs.
template <typename Done>
void poll_until(backend& backend, Done done, std::chrono::milliseconds limit = 3s) {
  const auto deadline = clock_type::now() + limit;
  while (!done() && clock_type::now() < deadline) backend.poll(10ms);
  REQUIRE(done());
}

void finish(backend& backend, tracked_op& op) {
  poll_until(backend, [&] { return op.finished(); });
  CHECK(op.completions == (op.finished_at_once ? 0 : 1));
}

/// Aborts the test binary if not disarmed in time: a poll(-1) that never returns would
/// otherwise hang the suite.
class watchdog {
 public:
  explicit watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!changed_.wait_for(lock, limit, [this] { return disarmed_; })) {
            std::fputs("watchdog: poll(-1) did not return\n", stderr);
            std::abort();
          }
        }) {}
  ~watchdog() {
    {
      const std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    changed_.notify_one();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace

TEST_CASE("make_backend picks io_uring when it can and epoll when asked") {
  CHECK(make_backend(backend_kind::automatic)->name() == "uring");
  CHECK(make_backend(backend_kind::uring)->name() == "uring");
  CHECK(make_backend(backend_kind::epoll)->name() == "epoll");
}

TEST_CASE("nop completes with 0") {
  EACH_BACKEND(backend);
  tracked_op op;
  op.result = -1;
  start(*backend, op);
  finish(*backend, op);
  CHECK(op.result == 0);
  CHECK(backend->in_flight() == 0);
}

TEST_CASE("recv waits in flight until the peer writes, then completes through poll") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  char buffer[16] = {};
  tracked_op op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = buffer;
  op.length = sizeof buffer;

  REQUIRE_FALSE(start(*backend, op));
  CHECK(backend->in_flight() == 1);
  backend->poll(0ns);
  backend->poll(5ms);
  CHECK(op.completions == 0);

  write_all(peer.get(), "hello");
  finish(*backend, op);
  CHECK(op.result == 5);
  CHECK(std::string_view(buffer, 5) == "hello");
  CHECK(backend->in_flight() == 0);
}

TEST_CASE("send delivers the bytes, and sending to a closed peer is -EPIPE without SIGPIPE") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  char message[] = "ping";
  tracked_op op;
  op.opcode = io_opcode::send;
  op.fd = ours.get();
  op.buffer = message;
  op.length = 4;
  start(*backend, op);
  finish(*backend, op);
  CHECK(op.result == 4);
  char received[8] = {};
  CHECK(::recv(peer.get(), received, sizeof received, 0) == 4);
  CHECK(std::string_view(received, 4) == "ping");

  peer.reset();
  tracked_op broken;
  broken.opcode = io_opcode::send;
  broken.fd = ours.get();
  broken.buffer = message;
  broken.length = 4;
  start(*backend, broken);
  finish(*backend, broken);  // a SIGPIPE would have killed the test binary
  CHECK(broken.result == -EPIPE);
}

TEST_CASE("accept and connect meet on TCP loopback") {
  EACH_BACKEND(backend);
  auto [listener, listening_address] = make_bound_tcp_socket(true);
  sockaddr_in peer_address{};
  tracked_op accepting;
  accepting.opcode = io_opcode::accept;
  accepting.fd = listener.get();
  accepting.address = reinterpret_cast<sockaddr*>(&peer_address);
  accepting.address_length = sizeof peer_address;
  accepting.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  REQUIRE_FALSE(start(*backend, accepting));  // nobody is connecting yet

  unique_fd client = make_tcp_socket();
  tracked_op connecting;
  connecting.opcode = io_opcode::connect;
  connecting.fd = client.get();
  connecting.address = reinterpret_cast<sockaddr*>(&listening_address);
  connecting.address_length = sizeof listening_address;
  start(*backend, connecting);

  // Loopback connects still answer EINPROGRESS: epoll has to wait for writability here.
  if (backend_name == "epoll") CHECK_FALSE(connecting.finished_at_once);

  poll_until(*backend, [&] { return accepting.finished() && connecting.finished(); });
  CHECK(connecting.result == 0);
  REQUIRE(accepting.result >= 0);
  const unique_fd accepted(static_cast<int>(accepting.result));
  CHECK(accepting.address_length == sizeof peer_address);
  CHECK(peer_address.sin_family == AF_INET);
  CHECK(peer_address.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  CHECK((::fcntl(accepted.get(), F_GETFL) & O_NONBLOCK) != 0);  // op.flags were applied
  CHECK(backend->in_flight() == 0);
}

TEST_CASE("poll for POLLIN completes with the ready events once data arrives") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  tracked_op op;
  op.opcode = io_opcode::poll;
  op.fd = ours.get();
  op.flags = POLLIN;
  REQUIRE_FALSE(start(*backend, op));
  backend->poll(5ms);
  CHECK(op.completions == 0);

  write_all(peer.get(), "x");
  finish(*backend, op);
  CHECK((op.result & POLLIN) != 0);
  CHECK((op.result & POLLOUT) == 0);  // not asked for

  tracked_op writable;  // already true: may complete at once (epoll) or through poll (uring)
  writable.opcode = io_opcode::poll;
  writable.fd = ours.get();
  writable.flags = POLLOUT;
  start(*backend, writable);
  finish(*backend, writable);
  CHECK((writable.result & POLLOUT) != 0);
}

TEST_CASE("read waits on an empty pipe and write fills it") {
  EACH_BACKEND(backend);
  auto [read_end, write_end] = make_pipe();
  char buffer[16] = {};
  tracked_op reading;
  reading.opcode = io_opcode::read;
  reading.fd = read_end.get();
  reading.buffer = buffer;
  reading.length = sizeof buffer;
  REQUIRE_FALSE(start(*backend, reading));

  char message[] = "through the pipe";
  tracked_op writing;
  writing.opcode = io_opcode::write;
  writing.fd = write_end.get();
  writing.buffer = message;
  writing.length = 16;
  start(*backend, writing);

  poll_until(*backend, [&] { return reading.finished() && writing.finished(); });
  CHECK(writing.result == 16);
  CHECK(reading.result == 16);
  CHECK(std::string_view(buffer, 16) == "through the pipe");
}

TEST_CASE("read and write on a regular file honour offsets and the file position") {
  EACH_BACKEND(backend);
  char path[] = "/tmp/eddy_backend_test_XXXXXX";
  const unique_fd file(::mkstemp(path));
  ::unlink(path);

  char at_position[] = "abc";
  tracked_op first;
  first.opcode = io_opcode::write;
  first.fd = file.get();
  first.buffer = at_position;
  first.length = 3;  // offset stays no_offset: writes at the position, which moves to 3
  start(*backend, first);
  finish(*backend, first);
  REQUIRE(first.result == 3);

  char at_offset[] = "xyz";
  tracked_op second;
  second.opcode = io_opcode::write;
  second.fd = file.get();
  second.buffer = at_offset;
  second.length = 3;
  second.offset = 100;
  start(*backend, second);
  finish(*backend, second);
  REQUIRE(second.result == 3);

  char buffer[8] = {};
  tracked_op reading;
  reading.opcode = io_opcode::read;
  reading.fd = file.get();
  reading.buffer = buffer;
  reading.length = sizeof buffer;
  reading.offset = 99;
  start(*backend, reading);
  finish(*backend, reading);
  CHECK(reading.result == 4);  // the hole's zero byte, then "xyz", then end of file
  CHECK(std::string_view(buffer, 4) == std::string_view("\0xyz", 4));

  tracked_op from_position;  // the positioned write moved the position to 3, pwrite did not
  from_position.opcode = io_opcode::read;
  from_position.fd = file.get();
  from_position.buffer = buffer;
  from_position.length = 2;
  start(*backend, from_position);
  finish(*backend, from_position);
  CHECK(from_position.result == 2);
  CHECK(::lseek(file.get(), 0, SEEK_CUR) == 5);
}

TEST_CASE("cancelling a pending recv completes it with -ECANCELED and consumes nothing") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  char buffer[16] = {};
  tracked_op op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = buffer;
  op.length = sizeof buffer;
  REQUIRE_FALSE(start(*backend, op));

  backend->cancel(op);
  backend->cancel(op);         // twice is harmless
  CHECK(op.completions == 0);  // never from inside cancel()
  finish(*backend, op);
  CHECK(op.result == -ECANCELED);
  CHECK(backend->in_flight() == 0);

  write_all(peer.get(), "late");
  backend->poll(10ms);
  char received[8] = {};
  CHECK(::recv(ours.get(), received, sizeof received, 0) == 4);
  CHECK(std::string_view(received, 4) == "late");
  CHECK(op.completions == 1);
}

TEST_CASE("cancel after completion is harmless and keeps the real result") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  char buffer[16] = {};
  tracked_op op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = buffer;
  op.length = sizeof buffer;
  REQUIRE_FALSE(start(*backend, op));
  write_all(peer.get(), "data");
  finish(*backend, op);
  backend->cancel(op);
  backend->poll(5ms);
  CHECK(op.result == 4);
  CHECK(op.completions == 1);
}

TEST_CASE("cancel_all completes every pending op so that in_flight drops to zero") {
  EACH_BACKEND(backend);
  auto [listener, address] = make_bound_tcp_socket(true);
  fd_pair pairs[3] = {make_socketpair(), make_socketpair(), make_socketpair()};
  char buffers[3][8] = {};
  tracked_op ops[5];
  for (int i = 0; i < 3; ++i) {
    ops[i].opcode = io_opcode::recv;
    ops[i].fd = pairs[i].first.get();
    ops[i].buffer = buffers[i];
    ops[i].length = sizeof buffers[i];
  }
  ops[3].opcode = io_opcode::accept;
  ops[3].fd = listener.get();
  ops[4].opcode = io_opcode::poll;
  ops[4].fd = pairs[0].first.get();
  ops[4].flags = POLLIN;
  for (tracked_op& op : ops) REQUIRE_FALSE(start(*backend, op));
  backend->poll(0ns);
  CHECK(backend->in_flight() == 5);

  backend->cancel_all();
  poll_until(*backend, [&] { return backend->in_flight() == 0; }, 1s);
  for (const tracked_op& op : ops) {
    CHECK(op.completions == 1);
    CHECK(op.result == -ECANCELED);
  }
}

TEST_CASE("on_complete may submit the next operation") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  // Receives one byte at a time, resubmitting itself from on_complete until it has three.
  struct chained_recv : io_op {
    eddy::detail::backend* owner = nullptr;
    std::string received;
    char byte = 0;
  } op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = &op.byte;
  op.length = 1;
  op.owner = backend.get();
  op.on_complete = [](io_op& base) noexcept {
    auto& self = static_cast<chained_recv&>(base);
    while (self.result == 1) {
      self.received += self.byte;
      if (self.received.size() == 3 || !self.owner->submit(self)) return;
    }
  };
  REQUIRE_FALSE(backend->submit(op));
  write_all(peer.get(), "ab");
  poll_until(*backend, [&] { return op.received.size() == 2; });
  write_all(peer.get(), "c");
  poll_until(*backend, [&] { return op.received.size() == 3; });
  CHECK(op.received == "abc");
  CHECK(backend->in_flight() == 0);
}

TEST_CASE("a descriptor number closed and reused after a cancel works afresh") {
  EACH_BACKEND(backend);
  auto pair = make_socketpair();
  const int number = pair.first.get();
  char buffer[8] = {};
  tracked_op first;
  first.opcode = io_opcode::recv;
  first.fd = number;
  first.buffer = buffer;
  first.length = sizeof buffer;
  REQUIRE_FALSE(start(*backend, first));
  backend->cancel(first);
  finish(*backend, first);
  pair = fd_pair{};  // closes both

  auto reused = make_socketpair();
  REQUIRE(reused.first.get() == number);  // lowest free number
  tracked_op second;
  second.opcode = io_opcode::recv;
  second.fd = reused.first.get();
  second.buffer = buffer;
  second.length = sizeof buffer;
  REQUIRE_FALSE(start(*backend, second));
  write_all(reused.second.get(), "new");
  finish(*backend, second);
  CHECK(second.result == 3);
}

// A blocking wait may return early with EINTR, which the backends report as an ordinary return
// (the loop just polls again). Task work that io_uring queues when a ring is torn down can
// cause such an EINTR in the next wait on the same thread, so the timing tests below allow one.

TEST_CASE("wake from another thread unblocks poll(-1)") {
  EACH_BACKEND(backend);
  const watchdog guard(10s);
  backend->poll(0ns);  // io_uring: get the wake read into the kernel first
  std::atomic<bool> woken{false};
  const auto started = clock_type::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(30ms);
    woken = true;
    backend->wake();
  });
  int polls = 0;
  while (!woken) {
    backend->poll(-1ns);
    ++polls;
  }
  const auto waited = clock_type::now() - started;
  waker.join();
  CHECK(polls <= 2);  // it blocked: a poll(-1) that returned at once would have spun
  CHECK(waited < 2s);

  // A wake-up that comes before the poll is not lost, and several make poll return once.
  backend->wake();
  backend->wake();
  backend->poll(-1ns);
  int long_waits = 0;
  for (int round = 0; round < 3; ++round) {
    const auto again = clock_type::now();
    backend->poll(20ms);
    if (clock_type::now() - again >= 19ms) ++long_waits;
  }
  CHECK(long_waits >= 2);
}

TEST_CASE("poll(0) with nothing pending returns at once") {
  EACH_BACKEND(backend);
  backend->poll(0ns);
  const auto started = clock_type::now();
  for (int i = 0; i < 10000; ++i) backend->poll(0ns);
  CHECK(clock_type::now() - started < 100ms);
  CHECK(backend->in_flight() == 0);
}

TEST_CASE("a loop that only ever polls with timeout 0 still sees completions") {
  // io_uring with COOP_TASKRUN leaves completions as task work until we enter the kernel;
  // poll(0) must notice (IORING_SQ_TASKRUN) and collect them, or a busy loop starves its I/O.
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  char buffer[8] = {};
  tracked_op op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = buffer;
  op.length = sizeof buffer;
  REQUIRE_FALSE(start(*backend, op));
  backend->poll(0ns);  // submitted
  // Written from another thread: a write from this one would run the task work on its way
  // back from the kernel, hiding the case under test.
  std::thread writer([fd = peer.get()] {
    std::this_thread::sleep_for(5ms);
    if (::write(fd, "busy", 4) != 4) std::abort();
  });
  const auto deadline = clock_type::now() + 2s;
  while (!op.finished() && clock_type::now() < deadline) backend->poll(0ns);
  writer.join();
  REQUIRE(op.finished());
  CHECK(op.result == 4);
}

TEST_CASE("a backend built on one thread can run on another") {
  EACH_BACKEND(backend);
  auto [ours, peer] = make_socketpair();
  char buffer[8] = {};
  tracked_op op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = buffer;
  op.length = sizeof buffer;
  std::atomic<bool> received{false};
  std::thread runner([&] {
    // Not REQUIREs: Catch's assertions are for the main thread only.
    if (!start(*backend, op)) {
      for (int i = 0; i < 300 && op.completions == 0; ++i) backend->poll(10ms);
    }
    received = op.finished() && op.result == 4;
    backend->cancel_all();
    for (int i = 0; i < 100 && backend->in_flight() > 0; ++i) backend->poll(10ms);
  });
  write_all(peer.get(), "away");
  runner.join();
  CHECK(received);
  CHECK(backend->in_flight() == 0);
}

TEST_CASE("poll with a timeout waits for it when nothing happens") {
  EACH_BACKEND(backend);
  int long_waits = 0;
  for (int round = 0; round < 3; ++round) {
    const auto started = clock_type::now();
    backend->poll(20ms);
    const auto waited = clock_type::now() - started;
    if (waited >= 19ms) ++long_waits;
    CHECK(waited < 1s);
  }
  CHECK(long_waits >= 2);
}

TEST_CASE("failures come back as -errno") {
  EACH_BACKEND(backend);
  SECTION("recv on a pipe is -ENOTSOCK") {
    auto [read_end, write_end] = make_pipe();
    char buffer[4];
    tracked_op op;
    op.opcode = io_opcode::recv;
    op.fd = read_end.get();
    op.buffer = buffer;
    op.length = sizeof buffer;
    start(*backend, op);
    finish(*backend, op);
    CHECK(op.result == -ENOTSOCK);
  }
  SECTION("connect to a closed port is -ECONNREFUSED") {
    sockaddr_in address{};
    {
      auto bound = make_bound_tcp_socket(false);  // reserve a port, then free it
      address = bound.second;
    }
    unique_fd client = make_tcp_socket();
    tracked_op op;
    op.opcode = io_opcode::connect;
    op.fd = client.get();
    op.address = reinterpret_cast<sockaddr*>(&address);
    op.address_length = sizeof address;
    start(*backend, op);
    finish(*backend, op);
    CHECK(op.result == -ECONNREFUSED);
  }
  SECTION("read on a closed descriptor is -EBADF") {
    char buffer[4];
    tracked_op op;
    op.opcode = io_opcode::read;
    op.fd = 1'000'000;
    op.buffer = buffer;
    op.length = sizeof buffer;
    start(*backend, op);
    finish(*backend, op);
    CHECK(op.result == -EBADF);
  }
}

TEST_CASE("destroying a backend with operations in flight is safe") {
  // The buffers outlive the backend, which must have stopped the kernel using them.
  auto [ours, peer] = make_socketpair();
  char buffer[8] = {};
  tracked_op op;
  op.opcode = io_opcode::recv;
  op.fd = ours.get();
  op.buffer = buffer;
  op.length = sizeof buffer;
  auto destroyed_in = clock_type::duration::zero();
  {
    EACH_BACKEND(backend);
    REQUIRE_FALSE(start(*backend, op));
    backend->poll(0ns);
    const auto started = clock_type::now();
    backend.reset();
    destroyed_in = clock_type::now() - started;
  }
  CHECK(op.completions == 0);
  CHECK(destroyed_in < 500ms);  // the cancel took effect; the 1 s safety limit was not needed
  write_all(peer.get(), "kept");
  char received[8] = {};
  CHECK(::recv(ours.get(), received, sizeof received, 0) == 4);
}

// --- multishot operations (io_uring with provided buffer rings) ---------------------------------

namespace {

/// A multishot op that records every completion: its result, its data, and whether more follow.
struct multishot_op : io_op {
  std::vector<std::int64_t> results;
  std::string received;
  bool last_seen = false;

  multishot_op() {
    on_complete = [](io_op& op) noexcept {
      auto& self = static_cast<multishot_op&>(op);
      self.results.push_back(op.result);
      if (op.opcode == io_opcode::recv_multishot && op.result > 0) {
        self.received.append(static_cast<const char*>(op.buffer),
                             static_cast<std::size_t>(op.result));
      }
      self.last_seen = !op.more;
    };
  }
};

}  // namespace

TEST_CASE("epoll does not offer multishot operations; io_uring on this kernel does") {
  CHECK_FALSE(make_epoll_backend()->supports_multishot());
  CHECK(make_uring_backend()->supports_multishot());
}

TEST_CASE(
    "recv_multishot stays armed: one submit, one completion per arrival, data in the backend's buffers") {
  std::unique_ptr<backend> ring = make_uring_backend();
  REQUIRE(ring->supports_multishot());
  auto [ours, peer] = make_socketpair();
  multishot_op op;
  op.opcode = io_opcode::recv_multishot;
  op.fd = ours.get();
  REQUIRE_FALSE(ring->submit(op));

  for (const char* piece : {"one", "two", "three"}) {
    const std::size_t before = op.results.size();
    write_all(peer.get(), piece);
    poll_until(*ring, [&] { return op.results.size() > before; });
  }
  CHECK(op.received == "onetwothree");
  CHECK_FALSE(op.last_seen);
  CHECK(ring->in_flight() == 1);

  // End of file is the last completion: result 0, more == false.
  peer.reset();
  poll_until(*ring, [&] { return op.last_seen; });
  CHECK(op.results.back() == 0);
  CHECK(ring->in_flight() == 0);
}

TEST_CASE("more data than one provided buffer arrives in several completions, none lost") {
  std::unique_ptr<backend> ring = make_uring_backend();
  auto [ours, peer] = make_socketpair();
  multishot_op op;
  op.opcode = io_opcode::recv_multishot;
  op.fd = ours.get();
  REQUIRE_FALSE(ring->submit(op));
  std::string big(20000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  write_all(peer.get(), big);
  poll_until(*ring, [&] { return op.received.size() == big.size(); });
  CHECK(op.received == big);
  CHECK(op.results.size() >= 5);  // 4 KiB buffers
  ring->cancel(op);
  poll_until(*ring, [&] { return op.last_seen; });
  CHECK(op.results.back() == -ECANCELED);
  CHECK(ring->in_flight() == 0);
}

TEST_CASE("cancelling a multishot receive ends it with one last completion") {
  std::unique_ptr<backend> ring = make_uring_backend();
  auto [ours, peer] = make_socketpair();
  multishot_op op;
  op.opcode = io_opcode::recv_multishot;
  op.fd = ours.get();
  REQUIRE_FALSE(ring->submit(op));
  ring->poll(0ns);
  ring->cancel(op);
  poll_until(*ring, [&] { return op.last_seen; });
  CHECK(op.results == std::vector<std::int64_t>{-ECANCELED});
  // Nothing was consumed: the socket still holds what the peer sends next.
  write_all(peer.get(), "kept");
  char buffer[8] = {};
  poll_until(*ring, [&] { return ::recv(ours.get(), buffer, sizeof buffer, MSG_PEEK) == 4; });
}

TEST_CASE("accept_multishot accepts every connection from one submit") {
  std::unique_ptr<backend> ring = make_uring_backend();
  auto [listener, address] = make_bound_tcp_socket(true);
  multishot_op op;
  op.opcode = io_opcode::accept_multishot;
  op.fd = listener.get();
  op.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  REQUIRE_FALSE(ring->submit(op));

  std::vector<unique_fd> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(make_tcp_socket());
    const int connected =
        ::connect(clients.back().get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    REQUIRE((connected == 0 || errno == EINPROGRESS));
  }
  poll_until(*ring, [&] { return op.results.size() == 3; });
  for (std::int64_t accepted : op.results) {
    REQUIRE(accepted >= 0);
    CHECK((::fcntl(static_cast<int>(accepted), F_GETFD) & FD_CLOEXEC) != 0);
    ::close(static_cast<int>(accepted));
  }
  CHECK_FALSE(op.last_seen);
  ring->cancel(op);
  poll_until(*ring, [&] { return op.last_seen; });
  CHECK(op.results.back() == -ECANCELED);
}

TEST_CASE("destroying a backend with a multishot receive armed is safe") {
  auto [ours, peer] = make_socketpair();
  multishot_op op;
  {
    std::unique_ptr<backend> ring = make_uring_backend();
    op.opcode = io_opcode::recv_multishot;
    op.fd = ours.get();
    REQUIRE_FALSE(ring->submit(op));
    ring->poll(0ns);
  }
  write_all(peer.get(), "after");  // no kernel write into freed buffers (ASan would see it)
}
