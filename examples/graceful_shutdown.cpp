// A server that shuts down cleanly on SIGINT or SIGTERM (loop.add_signal_handler).
//
// An echo server on 127.0.0.1. When SIGINT (Ctrl-C) or SIGTERM arrives it stops accepting,
// lets the connections that are open finish (clients may keep talking) for a grace period,
// then closes whatever is left, and returns from main with status 0.
//
// Usage: graceful_shutdown [port] [grace-seconds]   (defaults: 0 = any free port, 5 s)
// Try it: run it, `nc 127.0.0.1 <port>` in another terminal, type lines, press Ctrl-C here.
// Expected output:
//   listening on 127.0.0.1:40123
//   client 1 connected
//   got SIGTERM: no new connections; 1 still open, waiting up to 5.0 s
//   client 1 left
//   all connections finished
//   clean exit
#include <eddy/eddy.hpp>
#include <eddy/net/server.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

using namespace std::chrono_literals;

// Echoes lines back until the client closes its side.
eddy::coro<void> echo_client(eddy::stream_reader reader, eddy::stream_writer writer) {
  static int clients = 0;
  int number = ++clients;
  std::printf("client %d connected\n", number);
  std::fflush(stdout);
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) {
      break;
    }
    writer.write("echo: " + line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
  std::printf("client %d left\n", number);
  std::fflush(stdout);
}

eddy::coro<int> serve(std::uint16_t port, std::chrono::milliseconds grace) {
  eddy::event_loop& loop = eddy::get_running_loop();
  eddy::server echo = co_await eddy::start_server(echo_client, "127.0.0.1", port);
  std::printf("listening on %s\n", echo.sockets().front().to_string().c_str());
  std::fflush(stdout);

  // The handlers run on the loop's thread as ordinary callbacks: they may touch loop objects.
  eddy::event stop_requested;
  const char* stop_signal = nullptr;
  loop.add_signal_handler(SIGINT, [&] {
    stop_signal = "SIGINT";
    stop_requested.set();
  });
  loop.add_signal_handler(SIGTERM, [&] {
    stop_signal = "SIGTERM";
    stop_requested.set();
  });
  co_await stop_requested.wait();

  echo.close();  // no new connections; the open ones carry on
  std::printf("got %s: no new connections; %zu still open, waiting up to %.1f s\n", stop_signal,
              echo.connection_count(), std::chrono::duration<double>(grace).count());
  std::fflush(stdout);
  bool finished_in_time = true;
  try {
    co_await eddy::wait_for(echo.wait_closed(), grace);
  } catch (const eddy::timeout_error&) {
    finished_in_time = false;
  }
  if (finished_in_time) {
    std::printf("all connections finished\n");
  } else {
    std::printf("grace period over: closing %zu connections\n", echo.connection_count());
    echo.close_clients();
    co_await echo.wait_closed();
  }
  // Give SIGINT and SIGTERM their previous dispositions back.
  loop.remove_signal_handler(SIGINT);
  loop.remove_signal_handler(SIGTERM);
  std::printf("clean exit\n");
  co_return 0;
}

int main(int argc, char** argv) {
  auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  std::chrono::milliseconds grace(argc > 2 ? static_cast<long long>(std::atof(argv[2]) * 1000)
                                           : 5000);
  return eddy::run(serve(port, grace));
}
