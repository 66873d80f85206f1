// expect-clean
// The spellings docs/coroutine-lifetimes.md recommends compile without a warning under
// EDDY_CORO_LIFETIME_CHECKS: the checks have no false alarms on them.
#include <eddy/eddy.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

eddy::coro<int> forty_two() { co_return 42; }
eddy::coro<void> log_later(std::string message) {  // by value: the frame owns it
  co_await eddy::sleep(10ms);
  std::puts(message.c_str());
}
eddy::coro<void> log_now(const std::string& message) {  // by reference: awaited at once only
  std::puts(message.c_str());
  co_return;
}
eddy::coro<void> echo(eddy::stream_reader reader, eddy::stream_writer writer) {
  writer.write(co_await reader.readline());
  co_await writer.drain();
}

eddy::task<void> start_greeter(std::string name) {
  // The task owns the lambda (and so its captures) until the coroutine has finished.
  return eddy::create_task([name]() -> eddy::coro<void> {
    co_await eddy::sleep(10ms);
    std::printf("hello, %s\n", name.c_str());
  });
}

eddy::coro<void> main_task() {
  auto answer = eddy::create_task(forty_two());
  auto logger = eddy::create_task(log_later(std::string("a message long enough for the heap")));
  co_await log_now(std::string("awaited in the same statement"));
  std::string name = "world";
  auto with_args = eddy::create_task(
      [](std::string who) -> eddy::coro<void> {
        co_await eddy::sleep(1ms);
        std::puts(who.c_str());
      },
      name);
  auto owned = eddy::create_task(
      eddy::invoke([name]() -> eddy::coro<int> { co_return static_cast<int>(name.size()); }));
  co_await [&name]() -> eddy::coro<void> {  // a capturing lambda awaited where it is made
    co_await eddy::sleep(1ms);
    std::puts(name.c_str());
  }();
  auto [a, b] = co_await eddy::gather(forty_two(), eddy::wait_for(forty_two(), 1s));
  std::vector<eddy::task<int>> tasks{answer};
  auto waiter = eddy::create_task(eddy::wait(std::vector{answer}));
  auto done = co_await eddy::wait(tasks, {.timeout = 0.5s});
  auto thread_result = co_await eddy::to_thread([](int x) { return x * 2; }, 21);
  auto body = [name](eddy::task_group& group) -> eddy::coro<void> {
    group.create_task(log_later(name));
    co_return;
  };
  co_await eddy::with_task_group(body);
  auto limited = [](eddy::timeout_scope&) -> eddy::coro<int> { co_return 1; };
  int in_time = co_await eddy::timeout(1s, limited);
  eddy::server server = co_await eddy::start_server(echo, "127.0.0.1", 0);
  server.close();
  co_await server.wait_closed();
  co_await start_greeter(name);
  co_await logger;
  co_await with_args;
  co_await waiter;
  static_cast<void>(co_await owned + a + b + thread_result + in_time +
                    static_cast<int>(done.done.size()));
}

int main() { eddy::run(main_task()); }
