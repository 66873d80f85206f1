#include "describe.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "eddy/errors.hpp"

namespace eddy::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> readable(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && readable ? std::string(readable.get()) : std::string(mangled);
}

std::string describe_exception(const std::exception_ptr& exception) {
  if (!exception) {
    return "no exception";
  }
  try {
    std::rethrow_exception(exception);
  } catch (const cancelled_error& cancellation) {
    return "eddy::cancelled_error: " + cancellation.message();
  } catch (const std::exception& error) {
    return demangle(typeid(error).name()) + ": " + error.what();
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type != nullptr ? demangle(type->name()) + " (not a std::exception)"
                           : "unknown exception";
  }
}

}  // namespace eddy::detail
