// port_scanner: which TCP ports on a host accept connections?
//
//   port_scanner [--host H] [--from A] [--to B] [--concurrency N] [--timeout-ms T]
//   (defaults: 127.0.0.1, ports 1 to 1024, 100 at once, 500 ms per port)
//
// One task per port; a semaphore keeps at most N connection attempts in flight, and
// eddy::wait_for gives each attempt its own deadline (a filtered port never answers).
// Expected output: one "open: <port>" line per listening port, in order, then a summary:
//   open: 22
//   open: 8888
//   scanned 1024 ports in 0.051 s: 2 open, 1022 closed, 0 timed out
#include <eddy/eddy.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

enum class port_state { open, closed, timed_out };

eddy::coro<port_state> probe(std::string host, std::uint16_t port, eddy::semaphore* slots,
                             std::chrono::milliseconds timeout) {
  auto slot = co_await slots->scoped();  // one of the N slots, given back when `slot` goes
  port_state state = port_state::closed;
  try {
    auto [reader, writer] = co_await eddy::wait_for(eddy::open_connection(host, port), timeout);
    state = port_state::open;
    writer.abort();  // we only wanted to know
  } catch (const eddy::timeout_error&) {
    state = port_state::timed_out;
  } catch (const std::system_error&) {
    state = port_state::closed;  // ECONNREFUSED, EHOSTUNREACH, ...
  }
  co_return state;
}

eddy::coro<int> scan(std::string host, int first, int last, int concurrency,
                     std::chrono::milliseconds timeout) {
  eddy::semaphore slots(concurrency);
  const auto started = std::chrono::steady_clock::now();

  std::vector<eddy::task<port_state>> probes;
  for (int port = first; port <= last; ++port) {
    probes.push_back(
        eddy::create_task(probe(host, static_cast<std::uint16_t>(port), &slots, timeout)));
  }
  std::vector<port_state> states = co_await eddy::gather(probes);  // results in port order

  int counts[3] = {};
  for (std::size_t i = 0; i < states.size(); ++i) {
    ++counts[static_cast<int>(states[i])];
    if (states[i] == port_state::open) {
      std::printf("open: %d\n", first + static_cast<int>(i));
    }
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::printf("scanned %zu ports in %.3f s: %d open, %d closed, %d timed out\n", states.size(),
              took.count(), counts[0], counts[1], counts[2]);
  co_return 0;
}

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int first = 1;
  int last = 1024;
  int concurrency = 100;
  int timeout_ms = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string option = argv[i];
    const char* value = argv[i + 1];
    if (option == "--host") {
      host = value;
    } else if (option == "--from") {
      first = std::atoi(value);
    } else if (option == "--to") {
      last = std::atoi(value);
    } else if (option == "--concurrency") {
      concurrency = std::atoi(value);
    } else if (option == "--timeout-ms") {
      timeout_ms = std::atoi(value);
    } else {
      std::fprintf(stderr, "port_scanner: unknown option %s\n", option.c_str());
      return 2;
    }
  }
  if (first < 1 || last > 65535 || first > last || concurrency < 1 || timeout_ms < 1) {
    std::fprintf(
        stderr, "port_scanner: need 1 <= from <= to <= 65535, concurrency >= 1, timeout-ms >= 1\n");
    return 2;
  }
  try {
    return eddy::run(scan(host, first, last, concurrency, std::chrono::milliseconds(timeout_ms)));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "port_scanner: %s\n", error.what());
    return 1;
  }
}
