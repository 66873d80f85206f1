// Child processes (asyncio's create_subprocess_exec, create_subprocess_shell and
// asyncio.subprocess.Process). Guide: docs/subprocesses.md.
#pragma once

#include <sys/types.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/detail/child_watch.hpp"
#include "eddy/net/stream.hpp"
#include "eddy/optional_arg.hpp"

namespace eddy {

/// Where one of a child's standard streams goes: asyncio's stdin=/stdout=/stderr= values
/// (None, PIPE, DEVNULL, STDOUT, or a file descriptor).
class stdio {
 public:
  enum class kind : std::uint8_t {
    inherit,     ///< the parent's own stream (asyncio: None)
    pipe,        ///< a new pipe; the process offers its end as a stream (asyncio.subprocess.PIPE)
    devnull,     ///< /dev/null (asyncio.subprocess.DEVNULL)
    to_stdout,   ///< stderr only: wherever stdout goes (asyncio.subprocess.STDOUT)
    descriptor,  ///< an open descriptor of the parent, which keeps owning it
  };

  /// Inherit.
  constexpr stdio() noexcept = default;
  [[nodiscard]] static constexpr stdio inherit() noexcept { return stdio(kind::inherit, -1); }
  [[nodiscard]] static constexpr stdio pipe() noexcept { return stdio(kind::pipe, -1); }
  [[nodiscard]] static constexpr stdio devnull() noexcept { return stdio(kind::devnull, -1); }
  /// For stderr_to only; create_subprocess_* throws std::invalid_argument elsewhere.
  [[nodiscard]] static constexpr stdio to_stdout() noexcept { return stdio(kind::to_stdout, -1); }
  /// The child gets a copy of `fd` (which stays the caller's to close, and may be closed as
  /// soon as the await of create_subprocess_* returns). create_subprocess_* throws
  /// std::invalid_argument for fd < 0.
  [[nodiscard]] static constexpr stdio descriptor(int fd) noexcept {
    return stdio(kind::descriptor, fd);
  }

  [[nodiscard]] constexpr kind which() const noexcept { return kind_; }
  [[nodiscard]] constexpr int fd() const noexcept { return fd_; }

 private:
  constexpr stdio(kind which, int fd) noexcept : kind_(which), fd_(fd) {}
  kind kind_ = kind::inherit;
  int fd_ = -1;
};

/// How create_subprocess_exec / create_subprocess_shell start the child. Designated
/// initialisers read like asyncio's keyword arguments, and may be written inside the
/// co_await: `{.stdin_from = eddy::stdio::pipe(), .stdout_to = eddy::stdio::pipe(),
/// .cwd = "/tmp"}`. (The optional fields are eddy::optional_arg rather than std::optional so
/// that this is correct under GCC 12 too; see optional_arg.hpp.)
struct process_options {
  stdio stdin_from = stdio::inherit();
  stdio stdout_to = stdio::inherit();
  stdio stderr_to = stdio::inherit();
  /// The child's working directory (default: the parent's).
  optional_arg<std::string> cwd = std::nullopt;
  /// The child's whole environment, NAME -> value (default: the parent's). A program name
  /// without "/" is still looked up in the parent's PATH.
  optional_arg<std::map<std::string, std::string>> env = std::nullopt;
  /// The buffer limit of the stdout/stderr readers (asyncio's limit=).
  std::size_t limit = stream_reader::default_limit;
};

/// The arguments of create_subprocess_exec after the program (asyncio's *args): a
/// std::vector<std::string>, or the strings themselves, braced (`{"-l", dir}`) or, for one,
/// bare (`"-l"`). A class rather than the vector itself because GCC 12 cannot compile a
/// braced list of strings for a std::vector inside a co_await ("array used as initializer").
class process_args {
 public:
  /// No arguments.
  process_args() = default;
  /// These arguments.
  process_args(std::vector<std::string> args)
      : args_(std::move(args)) {}  // NOLINT(google-explicit-constructor)
  /// One argument per string (anything a std::string can be made from).
  template <class... Strings>
    requires(sizeof...(Strings) > 0 && (std::constructible_from<std::string, Strings> && ...))
  process_args(Strings&&... args) {  // NOLINT(google-explicit-constructor)
    args_.reserve(sizeof...(Strings));
    (args_.emplace_back(std::forward<Strings>(args)), ...);
  }

  /// The arguments, in order.
  [[nodiscard]] const std::vector<std::string>& values() const& noexcept { return args_; }
  [[nodiscard]] std::vector<std::string> values() && noexcept { return std::move(args_); }

 private:
  std::vector<std::string> args_;
};

/// What communicate() collects: everything the child wrote to its stdout and stderr pipes
/// (empty for a stream that is not a pipe; asyncio gives None there).
struct communicate_result {
  std::string stdout_data;
  std::string stderr_data;
};

/// A started child process (asyncio.subprocess.Process).
///
/// A cheap copyable handle: copies share the child and its pipes. Loop-thread only. The loop
/// reaps the child when it exits, whether or not anyone waits; dropping every handle closes
/// the parent's ends of the pipes but neither kills nor detaches the child, and it is still
/// reaped (if the loop closes first, a background thread reaps it). eddy never kills a child
/// on its own.
///
/// The streams are reached through stdin_stream(), stdout_stream() and stderr_stream()
/// rather than asyncio's proc.stdin/stdout/stderr: those three names are C macros.
///
/// In debug mode, dropping the last handle while a pipe is still open reports, through the
/// loop's exception handler, "process <pid=1234 running> destroyed while its pipes were
/// open: stdin, stdout" (asyncio's ResourceWarning for an unclosed subprocess transport),
/// then closes the pipes as always. A pipe counts as open as long as asyncio's transport would
/// still be open: stdin until it is closed (stdin_stream()->close()) or the child closed its
/// end (it exited, say); stdout and stderr until they were read to end of file or the child
/// closed its end. A child that is still running is not reported by itself (see above).
/// Pipes whose stream handles were copied out and outlive the process are not counted: they
/// close when those copies go (a stdin writer then reports as a stream_writer would).
class process {
 public:
  /// An empty handle; every member but operator bool throws invalid_state_error.
  process() noexcept = default;
  /// Another handle on the same child and pipes.
  process(const process& other) = default;
  /// Takes other's handle; other is empty.
  process(process&& other) noexcept = default;
  /// Drops this handle (as the destructor) and shares other's.
  process& operator=(const process& other);
  /// Drops this handle (as the destructor) and takes other's; other is empty.
  process& operator=(process&& other) noexcept;
  /// Drops the handle; the last one closes the parent's ends of the pipes (in debug mode
  /// reporting those still open, see the class comment).
  ~process();

  /// The child's process id.
  [[nodiscard]] pid_t pid() const { return live("pid").pid(); }

  /// The exit code once the child has exited and been reaped, -N if signal N ended it (as
  /// asyncio), empty while it runs. The loop updates it as soon as the child exits, even if
  /// no one waits.
  [[nodiscard]] std::optional<int> returncode() const { return live("returncode").returncode(); }

  /// `co_await proc.wait()`: waits for the child to exit and yields returncode(). Returns at
  /// once if it already has. Does not read the pipes: a child that fills a pipe no one reads
  /// blocks forever (as asyncio warns); use communicate() then.
  /// Cancel safety: cancelling stops the wait only; the child keeps running and is still
  /// reaped, nothing leaks.
  [[nodiscard]] coro<int> wait() const;

  /// `co_await proc.communicate(input)`: writes `input` to stdin and closes it, while reading
  /// stdout and stderr to end of file, all at once (so large outputs in both directions do
  /// not deadlock); then waits for the child to exit. A child that stops reading stdin early
  /// (EPIPE) is not an error. Throws std::invalid_argument when `input` is not empty and stdin
  /// is not a pipe.
  /// Cancel safety: cancelling stops the transfer and the wait and does not kill the child;
  /// what was read so far is lost (as asyncio), stdin may be left open.
  [[nodiscard]] coro<communicate_result> communicate(std::string input = {}) const;

  /// Sends signal `signo` (pidfd_send_signal, so never to a process that reused the pid).
  /// Throws std::invalid_argument for a number that is not a signal, and std::system_error
  /// with ESRCH once the child has exited and been reaped (asyncio's ProcessLookupError) or
  /// when the loop was closed first.
  void send_signal(int signo) const;
  /// send_signal(SIGTERM).
  void terminate() const;
  /// send_signal(SIGKILL).
  void kill() const;

  /// The writer to the child's stdin when it is a pipe (asyncio's proc.stdin), else empty.
  [[nodiscard]] const std::optional<stream_writer>& stdin_stream() const noexcept { return stdin_; }
  /// The reader of the child's stdout when it is a pipe (asyncio's proc.stdout), else empty.
  [[nodiscard]] const std::optional<stream_reader>& stdout_stream() const noexcept {
    return stdout_;
  }
  /// The reader of the child's stderr when it is a pipe (asyncio's proc.stderr), else empty.
  [[nodiscard]] const std::optional<stream_reader>& stderr_stream() const noexcept {
    return stderr_;
  }

  explicit operator bool() const noexcept { return child_ != nullptr; }

 private:
  friend struct process_access;
  detail::child_watch& live(const char* what) const;
  /// The debug-mode report of the destructor: the pipes this handle is the last to hold and
  /// that are still open.
  void report_pipes_left_open() const noexcept;

  std::shared_ptr<detail::child_watch> child_;
  std::optional<stream_writer> stdin_;
  std::optional<stream_reader> stdout_;
  std::optional<stream_reader> stderr_;
};

/// Starts `program` with arguments `args` (argv[0] is `program`; a name without "/" is
/// searched in PATH) and yields its process once it has started (asyncio's
/// create_subprocess_exec). No shell is involved, so arguments need no quoting.
///
/// Throws, from the await: std::system_error with the errno when the child cannot start (no
/// such program: ENOENT; not executable: EACCES; no such cwd: ENOENT); std::invalid_argument
/// for an empty program, stdio::to_stdout() anywhere but stderr_to, a negative descriptor, a
/// zero limit, or an environment name that is empty or holds '='; any of them with a "\0"
/// inside. Must be awaited on the loop's thread; never suspends.
[[nodiscard]] coro<process> create_subprocess_exec(std::string program, process_args args = {},
                                                   process_options options = {});

/// Runs `command` with /bin/sh -c (asyncio's create_subprocess_shell). The shell interprets
/// the whole string: quote every piece that comes from outside the program with shell_quote()
/// or, better, use create_subprocess_exec, or the command can be made to do anything
/// (shell injection). Throws like create_subprocess_exec; a command the shell cannot find is
/// not an error here but exit status 127.
[[nodiscard]] coro<process> create_subprocess_shell(std::string command,
                                                    process_options options = {});

/// `arg` quoted so that /bin/sh reads it back as one word, unchanged (Python's shlex.quote):
/// returned as is when it holds only safe characters, else in single quotes, with each ' as
/// '"'"'. The empty string gives ''.
[[nodiscard]] std::string shell_quote(std::string_view arg);

}  // namespace eddy
