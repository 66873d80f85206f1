// echo_server: every connection gets back exactly what it sends (asyncio's "TCP echo server
// using streams"). It is also the echo benchmark server of WORKLOADS.md.
//
//   echo_server [--host H] [--port P]        (default 127.0.0.1:8888; port 0 picks a free one)
//
// Prints "listening on H:P" once it accepts connections, and stops cleanly on Ctrl-C or
// SIGTERM: it stops accepting, closes the connections it has and prints how many it served.
#include <eddy/eddy.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

// Runs as its own task for each connection.
eddy::coro<void> echo(eddy::stream_reader reader, eddy::stream_writer writer) {
  try {
    for (;;) {
      std::string data = co_await reader.read(65536);  // whatever has arrived, up to 64 KiB
      if (data.empty()) {
        break;  // the client closed its side
      }
      writer.write(data);
      co_await writer.drain();  // waits only if the client does not keep up
    }
  } catch (const std::system_error&) {
    // The client vanished (ECONNRESET, EPIPE): nothing to answer, nobody to tell.
  }
  writer.close();
}

eddy::coro<void> serve(std::string host, std::uint16_t port) {
  eddy::server_options options;
  options.backlog = 1024;
  eddy::server server = co_await eddy::start_server(echo, host, port, options);
  std::printf("listening on %s\n", server.sockets().at(0).to_string().c_str());
  std::fflush(stdout);

  // Ctrl-C and SIGTERM both ask for a clean stop.
  eddy::event stop;
  eddy::event_loop& loop = eddy::get_running_loop();
  loop.add_signal_handler(SIGINT, [&stop] { stop.set(); });
  loop.add_signal_handler(SIGTERM, [&stop] { stop.set(); });
  co_await stop.wait();

  std::printf("stopping\n");
  server.close();          // no new connections
  server.close_clients();  // and end the ones we have
  co_await server.wait_closed();
  std::printf("stopped\n");
}

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8888;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string option = argv[i];
    if (option == "--host") {
      host = argv[i + 1];
    } else if (option == "--port") {
      port = std::atoi(argv[i + 1]);
    }
  }
  try {
    eddy::run(serve(host, static_cast<std::uint16_t>(port)));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "echo_server: %s\n", error.what());
    return 1;
  }
}
