// http_hello: the smallest keep-alive HTTP/1.1 server, exactly as WORKLOADS.md's "HTTP
// plaintext" benchmark defines it.
//
//   http_hello [--host H] [--port P]         (default 127.0.0.1:8080; port 0 picks a free one)
//
// A request is everything up to the first blank line ("\r\n\r\n"). "GET / " gets
// "Hello, World!"; anything else a 404. Connections stay open; pipelined requests are answered
// in order, in one write; a connection whose incomplete request reaches 16 KiB is closed.
// Try: curl -v http://127.0.0.1:8080/      Stop with Ctrl-C or SIGTERM.
#include <eddy/eddy.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

constexpr std::string_view hello =
    "HTTP/1.1 200 OK\r\nServer: eddy\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view not_found =
    "HTTP/1.1 404 Not Found\r\nServer: eddy\r\nContent-Length: 0\r\n\r\n";
constexpr std::size_t max_request = 16 * 1024;

eddy::coro<void> answer(eddy::stream_reader reader, eddy::stream_writer writer) {
  std::string pending;  // received, not yet answered
  std::string replies;  // answers to every complete request in `pending`
  for (;;) {
    std::string data = co_await reader.read(65536);
    if (data.empty()) {
      break;  // the client closed the connection
    }
    pending += data;
    std::size_t start = 0;
    for (std::size_t end; (end = pending.find("\r\n\r\n", start)) != std::string::npos;
         start = end + 4) {
      std::string_view request(pending.data() + start, end - start);
      replies += request.starts_with("GET / ") ? hello : not_found;
    }
    pending.erase(0, start);
    if (pending.size() >= max_request) {
      break;  // an incomplete request this large is not one we serve
    }
    if (!replies.empty()) {
      writer.write(replies);  // all answers of this batch in one write
      replies.clear();
      co_await writer.drain();
    }
  }
}

// Runs as its own task for each connection.
eddy::coro<void> serve_http(eddy::stream_reader reader, eddy::stream_writer writer) {
  try {
    co_await answer(reader, writer);
  } catch (const std::system_error&) {
    // The client vanished (ECONNRESET, EPIPE): nothing to answer, nobody to tell.
  }
  writer.close();
}

eddy::coro<void> serve(std::string host, std::uint16_t port) {
  eddy::server_options options;
  options.backlog = 1024;
  eddy::server server = co_await eddy::start_server(serve_http, host, port, options);
  std::printf("listening on %s\n", server.sockets().at(0).to_string().c_str());
  std::fflush(stdout);

  eddy::event stop;
  eddy::event_loop& loop = eddy::get_running_loop();
  loop.add_signal_handler(SIGINT, [&stop] { stop.set(); });
  loop.add_signal_handler(SIGTERM, [&stop] { stop.set(); });
  co_await stop.wait();

  server.close();
  server.close_clients();
  co_await server.wait_closed();
  std::printf("stopped\n");
}

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8080;
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
    std::fprintf(stderr, "http_hello: %s\n", error.what());
    return 1;
  }
}
