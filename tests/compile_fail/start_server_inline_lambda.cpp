// expect-gcc12: eddy::start_server / start_unix_server: GCC 12 destroys twice a lambda with
// captures
#include <eddy/eddy.hpp>
#include <memory>
#include <string>

eddy::coro<void> refused_on_gcc12(std::shared_ptr<std::string> greeting) {
  eddy::server server = co_await eddy::start_server(
      [greeting](eddy::stream_reader, eddy::stream_writer writer) -> eddy::coro<void> {
        writer.write(*greeting);
        co_await writer.drain();
      },
      "127.0.0.1", 0);
  server.close();
}
