// The texts of eddy/format.hpp: what asyncio's repr() shows, for eddy's objects.
#include "eddy/format.hpp"

#include <sys/socket.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <source_location>
#include <typeinfo>
#include <vector>

#include "describe.hpp"
#include "eddy/call_graph.hpp"
#include "eddy/detail/task_base.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace detail {

namespace {

const char* bool_word(bool value) { return value ? "true" : "false"; }

/// pending, finished (with the result or the exception), cancelled: asyncio's
/// _future_repr_info. A task asked to cancel and still running says "cancelling", as asyncio's
/// _task_repr_info.
void append_state(std::string& out, const future_base& state, const std::string* result) {
  switch (state.state()) {
    case future_base::status::pending:
      out += state.is_task() && static_cast<const task_base&>(state).cancelling() > 0 ? "cancelling"
                                                                                      : "pending";
      break;
    case future_base::status::finished:
      out += "finished";
      if (result != nullptr) {
        out += " result=";
        out += *result;
      }
      break;
    case future_base::status::failed:
      out += "finished exception=";
      out += exception_repr(state.stored_exception());
      break;
    case future_base::status::cancelled:
      out += "cancelled";
      break;
  }
}

/// "fd=7 peer=127.0.0.1:5555", "fd=5 pipe", or "closed": the connection's transport, named as
/// the unclosed-stream reports name it.
std::string transport_repr(const stream_state& state) {
  if (state.is_closed()) {
    return "closed";
  }
  std::string out = fmt::format("fd={}", state.fd());
  if (state.transport() != stream_state::kind::socket) {
    return out + " pipe";
  }
  // The peer names the connection; a Unix socket's accepted end has an unnamed peer, and its
  // own (bound) name says more.
  for (const bool peer : {true, false}) {
    address name;
    socklen_t length = address::capacity();
    const int status = peer ? ::getpeername(state.fd(), name.native(), &length)
                            : ::getsockname(state.fd(), name.native(), &length);
    if (status == 0) {
      name.set_native_length(length);
      const std::string text = name.to_string();
      if (!text.empty() && text != "unix:") {
        return out + (peer ? " peer=" : " local=") + text;
      }
    }
  }
  return out;
}

/// Python's lock repr: "[locked, waiters:1]", "[unset]".
std::string bracket(std::string_view name, std::string_view state, std::size_t waiters) {
  std::string out = fmt::format("<{} [{}", name, state);
  if (waiters > 0) {
    out += fmt::format(", waiters:{}", waiters);
  }
  return out + "]>";
}

std::string semaphore_repr(std::string_view name, const semaphore& sem) {
  const std::string state =
      sem.locked() ? std::string("locked") : fmt::format("unlocked, value:{}", sem.value());
  return bracket(name, state, sem.waiter_count());
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "'";
}

std::string exception_repr(const std::exception& error) {
  std::string type = demangle(typeid(error).name());
  const char* what = error.what();
  return what != nullptr && *what != '\0' ? type + ": " + what : type;
}

std::string exception_repr(const std::exception_ptr& error) {
  if (!error) {
    return "no exception";
  }
  try {
    std::rethrow_exception(error);
  } catch (const cancelled_error& cancellation) {
    return repr(cancellation);
  } catch (const keyboard_interrupt& interrupt) {
    return repr(interrupt);
  } catch (const std::exception& failure) {
    return exception_repr(failure);
  } catch (...) {
    return describe_exception(error);  // "int (not a std::exception)"
  }
}

std::string task_repr(const task_base* state, const std::string* result) {
  if (state == nullptr) {
    return "<task empty>";
  }
  std::string out = "<task name=" + quote(state->get_name()) + " state=";
  append_state(out, *state, result);
  // The coroutine and where it is (or where it ended), as the call graph names them: the
  // function cleaned by coroutine_name, the file as the compiler spelled it.
  const std::source_location where = state->coro_where();
  if (where.line() != 0) {
    out += fmt::format(" coro={}() at {}:{}", coroutine_name(where.function_name()),
                       where.file_name(), where.line());
  }
  if (!state->done()) {
    if (const wait_base* wait = state->waiting_in()) {
      const std::string what = wait->describe_wait();
      out += fmt::format(" wait_for=<{}>", what.empty() ? "unknown" : what);
    }
  }
  return out + ">";
}

std::string future_repr(const future_base* state, const std::string* result) {
  if (state == nullptr) {
    return "<future empty>";
  }
  std::string out = "<future ";
  append_state(out, *state, result);
  return out + ">";
}

std::string queue_repr(const queue_fields& fields) {
  // asyncio's Queue._format, in its order; each part but maxsize only when it has something.
  std::string out = fmt::format("<{} maxsize={}", fields.kind, fields.maxsize);
  if (fields.items != nullptr) {
    if (fields.stored > 0) {
      out += " _queue=" + *fields.items;
    }
  } else if (fields.qsize > 0) {
    out += fmt::format(" qsize={}", fields.qsize);
  }
  if (fields.getters > 0) {
    out += fmt::format(" _getters[{}]", fields.getters);
  }
  if (fields.putters > 0) {
    out += fmt::format(" _putters[{}]", fields.putters);
  }
  if (fields.unfinished > 0) {
    out += fmt::format(" tasks={}", fields.unfinished);
  }
  if (fields.shut_down) {
    out += " shutdown";
  }
  return out + ">";
}

std::ostream& write_repr(std::ostream& out, std::string_view text) { return out << text; }

std::string repr(const event_loop& loop) {
  // The backend is gone once the loop is closed.
  const std::string backend =
      loop.is_closed() ? std::string() : fmt::format("backend={} ", loop.backend_name());
  return fmt::format("<event_loop {}running={} closed={} debug={}>", backend,
                     bool_word(loop.is_running()), bool_word(loop.is_closed()),
                     bool_word(loop.get_debug()));
}

std::string repr(const process& child) {
  if (!child) {
    return "<process empty>";
  }
  const std::optional<int> code = child.returncode();
  return code ? fmt::format("<process pid={} returncode={}>", child.pid(), *code)
              : fmt::format("<process pid={} running>", child.pid());
}

std::string repr(const server& listening) {
  if (!listening) {
    return "<server empty>";
  }
  const std::vector<address> sockets = listening.sockets();
  if (sockets.empty()) {
    return "<server closed>";
  }
  std::string names;
  for (const address& each : sockets) {
    names += (names.empty() ? "" : ", ") + each.to_string();
  }
  std::string out = fmt::format("<server sockets=({}) {}", names,
                                listening.is_serving() ? "serving" : "not serving");
  if (const std::size_t connections = listening.connection_count(); connections > 0) {
    out += fmt::format(" connections={}", connections);
  }
  return out + ">";
}

std::string repr(const stream_reader& reader) {
  const stream_state* state = stream_access::raw(reader);
  if (state == nullptr) {
    return "<stream_reader empty>";
  }
  // asyncio's StreamReader.__repr__: the buffered bytes, eof, the limit, the exception, the
  // transport; the limit always (asyncio: when not the default).
  std::string out = "<stream_reader";
  if (const std::size_t buffered = state->buffered(); buffered > 0) {
    out += fmt::format(" {} bytes", buffered);
  }
  if (state->eof()) {
    out += " eof";
  }
  out += fmt::format(" limit={}", state->limit());
  if (const std::exception_ptr error = state->exception()) {
    out += " exception=" + exception_repr(error);
  }
  return out + " " + transport_repr(*state) + ">";
}

std::string repr(const stream_writer& writer) {
  const stream_state* state = stream_access::raw(writer);
  if (state == nullptr) {
    return "<stream_writer empty>";
  }
  std::string out = "<stream_writer " + transport_repr(*state);
  if (state->is_closing() && !state->is_closed()) {
    out += " closing";
  }
  if (const std::size_t unsent = state->write_buffer_size(); unsent > 0) {
    out += fmt::format(" bufsize={}", unsent);
  }
  return out + ">";
}

std::string repr(const address& where) { return where.to_string(); }

std::string repr(const lock& mutex) {
  return bracket("lock", mutex.locked() ? "locked" : "unlocked", mutex.waiter_count());
}

std::string repr(const event& flag) {
  return bracket("event", flag.is_set() ? "set" : "unset", flag.waiter_count());
}

std::string repr(const condition& cond) {
  return bracket("condition", cond.locked() ? "locked" : "unlocked", cond.waiter_count());
}

std::string repr(const semaphore& sem) { return semaphore_repr("semaphore", sem); }

std::string repr(const bounded_semaphore& sem) { return semaphore_repr("bounded_semaphore", sem); }

std::string repr(const barrier& meeting) {
  std::string_view state;
  switch (meeting.state()) {
    case barrier_state::filling:
      state = "filling";
      break;
    case barrier_state::draining:
      state = "draining";
      break;
    case barrier_state::resetting:
      state = "resetting";
      break;
    case barrier_state::broken:
      state = "broken";
      break;
  }
  return fmt::format("<barrier [{}, waiters:{}/{}]>", state, meeting.n_waiting(),
                     meeting.parties());
}

std::string repr(const cancelled_error& error) {
  return error.message().empty() ? std::string("eddy::cancelled_error")
                                 : "eddy::cancelled_error: " + error.message();
}

std::string repr(const keyboard_interrupt& error) {
  return std::string("eddy::keyboard_interrupt: ") + error.what();
}

}  // namespace detail

std::ostream& operator<<(std::ostream& out, const any_task& task) {
  return detail::write_repr(out, detail::repr(task));
}
std::ostream& operator<<(std::ostream& out, const event_loop& loop) {
  return detail::write_repr(out, detail::repr(loop));
}
std::ostream& operator<<(std::ostream& out, const process& child) {
  return detail::write_repr(out, detail::repr(child));
}
std::ostream& operator<<(std::ostream& out, const server& listening) {
  return detail::write_repr(out, detail::repr(listening));
}
std::ostream& operator<<(std::ostream& out, const stream_reader& reader) {
  return detail::write_repr(out, detail::repr(reader));
}
std::ostream& operator<<(std::ostream& out, const stream_writer& writer) {
  return detail::write_repr(out, detail::repr(writer));
}
std::ostream& operator<<(std::ostream& out, const address& where) {
  return detail::write_repr(out, detail::repr(where));
}
std::ostream& operator<<(std::ostream& out, const lock& mutex) {
  return detail::write_repr(out, detail::repr(mutex));
}
std::ostream& operator<<(std::ostream& out, const event& flag) {
  return detail::write_repr(out, detail::repr(flag));
}
std::ostream& operator<<(std::ostream& out, const condition& cond) {
  return detail::write_repr(out, detail::repr(cond));
}
std::ostream& operator<<(std::ostream& out, const semaphore& sem) {
  return detail::write_repr(out, detail::repr(sem));
}
std::ostream& operator<<(std::ostream& out, const bounded_semaphore& sem) {
  return detail::write_repr(out, detail::repr(sem));
}
std::ostream& operator<<(std::ostream& out, const barrier& meeting) {
  return detail::write_repr(out, detail::repr(meeting));
}
std::ostream& operator<<(std::ostream& out, const cancelled_error& error) {
  return detail::write_repr(out, detail::repr(error));
}
std::ostream& operator<<(std::ostream& out, const keyboard_interrupt& error) {
  return detail::write_repr(out, detail::repr(error));
}
std::ostream& operator<<(std::ostream& out, const timeout_error& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const invalid_state_error& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const exception_group& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const queue_empty& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const queue_full& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const queue_shut_down& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const broken_barrier_error& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const incomplete_read_error& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}
std::ostream& operator<<(std::ostream& out, const limit_overrun_error& error) {
  return detail::write_repr(out, detail::exception_repr(error));
}

}  // namespace eddy
