// expect-gcc12: eddy::timeout / timeout_at: GCC 12 destroys twice a lambda with captures
#include <eddy/eddy.hpp>
#include <string>

using namespace std::chrono_literals;

eddy::coro<void> refused_on_gcc12(std::string name) {
  co_await eddy::timeout(1s, [name](eddy::timeout_scope&) -> eddy::coro<void> {
    co_await eddy::sleep(1ms);
    (void)name.size();
  });
}
