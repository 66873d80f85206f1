// Child processes (asyncio's create_subprocess_exec / create_subprocess_shell).
//
// Three things, one after the other:
//  1. run `ls -l /` and count the lines of its output, reading them one by one;
//  2. run a shell pipeline, with a quoted word built from outside data;
//  3. feed a child on its stdin and collect what it writes (communicate).
// Expected output (the line count depends on the machine):
//   ls -l / printed 23 lines, exit code 0
//   pipeline: 2 lines matched 'it's', exit code 0
//   tr said: HELLO FROM EDDY
//   tr exit code 0
#include <eddy/eddy.hpp>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

// 1. Read a child's stdout line by line while it runs.
eddy::coro<void> count_lines_of_ls() {
  // Options and argument lists are named before the co_await (a GCC 12 coroutine bug; see
  // docs/coroutine-lifetimes.md).
  std::vector<std::string> args{"-l", "/"};
  eddy::process_options options{.stdout_to = eddy::stdio::pipe()};
  eddy::process ls = co_await eddy::create_subprocess_exec("ls", args, std::move(options));
  int lines = 0;
  for (;;) {
    std::string line = co_await ls.stdout_stream()->readline();
    if (line.empty()) {
      break;  // end of file: ls closed its stdout
    }
    ++lines;
  }
  int code = co_await ls.wait();
  std::printf("ls -l / printed %d lines, exit code %d\n", lines, code);
}

// 2. A pipeline through /bin/sh. The pattern comes "from outside": shell_quote keeps it one
//    word, whatever it contains.
eddy::coro<void> run_pipeline() {
  std::string pattern = "it's";
  std::string command = "printf '%s\\n' \"it's here\" 'not this' \"it's there\" | grep -c " +
                        eddy::shell_quote(pattern);
  eddy::process_options options{.stdout_to = eddy::stdio::pipe()};
  eddy::process shell = co_await eddy::create_subprocess_shell(command, std::move(options));
  eddy::communicate_result output = co_await shell.communicate();
  std::string count = output.stdout_data.substr(0, output.stdout_data.find('\n'));
  std::printf("pipeline: %s lines matched '%s', exit code %d\n", count.c_str(), pattern.c_str(),
              shell.returncode().value_or(-1));
}

// 3. Write to a child's stdin and read its stdout at the same time.
eddy::coro<void> feed_a_child() {
  std::vector<std::string> args{"a-z", "A-Z"};
  eddy::process_options options{.stdin_from = eddy::stdio::pipe(),
                                .stdout_to = eddy::stdio::pipe()};
  eddy::process tr = co_await eddy::create_subprocess_exec("tr", args, std::move(options));
  eddy::communicate_result output = co_await tr.communicate("hello from eddy\n");
  std::printf("tr said: %s", output.stdout_data.c_str());
  std::printf("tr exit code %d\n", tr.returncode().value_or(-1));
}

eddy::coro<void> main_task() {
  co_await count_lines_of_ls();
  co_await run_pipeline();
  co_await feed_a_child();
}

int main() { eddy::run(main_task()); }
