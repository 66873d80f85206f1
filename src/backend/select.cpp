// Choosing the backend at loop creation (DESIGN.md §5).
#include <string>
#include <system_error>

#include "backend/backend.hpp"

namespace eddy::detail {
namespace {

/// The "call" part of a system_error's message: what() is "<call>: <strerror>", and the
/// rethrown error adds its own strerror again.
std::string failed_call(const std::system_error& error) {
  std::string message = error.what();
  const std::string suffix = ": " + error.code().message();
  if (message.size() >= suffix.size() &&
      message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0) {
    message.resize(message.size() - suffix.size());
  }
  return message;
}

}  // namespace

std::unique_ptr<backend> make_backend(backend_kind kind) {
  switch (kind) {
    case backend_kind::uring:
      try {
        return make_uring_backend();
      } catch (const std::system_error& error) {
        // Forced: say so rather than quietly running on epoll.
        throw std::system_error(
            error.code(), "EDDY_BACKEND=uring but io_uring cannot start: " + failed_call(error));
      }
    case backend_kind::epoll:
      return make_epoll_backend();
    case backend_kind::from_environment:  // the loop resolves this first; if not, automatic
    case backend_kind::automatic:
      break;
  }
  try {
    return make_uring_backend();
  } catch (const std::system_error&) {
    // Kernel too old, io_uring disabled (sysctl, seccomp, container), or an opcode missing.
    return make_epoll_backend();
  }
}

}  // namespace eddy::detail
