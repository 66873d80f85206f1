// Small helpers shared by the unit tests: recording what reaches a loop's exception handler,
// awaiting something and catching what it throws, counting open descriptors, temporary
// directories, environment variables and stderr.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/exception_context.hpp"
#include "eddy/loop.hpp"
#include "eddy/time.hpp"

namespace eddy_test {

/// An exception type of the tests' own, so that a CHECK_THROWS_AS cannot be satisfied by
/// something eddy itself threw.
struct custom_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Lets the loop run `iterations` times (each await yields to the back of the ready queue).
inline eddy::coro<void> run_briefly(int iterations = 3) {
  for (int i = 0; i < iterations; ++i) {
    co_await eddy::sleep(std::chrono::seconds(0));
  }
}

/// `value`, after sleeping `delay`.
inline eddy::coro<int> return_after(std::chrono::milliseconds delay, int value) {
  co_await eddy::sleep(delay);
  co_return value;
}

/// Everything that reached a loop's exception handler, in order.
class error_log {
 public:
  /// Makes `loop` report to this log instead of stderr. The log must outlive the loop.
  void attach(eddy::event_loop& loop) {
    loop.set_exception_handler([this](eddy::event_loop&, const eddy::exception_context& context) {
      entries.push_back(context);
    });
  }

  /// How many reports carried exactly this message.
  [[nodiscard]] std::size_t count(std::string_view message) const {
    std::size_t matches = 0;
    for (const eddy::exception_context& entry : entries) {
      if (entry.message == message) {
        ++matches;
      }
    }
    return matches;
  }

  /// The messages, for Catch's failure output.
  [[nodiscard]] std::string messages() const {
    std::string all;
    for (const eddy::exception_context& entry : entries) {
      all += "[" + entry.message + " / " + entry.task_name + "] ";
    }
    return all;
  }

  std::vector<eddy::exception_context> entries;
};

/// Awaits `awaitable` (a coro, task or future, by value) and returns the Exception it threw,
/// or nothing if it completed normally. Anything else it throws propagates.
template <class Exception, class Awaitable>
eddy::coro<std::optional<Exception>> caught(Awaitable awaitable) {
  try {
    co_await std::move(awaitable);
  } catch (const Exception& error) {
    co_return error;
  }
  co_return std::nullopt;
}

/// Rethrows `error` and returns whether it is an Exception.
template <class Exception>
bool holds(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Exception&) {
    return true;
  } catch (...) {
    return false;
  }
}

/// The number of entries in /proc/self/fd (the descriptors this process has open).
inline int open_descriptor_count() {
  DIR* directory = ::opendir("/proc/self/fd");
  if (directory == nullptr) {
    throw std::runtime_error("cannot open /proc/self/fd");
  }
  int count = 0;
  while (const dirent* entry = ::readdir(directory)) {
    if (entry->d_name[0] != '.') {
      ++count;
    }
  }
  ::closedir(directory);
  return count - 1;  // the directory stream's own descriptor
}

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents when destroyed.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/eddy-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    if (DIR* directory = ::opendir(path_.c_str())) {
      while (const dirent* entry = ::readdir(directory)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..") {
          ::unlink((path_ + "/" + std::string(name)).c_str());
        }
      }
      ::closedir(directory);
    }
    ::rmdir(path_.c_str());
  }

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string file(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

 private:
  std::string path_;
};

/// Sets (or, with nullopt, unsets) an environment variable for one scope.
class scoped_env {
 public:
  scoped_env(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) {
      old_ = old;
    }
    apply(value);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;
  ~scoped_env() { apply(old_); }

 private:
  void apply(const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

/// Sends what is written to stderr (fd 2) to a temporary file until text() or destruction.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    if (file_ == nullptr || saved_ < 0 || ::dup2(::fileno(file_), 2) < 0) {
      throw std::runtime_error("cannot redirect stderr");
    }
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  ~stderr_capture() {
    restore();
    if (file_ != nullptr) {
      std::fclose(file_);
    }
  }

  /// Restores stderr and returns what was written meanwhile.
  std::string text() {
    restore();
    std::string captured;
    std::rewind(file_);
    char chunk[512];
    std::size_t count = 0;
    while ((count = std::fread(chunk, 1, sizeof chunk, file_)) > 0) {
      captured.append(chunk, count);
    }
    return captured;
  }

 private:
  void restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }

  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

}  // namespace eddy_test
