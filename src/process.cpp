// eddy::process: waiting, communicating, signalling.
#include "eddy/process.hpp"

#include <signal.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "eddy/detail/resource_warning.hpp"
#include "eddy/errors.hpp"
#include "eddy/gather.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace {

// Free coroutines with by-value parameters: the returned coro owns what it uses, so it may be
// scheduled or outlive the process handle it came from.

coro<int> wait_for_exit(std::shared_ptr<detail::child_watch> child) {
  co_await child->exited().wait();
  co_return *child->returncode();
}

coro<void> feed_stdin(stream_writer writer, std::string input) {
  try {
    if (!input.empty()) {
      writer.write(input);
      co_await writer.drain();
    }
  } catch (const std::system_error& error) {
    // A child may stop reading early; as asyncio, communicate() does not call that an error.
    if (error.code() != std::errc::broken_pipe && error.code() != std::errc::connection_reset) {
      throw;
    }
  }
  writer.close();
}

coro<void> nothing_to_feed() { co_return; }

coro<std::string> read_to_end(stream_reader reader) { co_return co_await reader.read(-1); }

coro<std::string> nothing_to_read() { co_return std::string(); }

coro<communicate_result> communicate_with(std::shared_ptr<detail::child_watch> child,
                                          std::optional<stream_writer> in,
                                          std::optional<stream_reader> out,
                                          std::optional<stream_reader> err, std::string input) {
  coro<void> feeding = in ? feed_stdin(*in, std::move(input)) : nothing_to_feed();
  coro<std::string> reading_out = out ? read_to_end(*out) : nothing_to_read();
  coro<std::string> reading_err = err ? read_to_end(*err) : nothing_to_read();
  auto all_transfers = gather(std::move(feeding), std::move(reading_out), std::move(reading_err));
  auto transferred = co_await all_transfers;
  communicate_result result{std::move(std::get<1>(transferred)),
                            std::move(std::get<2>(transferred))};
  co_await child->exited().wait();
  co_return result;
}

}  // namespace

process& process::operator=(const process& other) {
  process copy(other);
  std::swap(child_, copy.child_);
  std::swap(stdin_, copy.stdin_);
  std::swap(stdout_, copy.stdout_);
  std::swap(stderr_, copy.stderr_);
  return *this;  // copy, holding what this handle held, goes as a process: ~process reports
}

process& process::operator=(process&& other) noexcept {
  process taken(std::move(other));
  std::swap(child_, taken.child_);
  std::swap(stdin_, taken.stdin_);
  std::swap(stdout_, taken.stdout_);
  std::swap(stderr_, taken.stderr_);
  return *this;
}

process::~process() {
  if (stdin_ || stdout_ || stderr_) {
    report_pipes_left_open();
  }
}

void process::report_pipes_left_open() const noexcept {
  struct pipe {
    const char* name;
    detail::stream_state* state;
  };
  const pipe pipes[] = {
      {"stdin", stdin_ ? detail::stream_access::raw(*stdin_) : nullptr},
      {"stdout", stdout_ ? detail::stream_access::raw(*stdout_) : nullptr},
      {"stderr", stderr_ ? detail::stream_access::raw(*stderr_) : nullptr},
  };
  // Only the pipes this handle is the last to hold close now; and only those not visibly
  // closed already are worth the loop lookup.
  detail::stream_state* any_closing_now = nullptr;
  for (const pipe& each : pipes) {
    if (each.state != nullptr && each.state->handle_count() == 1 && !each.state->is_closing()) {
      any_closing_now = each.state;
    }
  }
  if (any_closing_now == nullptr || !child_) {
    return;
  }
  detail::report_unclosed(any_closing_now->loop(), any_closing_now->loop_id(), [&] {
    std::string open_pipes;
    for (const pipe& each : pipes) {
      if (each.state != nullptr && each.state->handle_count() == 1 &&
          each.state->pipe_left_open()) {
        open_pipes += (open_pipes.empty() ? "" : ", ") + std::string(each.name);
        each.state->mark_unclosed_reported();  // one report for the process, not one per pipe
      }
    }
    if (open_pipes.empty()) {
      return std::string();
    }
    const std::optional<int>& code = child_->returncode();
    const std::string status = code ? fmt::format("returncode={}", *code) : "running";
    return fmt::format("process <pid={} {}> destroyed while its pipes were open: {}", child_->pid(),
                       status, open_pipes);
  });
}

detail::child_watch& process::live(const char* what) const {
  if (!child_) {
    throw invalid_state_error(std::string("process::") + what + ": the process handle is empty");
  }
  return *child_;
}

coro<int> process::wait() const {
  live("wait");
  return wait_for_exit(child_);
}

coro<communicate_result> process::communicate(std::string input) const {
  live("communicate");
  if (!input.empty() && !stdin_) {
    throw std::invalid_argument("process::communicate: input given (" +
                                std::to_string(input.size()) + " bytes) but stdin is not a pipe");
  }
  return communicate_with(child_, stdin_, stdout_, stderr_, std::move(input));
}

void process::send_signal(int signo) const { live("send_signal").send_signal(signo); }
void process::terminate() const { live("terminate").send_signal(SIGTERM); }
void process::kill() const { live("kill").send_signal(SIGKILL); }

}  // namespace eddy
