// echo_client: talks to echo_server (asyncio's "TCP echo client using streams").
//
//   echo_client [--host H] [--port P] [message ...]     (default 127.0.0.1:8888, "Hello World!")
//
// Sends each message as one line, reads the echo back with readline, and checks it.
// Expected output:
//   connected to 127.0.0.1:8888
//   sent: Hello World!
//   received: Hello World!
//   closed
#include <eddy/eddy.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

eddy::coro<int> talk(std::string host, std::uint16_t port, std::vector<std::string> messages) {
  auto [reader, writer] = co_await eddy::open_connection(host, port);
  std::printf("connected to %s\n", writer.peername().to_string().c_str());

  int mismatches = 0;
  for (const std::string& message : messages) {
    writer.write(message + "\n");
    co_await writer.drain();  // returns at once unless the server stopped reading
    std::printf("sent: %s\n", message.c_str());

    std::string line = co_await reader.readline();
    if (line.empty()) {
      std::printf("the server closed the connection\n");
      co_return 1;
    }
    line.pop_back();  // the "\n"
    std::printf("received: %s\n", line.c_str());
    mismatches += line == message ? 0 : 1;
  }

  writer.close();
  co_await writer.wait_closed();
  std::printf("closed\n");
  co_return mismatches == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8888;
  std::vector<std::string> messages;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else if (argument == "--port" && i + 1 < argc) {
      port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    } else {
      messages.push_back(argument);
    }
  }
  if (messages.empty()) {
    messages.emplace_back("Hello World!");
  }
  try {
    return eddy::run(talk(host, port, messages));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "echo_client: %s\n", error.what());
    return 1;
  }
}
