// expect-gcc12: eddy::to_thread: GCC 12 destroys twice a lambda with captures
// GCC 12 frees `path` twice when the capturing lambda is written inside the co_await, so
// eddy refuses it there; other compilers accept it.
#include <eddy/eddy.hpp>
#include <string>

eddy::coro<std::size_t> refused_on_gcc12(std::string path) {
  co_return co_await eddy::to_thread([path] { return path.size(); });
}
