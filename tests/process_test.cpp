#include "eddy/process.hpp"
// Child processes (asyncio's create_subprocess_exec / create_subprocess_shell and
// asyncio.subprocess.Process, after CPython's test_asyncio/test_subprocess.py): real children
// (/bin/sh, cat, head, true), real pipes, real signals.

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "eddy/gather.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "eddy/timeout.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::caught;

eddy::process_options piped_output() { return {.stdout_to = eddy::stdio::pipe()}; }
eddy::process_options stdin_and_stdout_piped() {
  return {.stdin_from = eddy::stdio::pipe(), .stdout_to = eddy::stdio::pipe()};
}

eddy::coro<std::string> shell_output(std::string command) {
  eddy::process_options options = piped_output();
  eddy::process proc =
      co_await eddy::create_subprocess_shell(std::move(command), std::move(options));
  eddy::communicate_result output = co_await proc.communicate();
  co_return output.stdout_data;
}

/// Whether `pid` is a zombie (exited, not reaped) or gone.
std::string process_state(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return "gone";
  }
  char text[512] = {};
  ssize_t count = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  std::string stat(text, count > 0 ? static_cast<std::size_t>(count) : 0);
  std::size_t after_name = stat.rfind(')');
  return after_name == std::string::npos || after_name + 2 >= stat.size()
             ? "?"
             : stat.substr(after_name + 2, 1);
}

TEST_CASE("create_subprocess_exec runs a program and wait() yields its exit code") {
  int code = eddy::run([]() -> eddy::coro<int> {
    std::vector<std::string> args{"-c", "exit 3"};
    eddy::process proc = co_await eddy::create_subprocess_exec("/bin/sh", args);
    CHECK(proc.pid() > 0);
    int returned = co_await proc.wait();
    CHECK(proc.returncode() == 3);
    co_return returned;
  }());
  CHECK(code == 3);
}

TEST_CASE("returncode is empty while the child runs, and set when it exits even if no one waits") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> args{"0.05"};
    eddy::process proc = co_await eddy::create_subprocess_exec("sleep", args);
    CHECK_FALSE(proc.returncode().has_value());
    co_await eddy::sleep(300ms);
    CHECK(proc.returncode() == 0);
    CHECK(process_state(proc.pid()) == "gone");  // reaped without a wait()
  }());
}

TEST_CASE("stdout pipe: the child's output is read through a stream_reader") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> args{"-c", "echo one; echo two"};
    eddy::process_options options = piped_output();
    eddy::process proc = co_await eddy::create_subprocess_exec("/bin/sh", args, std::move(options));
    REQUIRE(proc.stdout_stream().has_value());
    CHECK_FALSE(proc.stdin_stream().has_value());
    CHECK_FALSE(proc.stderr_stream().has_value());
    std::string first = co_await proc.stdout_stream()->readline();
    std::string second = co_await proc.stdout_stream()->readline();
    std::string end = co_await proc.stdout_stream()->readline();
    CHECK(first == "one\n");
    CHECK(second == "two\n");
    CHECK(end.empty());
    int code = co_await proc.wait();
    CHECK(code == 0);
  }());
}

TEST_CASE("stdin pipe: a stream_writer feeds the child") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::process_options options = stdin_and_stdout_piped();
    eddy::process proc = co_await eddy::create_subprocess_exec("cat", {}, std::move(options));
    proc.stdin_stream()->write("hello\n");
    co_await proc.stdin_stream()->drain();
    std::string echoed = co_await proc.stdout_stream()->readline();
    CHECK(echoed == "hello\n");
    proc.stdin_stream()->close();
    std::string rest = co_await proc.stdout_stream()->read();
    CHECK(rest.empty());
    int code = co_await proc.wait();
    CHECK(code == 0);
  }());
}

TEST_CASE("communicate collects stdout and stderr separately, and stderr can join stdout") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::process_options separate_pipes{.stdout_to = eddy::stdio::pipe(),
                                         .stderr_to = eddy::stdio::pipe()};
    eddy::process separate = co_await eddy::create_subprocess_shell(
        "echo out; echo err >&2; exit 5", std::move(separate_pipes));
    eddy::communicate_result both = co_await separate.communicate();
    CHECK(both.stdout_data == "out\n");
    CHECK(both.stderr_data == "err\n");
    CHECK(separate.returncode() == 5);

    eddy::process_options one_pipe{.stdout_to = eddy::stdio::pipe(),
                                   .stderr_to = eddy::stdio::to_stdout()};
    eddy::process joined =
        co_await eddy::create_subprocess_shell("echo out; echo err >&2", std::move(one_pipe));
    eddy::communicate_result merged = co_await joined.communicate();
    CHECK(merged.stdout_data == "out\nerr\n");
    CHECK(merged.stderr_data.empty());
  }());
}

TEST_CASE("communicate moves 10 MiB each way at once without deadlock") {
  eddy::run([]() -> eddy::coro<void> {
    std::string input(10 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < input.size(); ++i) {
      input[i] = static_cast<char>('a' + i % 26);
    }
    // cat writes what it reads: neither side can finish its direction first.
    eddy::process_options options = stdin_and_stdout_piped();
    eddy::process proc = co_await eddy::create_subprocess_exec("cat", {}, std::move(options));
    eddy::communicate_result output = co_await proc.communicate(input);
    CHECK(output.stdout_data.size() == input.size());
    CHECK(output.stdout_data == input);
    CHECK(proc.returncode() == 0);
  }());
}

TEST_CASE("communicate ignores a child that stops reading its stdin (EPIPE)") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::process_options options = stdin_and_stdout_piped();
    eddy::process proc = co_await eddy::create_subprocess_shell("head -c 10", std::move(options));
    eddy::communicate_result output = co_await proc.communicate(std::string(4 * 1024 * 1024, 'x'));
    CHECK(output.stdout_data == std::string(10, 'x'));
    CHECK(proc.returncode() == 0);
  }());
}

TEST_CASE("devnull, inherited and explicit descriptors as the child's streams") {
  eddy_test::temp_dir directory;
  std::string path = directory.file("out.txt");
  int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(file >= 0);
  eddy::run([](int target) -> eddy::coro<void> {
    eddy::process_options into_file{.stdin_from = eddy::stdio::devnull(),
                                    .stdout_to = eddy::stdio::descriptor(target)};
    eddy::process to_file =
        co_await eddy::create_subprocess_shell("echo to the file; cat", std::move(into_file));
    int code = co_await to_file.wait();
    CHECK(code == 0);
    eddy::process_options discarded{.stdout_to = eddy::stdio::devnull()};
    eddy::process quiet = co_await eddy::create_subprocess_shell("echo gone", std::move(discarded));
    code = co_await quiet.wait();
    CHECK(code == 0);
  }(file));
  ::close(file);
  int reread = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  char text[64] = {};
  ssize_t count = ::read(reread, text, sizeof text);
  ::close(reread);
  CHECK(std::string(text, static_cast<std::size_t>(std::max<ssize_t>(count, 0))) ==
        "to the file\n");
}

TEST_CASE("cwd and env choose the child's directory and whole environment") {
  eddy_test::temp_dir directory;
  std::string seen = eddy::run([](std::string where) -> eddy::coro<std::string> {
    std::vector<std::string> args{"-c", "pwd; echo \"$GREETING\"; echo \"${HOME:-unset}\""};
    eddy::process_options options{.stdout_to = eddy::stdio::pipe(),
                                  .cwd = std::move(where),
                                  .env = std::map<std::string, std::string>{{"GREETING", "hi"}}};
    eddy::process proc = co_await eddy::create_subprocess_exec("/bin/sh", args, std::move(options));
    eddy::communicate_result output = co_await proc.communicate();
    co_return output.stdout_data;
  }(directory.path()));
  CHECK(seen == directory.path() + "\nhi\nunset\n");
}

TEST_CASE("a program that does not exist throws ENOENT from the await, not from the child") {
  eddy::run([]() -> eddy::coro<void> {
    auto missing = co_await caught<std::system_error>(
        eddy::create_subprocess_exec("/nonexistent/eddy-no-such-program"));
    REQUIRE(missing.has_value());
    CHECK(missing->code() == std::errc::no_such_file_or_directory);
    auto not_in_path =
        co_await caught<std::system_error>(eddy::create_subprocess_exec("eddy-no-such-program"));
    REQUIRE(not_in_path.has_value());
    CHECK(not_in_path->code() == std::errc::no_such_file_or_directory);
    eddy::process_options nowhere{.cwd = "/nonexistent/eddy-dir"};
    auto bad_cwd = co_await caught<std::system_error>(
        eddy::create_subprocess_exec("true", {}, std::move(nowhere)));
    REQUIRE(bad_cwd.has_value());
    CHECK(bad_cwd->code() == std::errc::no_such_file_or_directory);
  }());
}

TEST_CASE("bad options throw std::invalid_argument naming the function") {
  eddy::run([]() -> eddy::coro<void> {
    auto empty_program = co_await caught<std::invalid_argument>(eddy::create_subprocess_exec(""));
    REQUIRE(empty_program.has_value());
    CHECK(std::string(empty_program->what()) == "create_subprocess_exec: the program is empty");
    eddy::process_options stdout_to_itself{.stdout_to = eddy::stdio::to_stdout()};
    auto misplaced = co_await caught<std::invalid_argument>(
        eddy::create_subprocess_exec("true", {}, std::move(stdout_to_itself)));
    CHECK(misplaced.has_value());
    eddy::process_options negative_fd{.stdin_from = eddy::stdio::descriptor(-2)};
    auto negative = co_await caught<std::invalid_argument>(
        eddy::create_subprocess_shell("true", std::move(negative_fd)));
    CHECK(negative.has_value());
    std::vector<std::string> nul_args{std::string("a\0b", 3)};
    auto nul =
        co_await caught<std::invalid_argument>(eddy::create_subprocess_exec("echo", nul_args));
    CHECK(nul.has_value());
    eddy::process_options bad_name{.env = std::map<std::string, std::string>{{"A=B", "c"}}};
    auto bad_env = co_await caught<std::invalid_argument>(
        eddy::create_subprocess_exec("true", {}, std::move(bad_name)));
    CHECK(bad_env.has_value());
    eddy::process no_stdin = co_await eddy::create_subprocess_exec("true");
    CHECK_THROWS_AS(no_stdin.communicate("input"), std::invalid_argument);
    co_await no_stdin.wait();
  }());
  eddy::process empty;
  CHECK_FALSE(empty);
  CHECK_THROWS_AS(empty.pid(), eddy::invalid_state_error);
}

TEST_CASE("terminate, kill and send_signal; returncode is minus the signal number") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<std::string> args{"10"};
    eddy::process sleeper = co_await eddy::create_subprocess_exec("sleep", args);
    sleeper.terminate();
    int terminated = co_await sleeper.wait();
    CHECK(terminated == -SIGTERM);

    eddy::process other = co_await eddy::create_subprocess_exec("sleep", args);
    other.send_signal(SIGUSR1);
    int signalled = co_await other.wait();
    CHECK(signalled == -SIGUSR1);
    CHECK_THROWS_AS(other.send_signal(0), std::invalid_argument);
    // Reaped already: asyncio raises ProcessLookupError; eddy throws ESRCH.
    for (int each : {SIGTERM, SIGKILL, SIGUSR1}) {
      bool no_such_process = false;
      try {
        if (each == SIGTERM) {
          other.terminate();
        } else if (each == SIGKILL) {
          other.kill();
        } else {
          other.send_signal(each);
        }
      } catch (const std::system_error& error) {
        no_such_process = error.code().value() == ESRCH;
      }
      CHECK(no_such_process);
    }
  }());
}

TEST_CASE("kill ends a child that ignores SIGTERM") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::process_options options = piped_output();
    eddy::process stubborn = co_await eddy::create_subprocess_shell(
        "trap '' TERM; echo ready; while :; do sleep 0.01; done", std::move(options));
    std::string ready = co_await stubborn.stdout_stream()->readline();
    CHECK(ready == "ready\n");
    stubborn.terminate();
    std::optional<eddy::timeout_error> still_running =
        co_await caught<eddy::timeout_error>(eddy::wait_for(stubborn.wait(), 200ms));
    CHECK(still_running.has_value());
    CHECK_FALSE(stubborn.returncode().has_value());
    stubborn.kill();
    int code = co_await stubborn.wait();
    CHECK(code == -SIGKILL);
  }());
}

TEST_CASE("cancelling wait() or communicate() leaves the child running, and it is still reaped") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::process_options options = piped_output();
    std::vector<std::string> args{"5"};
    eddy::process proc = co_await eddy::create_subprocess_exec("sleep", args, std::move(options));
    auto waited = co_await caught<eddy::timeout_error>(eddy::wait_for(proc.wait(), 50ms));
    CHECK(waited.has_value());
    auto communicated =
        co_await caught<eddy::timeout_error>(eddy::wait_for(proc.communicate(), 50ms));
    CHECK(communicated.has_value());
    CHECK_FALSE(proc.returncode().has_value());
    CHECK(process_state(proc.pid()) == "S");  // still sleeping, not killed
    proc.kill();
    int code = co_await proc.wait();
    CHECK(code == -SIGKILL);
  }());
}

TEST_CASE("a child whose process handle was dropped is still reaped") {
  pid_t pid = eddy::run([]() -> eddy::coro<pid_t> {
    pid_t started = 0;
    {
      std::vector<std::string> args{"0.05"};
      eddy::process proc = co_await eddy::create_subprocess_exec("sleep", args);
      started = proc.pid();
    }
    co_await eddy::sleep(300ms);
    co_return started;
  }());
  CHECK(process_state(pid) == "gone");
}

TEST_CASE("a child still running when run() ends is reaped once it exits; no zombie is left") {
  pid_t pid = eddy::run([]() -> eddy::coro<pid_t> {
    std::vector<std::string> args{"0.1"};
    eddy::process proc = co_await eddy::create_subprocess_exec("sleep", args);
    co_return proc.pid();
  }());
  CHECK(process_state(pid) != "gone");  // not killed
  for (int i = 0; i < 200 && process_state(pid) != "gone"; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(process_state(pid) == "gone");
}

eddy::coro<void> run_short_lived_children(int count) {
  for (int i = 0; i < count; ++i) {
    eddy::process_options options = piped_output();
    eddy::process proc = co_await eddy::create_subprocess_exec("true", {}, std::move(options));
    eddy::communicate_result output = co_await proc.communicate();
    CHECK(output.stdout_data.empty());
    CHECK(proc.returncode() == 0);
  }
}

TEST_CASE("1,000 short-lived children leak no descriptor and leave no zombie") {
  int descriptors_before = eddy_test::open_descriptor_count();
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<void>> workers;
    for (int i = 0; i < 20; ++i) {
      workers.push_back(eddy::create_task(run_short_lived_children(50)));
    }
    auto all_done = eddy::gather(std::move(workers));
    co_await all_done;
  }());
  CHECK(eddy_test::open_descriptor_count() == descriptors_before);
  siginfo_t info{};
  CHECK(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) == -1);  // no child left at all
  CHECK(errno == ECHILD);
}

/// The pipes this process has open, as readlink shows them ("pipe:[1234]").
std::set<std::string> open_pipes() {
  std::set<std::string> pipes;
  DIR* directory = ::opendir("/proc/self/fd");
  while (const dirent* entry = ::readdir(directory)) {
    std::string link = "/proc/self/fd/" + std::string(entry->d_name);
    char target[128] = {};
    ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
    if (length > 0 && std::string_view(target).starts_with("pipe:")) {
      pipes.insert(std::string(target, static_cast<std::size_t>(length)));
    }
  }
  ::closedir(directory);
  return pipes;
}

TEST_CASE("a child never inherits another child's pipes") {
  eddy::run([]() -> eddy::coro<void> {
    std::set<std::string> before = open_pipes();
    eddy::process_options options = stdin_and_stdout_piped();
    eddy::process holder = co_await eddy::create_subprocess_exec("cat", {}, std::move(options));
    std::set<std::string> holders_pipes;
    for (const std::string& pipe : open_pipes()) {
      if (!before.contains(pipe)) {
        holders_pipes.insert(pipe);
      }
    }
    CHECK(holders_pipes.size() == 2);
    // A second child lists the shell's own descriptors: none of holder's pipes is among them.
    std::string listing = co_await shell_output("ls -l /proc/$$/fd");
    INFO(listing);
    CHECK(listing.find(" 1 -> pipe:") != std::string::npos);  // its own stdout pipe, to us
    for (const std::string& pipe : holders_pipes) {
      CHECK(listing.find(pipe) == std::string::npos);
    }
    holder.stdin_stream()->close();
    co_await holder.wait();
  }());
}

TEST_CASE("create_subprocess_shell runs a pipeline; shell_quote makes any string one word") {
  std::string counted = eddy::run(shell_output("printf 'a\\nb\\nc\\n' | wc -l"));
  CHECK(counted.find('3') != std::string::npos);

  CHECK(eddy::shell_quote("") == "''");
  CHECK(eddy::shell_quote("plain-word_1.txt") == "plain-word_1.txt");
  CHECK(eddy::shell_quote("two words") == "'two words'");
  CHECK(eddy::shell_quote("it's") == "'it'\"'\"'s'");
  std::string nasty = "$(touch /tmp/eddy-pwned); `x` 'q' \"d\" \\ ; | & * ?";
  std::string echoed = eddy::run(shell_output("printf %s " + eddy::shell_quote(nasty)));
  CHECK(echoed == nasty);
}

TEST_CASE("a missing command under the shell is exit status 127, not an exception") {
  int code = eddy::run([]() -> eddy::coro<int> {
    eddy::process_options quiet{.stderr_to = eddy::stdio::devnull()};
    eddy::process proc =
        co_await eddy::create_subprocess_shell("eddy-no-such-command", std::move(quiet));
    co_return co_await proc.wait();
  }());
  CHECK(code == 127);
}

}  // namespace
