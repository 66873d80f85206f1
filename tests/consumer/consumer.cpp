// A program that uses eddy as a user's project would: tasks and gather, a thread, a timeout and
// one TCP round trip on loopback. Coroutine frames and task states are made both in this file
// (inline header code) and inside libeddy (its own coroutines), and freed on either side, which
// is what breaks when the two sides disagree on how frames are allocated. Exits 0 on success.
#include <eddy/eddy.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

eddy::coro<int> answer() {
  co_await eddy::sleep(1ms);
  co_return 42;
}

eddy::coro<void> echo_line(eddy::stream_reader reader, eddy::stream_writer writer) {
  writer.write(co_await reader.readline());
  co_await writer.drain();
  writer.close();
}

eddy::coro<bool> round_trip() {
  eddy::server server = co_await eddy::start_server(echo_line, "127.0.0.1", 0);
  auto [reader, writer] =
      co_await eddy::open_connection("127.0.0.1", server.sockets().at(0).port());
  writer.write("ping\n");
  std::string line = co_await reader.readline();
  writer.close();
  server.close();
  co_await server.wait_closed();
  co_return line == "ping\n";
}

eddy::coro<void> count_up(int* counter) {
  co_await eddy::sleep(1ms);
  ++*counter;
}

eddy::coro<int> consumer_main() {
  // Task states of the same types (task<void>, task<int>) are made here and inside libeddy (a
  // server makes a task<void> per connection), so the program and the library share their
  // inline code and vtables.
  int counted = 0;
  eddy::task<void> counting = eddy::create_task(count_up(&counted));
  eddy::task<int> first = eddy::create_task(answer());
  auto [second, third] = co_await eddy::gather(answer(), answer());
  int from_thread = co_await eddy::to_thread([] { return 42; });
  bool timed_out = false;
  try {
    co_await eddy::wait_for(eddy::sleep(10s), 10ms);
  } catch (const eddy::timeout_error&) {
    timed_out = true;
  }
  bool echoed = co_await eddy::wait_for(round_trip(), 10s);
  int from_task = co_await first;
  co_await counting;
  const bool ok = counted == 1 && from_task == 42 && second == 42 && third == 42 &&
                  from_thread == 42 && timed_out && echoed;
  co_return ok ? 0 : 1;
}

int main() { return eddy::run(consumer_main()); }
