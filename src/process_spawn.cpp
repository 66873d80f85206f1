// create_subprocess_exec / create_subprocess_shell: pipes, posix_spawn, pidfd.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/process.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace eddy {

/// Fills in a process handle (process's private members).
struct process_access {
  static process make(std::shared_ptr<detail::child_watch> child, std::optional<stream_writer> in,
                      std::optional<stream_reader> out, std::optional<stream_reader> err) {
    process proc;
    proc.child_ = std::move(child);
    proc.stdin_ = std::move(in);
    proc.stdout_ = std::move(out);
    proc.stderr_ = std::move(err);
    return proc;
  }
};

namespace {

/// A descriptor closed when the scope ends unless released.
class owned_fd {
 public:
  owned_fd() noexcept = default;
  explicit owned_fd(int fd) noexcept : fd_(fd) {}
  owned_fd(owned_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  owned_fd& operator=(owned_fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~owned_fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::system_category(), what);
}

/// A close-on-exec duplicate of fd numbered 3 or more, so that installing the child's
/// descriptors 0, 1 and 2 in order never overwrites a source still to be installed.
owned_fd above_standard_streams(int fd, const char* what) {
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) {
    throw_errno(errno, std::string(what) + ": fcntl(F_DUPFD_CLOEXEC)");
  }
  return owned_fd(moved);
}

/// One of the child's standard streams being prepared.
struct stream_plan {
  stdio how;
  owned_fd child_end;   ///< what the child gets as its descriptor 0, 1 or 2 (pipe or copy)
  owned_fd parent_end;  ///< our end of a pipe, non-blocking
};

void prepare(stream_plan& plan, int target, const char* what) {
  switch (plan.how.which()) {
    case stdio::kind::inherit:
    case stdio::kind::devnull:
    case stdio::kind::to_stdout:
      return;
    case stdio::kind::descriptor:
      plan.child_end = above_standard_streams(plan.how.fd(), what);
      return;
    case stdio::kind::pipe: {
      int ends[2];
      if (::pipe2(ends, O_CLOEXEC) != 0) {
        throw_errno(errno, std::string(what) + ": pipe2");
      }
      owned_fd read_end(ends[0]);
      owned_fd write_end(ends[1]);
      if (target == STDIN_FILENO) {
        plan.child_end = std::move(read_end);
        plan.parent_end = std::move(write_end);
      } else {
        plan.child_end = std::move(write_end);
        plan.parent_end = std::move(read_end);
      }
      if (plan.child_end.get() < 3) {
        plan.child_end = above_standard_streams(plan.child_end.get(), what);
      }
      // O_NONBLOCK belongs to our end's open file description only: the child's stays blocking.
      if (::fcntl(plan.parent_end.get(), F_SETFL, O_NONBLOCK) != 0) {
        throw_errno(errno, std::string(what) + ": fcntl(O_NONBLOCK)");
      }
      return;
    }
  }
}

void check_no_nul(std::string_view text, const char* what, const char* name) {
  if (text.find('\0') != std::string_view::npos) {
    throw std::invalid_argument(std::string(what) + ": " + name + " contains a NUL byte");
  }
}

void validate(const char* what, const std::string& program, const std::vector<std::string>& args,
              const process_options& options) {
  if (program.empty()) {
    throw std::invalid_argument(std::string(what) + ": the program is empty");
  }
  check_no_nul(program, what, "the program");
  for (const std::string& arg : args) {
    check_no_nul(arg, what, "an argument");
  }
  const std::array<std::pair<const char*, stdio>, 3> streams{{{"stdin_from", options.stdin_from},
                                                              {"stdout_to", options.stdout_to},
                                                              {"stderr_to", options.stderr_to}}};
  for (const auto& [name, how] : streams) {
    if (how.which() == stdio::kind::to_stdout && std::string_view(name) != "stderr_to") {
      throw std::invalid_argument(std::string(what) +
                                  ": stdio::to_stdout() is only for stderr_to, not " + name);
    }
    if (how.which() == stdio::kind::descriptor && how.fd() < 0) {
      throw std::invalid_argument(std::string(what) + ": " + name + " is the invalid descriptor " +
                                  std::to_string(how.fd()));
    }
  }
  if (options.limit == 0) {
    throw std::invalid_argument(std::string(what) + ": the limit must be positive, not 0");
  }
  if (options.cwd) {
    check_no_nul(*options.cwd, what, "cwd");
  }
  if (options.env) {
    for (const auto& [name, value] : *options.env) {
      if (name.empty() || name.find('=') != std::string::npos) {
        throw std::invalid_argument(std::string(what) + ": invalid environment variable name '" +
                                    name + "'");
      }
      check_no_nul(name, what, "an environment variable name");
      check_no_nul(value, what, "an environment variable value");
    }
  }
}

/// posix_spawn's attributes and file actions, destroyed with the scope.
struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  spawn_setup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
  ~spawn_setup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
};

void check_setup(int error, const char* what) {
  if (error != 0) {
    throw_errno(error, std::string(what) + ": posix_spawn setup");
  }
}

process spawn(const char* what, const std::string& program, const std::vector<std::string>& argv,
              const process_options& options) {
  detail::loop_core& loop = detail::core_of(get_running_loop());
  loop.check_usable(what);

  std::array<stream_plan, 3> plans{
      stream_plan{options.stdin_from, {}, {}},
      stream_plan{options.stdout_to, {}, {}},
      stream_plan{options.stderr_to, {}, {}},
  };
  spawn_setup setup;
  for (int target = 0; target < 3; ++target) {
    stream_plan& plan = plans[static_cast<std::size_t>(target)];
    prepare(plan, target, what);
    switch (plan.how.which()) {
      case stdio::kind::inherit:
        break;
      case stdio::kind::devnull:
        check_setup(::posix_spawn_file_actions_addopen(&setup.actions, target, "/dev/null",
                                                       target == STDIN_FILENO ? O_RDONLY : O_WRONLY,
                                                       0),
                    what);
        break;
      case stdio::kind::to_stdout:
        check_setup(::posix_spawn_file_actions_adddup2(&setup.actions, STDOUT_FILENO, target),
                    what);
        break;
      case stdio::kind::descriptor:
      case stdio::kind::pipe:
        // dup2 clears close-on-exec on the copy; everything else of ours stays close-on-exec.
        check_setup(
            ::posix_spawn_file_actions_adddup2(&setup.actions, plan.child_end.get(), target), what);
        break;
    }
  }
  if (options.cwd) {
    check_setup(::posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd->c_str()), what);
  }
  // The child starts with no signal blocked, and with SIGPIPE and SIGXFSZ at their defaults
  // even if this process ignores them (Python's restore_signals).
  sigset_t no_signals;
  sigset_t defaults;
  ::sigemptyset(&no_signals);
  ::sigemptyset(&defaults);
  ::sigaddset(&defaults, SIGPIPE);
  ::sigaddset(&defaults, SIGXFSZ);
  check_setup(::posix_spawnattr_setsigmask(&setup.attributes, &no_signals), what);
  check_setup(::posix_spawnattr_setsigdefault(&setup.attributes, &defaults), what);
  check_setup(
      ::posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
      what);

  std::vector<char*> arguments;
  arguments.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    arguments.push_back(const_cast<char*>(arg.c_str()));  // exec does not write them
  }
  arguments.push_back(nullptr);
  std::vector<std::string> environment_entries;
  std::vector<char*> environment;
  if (options.env) {
    for (const auto& [name, value] : *options.env) {
      environment_entries.push_back(name + "=" + value);
    }
    for (std::string& entry : environment_entries) {
      environment.push_back(entry.data());
    }
    environment.push_back(nullptr);
  }

  pid_t pid = -1;
  // glibc runs the child with CLONE_VFORK and reports a failed exec (ENOENT, EACCES) or a
  // failed chdir as the return value, so failing to start throws here, in the parent.
  int error = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attributes,
                             arguments.data(), options.env ? environment.data() : environ);
  if (error != 0) {
    throw_errno(error, std::string(what) + ": cannot start '" + program + "'");
  }
  for (stream_plan& plan : plans) {
    plan.child_end.reset();
  }

  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C". pidfds are always
  // close-on-exec.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
  if (pidfd < 0) {
    int open_error = errno;
    // Without a pidfd the child cannot be watched: do not leave it running unobserved.
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw_errno(open_error, std::string(what) + ": pidfd_open");
  }
  std::shared_ptr<detail::child_watch> child = detail::child_watch::start(loop, pid, pidfd);

  std::optional<stream_writer> in;
  std::optional<stream_reader> out;
  std::optional<stream_reader> err;
  if (plans[0].parent_end.get() >= 0) {
    in = stream_writer::from_pipe(plans[0].parent_end.release());
  }
  if (plans[1].parent_end.get() >= 0) {
    out = stream_reader::from_pipe(plans[1].parent_end.release(), options.limit);
  }
  if (plans[2].parent_end.get() >= 0) {
    err = stream_reader::from_pipe(plans[2].parent_end.release(), options.limit);
  }
  return process_access::make(std::move(child), std::move(in), std::move(out), std::move(err));
}

}  // namespace

coro<process> create_subprocess_exec(std::string program, process_args arguments,
                                     process_options options) {
  std::vector<std::string> args = std::move(arguments).values();
  validate("create_subprocess_exec", program, args, options);
  args.insert(args.begin(), program);
  co_return spawn("create_subprocess_exec", program, args, options);
}

coro<process> create_subprocess_shell(std::string command, process_options options) {
  validate("create_subprocess_shell", "/bin/sh", {command}, options);
  std::vector<std::string> argv{"/bin/sh", "-c", std::move(command)};
  co_return spawn("create_subprocess_shell", "/bin/sh", argv, options);
}

std::string shell_quote(std::string_view arg) {
  if (arg.empty()) {
    return "''";
  }
  auto is_safe = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("@%+=:,./-_").find(c) != std::string_view::npos;
  };
  bool safe = true;
  for (char c : arg) {
    safe = safe && is_safe(c);
  }
  if (safe) {
    return std::string(arg);
  }
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\"'\"'";
    } else {
      quoted += c;
    }
  }
  quoted += "'";
  return quoted;
}

}  // namespace eddy
