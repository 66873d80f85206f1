// expect: eddy::wait takes tasks or futures; wrap coroutines with create_task first
// asyncio.wait takes tasks and futures only (coroutines were refused from Python 3.11).
#include <eddy/eddy.hpp>
#include <vector>

eddy::coro<int> work() { co_return 1; }

eddy::coro<void> refused() {
  std::vector<eddy::coro<int>> bodies;
  bodies.push_back(work());
  auto done = co_await eddy::wait(std::move(bodies));
  (void)done;
}
