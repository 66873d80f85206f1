// eddy::process: waiting, communicating, signalling.
#include "eddy/process.hpp"

#include <signal.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

#include "eddy/errors.hpp"
#include "eddy/gather.hpp"

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
