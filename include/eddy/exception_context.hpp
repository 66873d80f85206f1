// What the loop's exception handler is told (asyncio's context dict).
#pragma once

#include <exception>
#include <string>

namespace eddy {

/// Passed to the loop's exception handler for errors that have no caller to go to: an
/// exception no one retrieved from a task, a callback that threw, a task destroyed while
/// pending. Fields that do not apply are empty.
struct exception_context {
  std::string message;           ///< what happened, e.g. "Task exception was never retrieved"
  std::exception_ptr exception;  ///< the exception, if there is one
  std::string task_name;         ///< the task concerned, e.g. "Task-3"
};

}  // namespace eddy
