// expect: temporary whose address is used as value of local variable 'logger'
// docs/coroutine-lifetimes.md, trap 2: a reference parameter bound to a temporary, in a
// coroutine that runs as a task after the temporary is gone.
#include <eddy/eddy.hpp>

#include <chrono>
#include <cstdio>
#include <string>

eddy::coro<void> log_later(const std::string& message) {
  co_await eddy::sleep(std::chrono::milliseconds(10));
  std::puts(message.c_str());
}

eddy::coro<void> main_task() {
  auto logger = eddy::create_task(log_later(std::string("a message long enough for the heap")));
  co_await logger;
}

int main() { eddy::run(main_task()); }
