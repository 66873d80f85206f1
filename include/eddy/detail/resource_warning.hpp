// asyncio's ResourceWarning ("unclosed transport <...>"), eddy's way: in debug mode, an object
// destroyed while it still holds its descriptor reports that through its loop's exception
// handler, then closes the descriptor as it always does. docs/streams.md, docs/files.md and
// docs/subprocesses.md list the messages.
//
// One mechanism for every such object (streams, servers, datagram sockets, files, processes):
// each remembers the loop it was made on (address and id, as loop_core::id() says) and calls
// report_unclosed() on the path where it closes a descriptor nobody closed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eddy/detail/loop_core.hpp"

namespace eddy::detail {

/// The loop an unclosed resource of `loop` (whose id was `loop_id`) is reported to: `loop`
/// itself when it is still alive on this thread, is still the loop with that id (a loop made
/// later at the same address is another loop), and is in debug mode; otherwise null. Looks at
/// no loop that is gone. Never throws.
[[nodiscard]] loop_core* unclosed_report_target(loop_core* loop, std::uint64_t loop_id) noexcept;

/// Sends `message` (e.g. "unclosed file <fd=5 path='data.txt'>") to `target`'s exception
/// handler, as an exception_context with no exception and no task name. Silent when the
/// context cannot be allocated. Never throws.
void report_unclosed(loop_core& target, std::string_view message) noexcept;

/// The call every owner makes where it closes a descriptor that was never closed:
/// when unclosed_report_target(loop, loop_id) finds a loop in debug mode, reports what
/// `describe()` returns (a std::string; "" when, on a closer look, nothing is open after all).
/// `describe` runs only then, so outside debug mode nothing is formatted or allocated. Whatever
/// `describe` throws (std::bad_alloc, a failed getsockname) is swallowed: destructors call
/// this. Never throws.
template <class Describe>
void report_unclosed(loop_core* loop, std::uint64_t loop_id, Describe&& describe) noexcept {
  loop_core* target = unclosed_report_target(loop, loop_id);
  if (target == nullptr) [[likely]] {
    return;
  }
  try {
    const std::string message = describe();
    if (!message.empty()) {
      report_unclosed(*target, message);
    }
  } catch (...) {
    // Reporting is best effort; the descriptor is closed all the same.
  }
}

/// The loop running on this thread and its id, for an object to remember when it takes a
/// descriptor (null and 0 outside a loop: such an object never reports).
struct loop_binding {
  loop_core* loop = nullptr;
  std::uint64_t id = 0;

  [[nodiscard]] static loop_binding running() noexcept {
    loop_core* loop = running_loop_on_thread;
    return {loop, loop != nullptr ? loop->id() : 0};
  }
};

/// Whether the far end of the pipe `fd` is gone (poll reports POLLHUP or POLLERR): asyncio's
/// pipe transports notice that by themselves and close, so such a pipe does not count as left
/// open. Only called while reporting.
[[nodiscard]] bool pipe_peer_gone(int fd) noexcept;

}  // namespace eddy::detail
