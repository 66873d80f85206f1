// expect-gcc12: eddy::with_task_group: GCC 12 destroys twice a lambda with captures
#include <eddy/eddy.hpp>
#include <string>

eddy::coro<void> greet(std::string name) { co_return; }

eddy::coro<void> refused_on_gcc12(std::string name) {
  co_await eddy::with_task_group([name](eddy::task_group& group) -> eddy::coro<void> {
    group.create_task(greet(name));
    co_return;
  });
}
