// expect: temporary whose address is used as value of local variable 'greeter'
// docs/coroutine-lifetimes.md, trap 1: a capturing lambda called in place dies at the end of
// the statement; the task's coroutine reads its captures later.
#include <eddy/eddy.hpp>

#include <chrono>
#include <cstdio>
#include <string>

eddy::coro<void> main_task() {
  std::string name = "world";
  auto greeter = eddy::create_task([name]() -> eddy::coro<void> {
    co_await eddy::sleep(std::chrono::milliseconds(10));
    std::printf("hello, %s\n", name.c_str());
  }());
  co_await greeter;
}

int main() { eddy::run(main_task()); }
