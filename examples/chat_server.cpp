// chat_server: a line-based chat room. Every line a client sends goes to everyone else.
//
//   chat_server [--host H] [--port P]        (default 127.0.0.1:8765; port 0 picks a free one)
//
// Try it with two terminals running `nc 127.0.0.1 8765`. Each client is greeted with its
// name; joins, lines and departures are broadcast as
//   * guest-2 joined
//   guest-1: hello
//   * guest-1 left
// A client that stops reading is dropped once 1 MiB waits for it, so one slow reader cannot
// hold everyone's memory. Stops cleanly on Ctrl-C or SIGTERM.
#include <eddy/eddy.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <string>

constexpr std::size_t max_backlog_per_client = 1024 * 1024;

struct member {
  std::string name;
  eddy::stream_writer writer;
};

class chat_room {
 public:
  std::list<member>::iterator join(eddy::stream_writer writer) {
    std::string name = "guest-" + std::to_string(++joined_);
    writer.write("welcome, you are " + name + "\n");
    broadcast("* " + name + " joined\n", members_.end());
    return members_.insert(members_.end(), member{name, writer});
  }

  void leave(std::list<member>::iterator who) {
    std::string name = who->name;
    members_.erase(who);
    broadcast("* " + name + " left\n", members_.end());
  }

  // write() never waits: a broadcast queues the line for every other member at once.
  void broadcast(const std::string& line, std::list<member>::iterator from) {
    for (auto each = members_.begin(); each != members_.end(); ++each) {
      if (each == from) {
        continue;
      }
      if (each->writer.write_buffer_size() > max_backlog_per_client) {
        each->writer.abort();  // its reader task then sees the end and leaves
        continue;
      }
      each->writer.write(line);
    }
  }

 private:
  std::list<member> members_;
  int joined_ = 0;
};

// One task per client: read lines until the client goes, broadcasting each.
eddy::coro<void> chat(eddy::stream_reader reader, eddy::stream_writer writer, chat_room* room) {
  auto me = room->join(writer);
  try {
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) {
        break;  // end of file: the client left
      }
      if (line.back() != '\n') {
        line += '\n';  // a last line without a newline
      }
      room->broadcast(me->name + ": " + line, me);
    }
  } catch (const std::exception& error) {  // reset, line too long, ...
    std::printf("%s: %s\n", me->name.c_str(), error.what());
  }
  room->leave(me);
  writer.close();
}

eddy::coro<void> serve(std::string host, std::uint16_t port) {
  chat_room room;
  auto on_connect = [&room](eddy::stream_reader reader, eddy::stream_writer writer) {
    return chat(std::move(reader), std::move(writer), &room);
  };
  eddy::server server = co_await eddy::start_server(on_connect, host, port);
  std::printf("listening on %s\n", server.sockets().at(0).to_string().c_str());
  std::fflush(stdout);

  eddy::event stop;
  eddy::event_loop& loop = eddy::get_running_loop();
  loop.add_signal_handler(SIGINT, [&stop] { stop.set(); });
  loop.add_signal_handler(SIGTERM, [&stop] { stop.set(); });
  co_await stop.wait();

  server.close();
  server.close_clients();
  co_await server.wait_closed();  // every chat task has left the room by now
  std::printf("stopped\n");
}

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8765;
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
    std::fprintf(stderr, "chat_server: %s\n", error.what());
    return 1;
  }
}
