// The live task dump (loop_options::dump_signal, EDDY_DUMP_SIGNAL): a signal handler, run as
// an ordinary callback on the loop's thread, that prints the loop's task tree to stderr.
#include "dump_signal.hpp"

#include <fmt/format.h>
#include <strings.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "eddy/call_graph.hpp"
#include "eddy/loop.hpp"

namespace eddy::detail {

namespace {

bool same_name(std::string_view text, const char* name) noexcept {
  return text.size() == std::char_traits<char>::length(name) &&
         ::strncasecmp(text.data(), name, text.size()) == 0;
}

/// What is printed on the signal: a heading that says which process and loop, then the tree.
void print_dump(event_loop& loop, int signo) noexcept {
  try {
    const char* name = ::sigabbrev_np(signo);
    std::string tree = format_task_tree(loop);
    if (tree.empty()) {
      tree = "(no pending tasks)\n";
    }
    const std::string text =
        fmt::format("eddy: tasks of the {} loop in process {} (SIG{}):\n{}", loop.backend_name(),
                    ::getpid(), name != nullptr ? name : std::to_string(signo), tree);
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  } catch (...) {
    std::fputs("eddy: the task dump could not be made (out of memory)\n", stderr);
  }
}

void install(event_loop& loop, int signo) {
  loop.add_signal_handler(signo, [&loop, signo] { print_dump(loop, signo); });
}

}  // namespace

std::optional<int> parse_signal(std::string_view text) noexcept {
  int number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && error == std::errc() && end == text.data() + text.size()) {
    return number >= 1 && number < NSIG ? std::optional<int>(number) : std::nullopt;
  }
  if (text.size() > 3 && same_name(text.substr(0, 3), "SIG")) {
    text.remove_prefix(3);
  }
  for (int signo = 1; signo < NSIG; ++signo) {
    const char* name = ::sigabbrev_np(signo);
    if (name != nullptr && same_name(text, name)) {
      return signo;
    }
  }
  return std::nullopt;
}

void install_dump_signal(event_loop& loop, std::optional<int> requested) {
  if (requested) {
    if (*requested != 0) {
      install(loop, *requested);
    }
    return;
  }
  const char* value = std::getenv("EDDY_DUMP_SIGNAL");
  if (value == nullptr || *value == '\0') [[likely]] {
    return;
  }
  const std::optional<int> signo = parse_signal(value);
  if (!signo) {
    std::fprintf(stderr, "eddy: EDDY_DUMP_SIGNAL=%s names no signal; no dump signal installed\n",
                 value);
    return;
  }
  try {
    install(loop, *signo);
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "eddy: EDDY_DUMP_SIGNAL=%s: %s; no dump signal installed\n", value,
                 error.what());
  } catch (const std::runtime_error&) {
    // Another loop of this process has it (the first loop made takes it): this one goes
    // without, as loop_options says.
  }
}

}  // namespace eddy::detail
