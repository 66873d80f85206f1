// request_context: a request id that follows each request through its tasks and its blocking
// calls, without being passed to any of them (contextvars.ContextVar). docs/context.md.
//
// Two requests run at once. Each handler sets the id in its own context; the audit task it
// creates starts with a copy of that context, and to_thread runs the blocking call in a copy
// too. main never sets it, so main's log line shows the default. Expected output:
//   [a] handling
//   [b] handling
//   [a] checksum computed on a worker thread
//   [b] checksum computed on a worker thread
//   [a] audited
//   [b] audited
//   [-] done
#include <eddy/eddy.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// Made once, shared by every task and thread: the variable is its identity.
eddy::context_var<std::string> request_id("request_id", "-");

void log(const std::string& what) {
  std::printf("[%s] %s\n", request_id.get().c_str(), what.c_str());
}

// A blocking call: runs on a worker thread, in a copy of the awaiting task's context.
void checksum() {
  std::this_thread::sleep_for(5ms);
  log("checksum computed on a worker thread");
}

eddy::coro<void> audit() {
  co_await eddy::sleep(100ms);
  log("audited");  // a child task started with a copy of its creator's context
}

eddy::coro<void> handle(std::string id, std::chrono::milliseconds delay) {
  request_id.set(id);  // in this task's context only
  log("handling");
  auto auditing = eddy::create_task(audit());
  co_await eddy::sleep(delay);
  co_await eddy::to_thread(checksum);
  co_await auditing;
}

int main() {
  eddy::run([]() -> eddy::coro<void> {
    auto a = eddy::create_task(handle("a", 0ms));
    auto b = eddy::create_task(handle("b", 30ms));
    co_await a;
    co_await b;
    log("done");  // main never set it: the default
  }());
}
