// expect: write create_task\(std::move
// A coro is started once, so create_task takes it by rvalue; an lvalue must be moved in.
#include <eddy/eddy.hpp>

eddy::coro<void> work() { co_return; }

eddy::coro<void> refused() {
  eddy::coro<void> body = work();
  auto started = eddy::create_task(body);
  co_await started;
}
