// The exceptions eddy throws, named after asyncio's.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace eddy {

/// Thrown out of the co_await where a cancelled task is suspended (asyncio.CancelledError).
///
/// Deliberately not derived from std::exception, as Python made CancelledError a
/// BaseException: `catch (const std::exception&)` must not swallow a cancellation. Catch it
/// with `catch (const eddy::cancelled_error&)` (clean up, then `throw;`) or `catch (...)`.
class cancelled_error {
 public:
  cancelled_error() = default;
  explicit cancelled_error(std::string message) : message_(std::move(message)) {}

  /// The message given to task::cancel(msg), or empty.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  /// "cancelled" or "cancelled: <message>", for logs.
  [[nodiscard]] std::string describe() const {
    return message_.empty() ? std::string("cancelled") : "cancelled: " + message_;
  }

 private:
  std::string message_;
};

/// A deadline passed (asyncio.TimeoutError, which is the builtin TimeoutError since 3.11).
class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("timed out") {}
  explicit timeout_error(const std::string& what) : std::runtime_error(what) {}
};

/// An operation is not allowed in the object's current state (asyncio.InvalidStateError):
/// result() of a pending future, set_result() on a done one.
class invalid_state_error : public std::logic_error {
 public:
  explicit invalid_state_error(const std::string& what) : std::logic_error(what) {}
};

/// Several exceptions that happened together (Python's ExceptionGroup): what a task_group
/// throws when its children (or its body) failed.
class exception_group : public std::exception {
 public:
  exception_group(std::string message, std::vector<std::exception_ptr> exceptions);

  /// The exceptions, in the order they happened.
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }
  /// "<message> (2 sub-exceptions): std::runtime_error: boom; std::logic_error: bad".
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
  std::string what_;
};

}  // namespace eddy
