#include "eddy/errors.hpp"

#include "describe.hpp"

namespace eddy {

exception_group::exception_group(std::string message, std::vector<std::exception_ptr> exceptions)
    : message_(std::move(message)), exceptions_(std::move(exceptions)) {
  what_ = message_ + " (" + std::to_string(exceptions_.size()) +
          (exceptions_.size() == 1 ? " sub-exception): " : " sub-exceptions): ");
  for (std::size_t index = 0; index < exceptions_.size(); ++index) {
    if (index > 0) {
      what_ += "; ";
    }
    what_ += detail::describe_exception(exceptions_[index]);
  }
}

}  // namespace eddy
