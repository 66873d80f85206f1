// Reports of resources destroyed without being closed (eddy/detail/resource_warning.hpp).
#include "eddy/detail/resource_warning.hpp"

#include <poll.h>

#include <string>

#include "eddy/exception_context.hpp"

namespace eddy::detail {

loop_core* unclosed_report_target(loop_core* loop, std::uint64_t loop_id) noexcept {
  if (loop == nullptr) {
    return nullptr;
  }
  // The running loop is alive by definition; any other is looked up before it is touched.
  if (loop != running_loop_on_thread && !loop_core::is_live(loop)) {
    return nullptr;
  }
  if (loop->id() != loop_id || !loop->debug_enabled()) {
    return nullptr;
  }
  return loop;
}

void report_unclosed(loop_core& target, std::string_view message) noexcept {
  try {
    exception_context context{std::string(message), nullptr, {}};
    target.call_exception_handler(context);
  } catch (...) {
    // Only the context's strings can fail to allocate; stay silent then.
  }
}

bool pipe_peer_gone(int fd) noexcept {
  pollfd entry{fd, 0, 0};  // POLLHUP and POLLERR are reported whatever is asked
  return ::poll(&entry, 1, 0) == 1 && (entry.revents & (POLLHUP | POLLERR)) != 0;
}

}  // namespace eddy::detail
