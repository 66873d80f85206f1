// expect: std::move
// gather consumes each coro it is given: a coro lvalue must be moved in.
#include <eddy/eddy.hpp>

eddy::coro<int> work() { co_return 1; }

eddy::coro<void> refused() {
  eddy::coro<int> first = work();
  auto both = co_await eddy::gather(first, work());
  (void)both;
}
