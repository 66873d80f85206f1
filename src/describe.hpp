// Human-readable descriptions of exceptions, for the default exception handler.
#pragma once

#include <exception>
#include <string>

namespace eddy::detail {

/// A type name as the compiler mangles it, readable ("std::runtime_error"); the mangled name
/// itself if it cannot be demangled.
std::string demangle(const char* mangled);

/// "std::runtime_error: boom", "eddy::cancelled_error: why", or "unknown exception".
std::string describe_exception(const std::exception_ptr& exception);

}  // namespace eddy::detail
