// expect: address of stack memory associated with local variable 'greet' returned
// docs/coroutine-lifetimes.md, trap 1: the task outlives the named lambda whose captures its
// coroutine reads.
#include <eddy/eddy.hpp>

#include <chrono>
#include <cstdio>
#include <string>

eddy::task<void> start_greeter(std::string name) {
  auto greet = [name]() -> eddy::coro<void> {
    co_await eddy::sleep(std::chrono::milliseconds(10));
    std::printf("hello, %s\n", name.c_str());
  };
  return eddy::create_task(greet());
}

eddy::coro<void> main_task() { co_await start_greeter("world"); }

int main() { eddy::run(main_task()); }
