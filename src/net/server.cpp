// eddy::server: listening sockets, one accept loop task each, and the live connections.
#include "eddy/net/server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "eddy/detail/resource_warning.hpp"
#include "eddy/errors.hpp"
#include "eddy/loop.hpp"
#include "eddy/net/dns.hpp"
#include "eddy/sync/event.hpp"
#include "eddy/task.hpp"
#include "eddy/time.hpp"
#include "net/multishot_accept.hpp"
#include "net/stream_access.hpp"

namespace eddy {

namespace detail {

/// How long the accept loop waits after running out of descriptors or memory before it
/// accepts again (asyncio waits a second; a shorter pause recovers sooner).
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

/// The socket file a Unix listener bound, as lstat() saw it right after bind(): on close the
/// path is unlinked only if it still names that file (asyncio 3.13 compares st_ino; eddy
/// compares st_dev too). Someone may have unlinked it and bound another socket there meanwhile.
struct unix_socket_file {
  std::string path;  ///< "" for TCP listeners, abstract names and files that could not be seen
  dev_t device = 0;
  ino_t inode = 0;

  /// What lstat() says about `bound_path` now; nothing to clean up if it cannot be seen.
  static unix_socket_file of(const std::string& bound_path) {
    struct stat info{};
    if (bound_path.empty() || ::lstat(bound_path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
      return {};
    }
    return {bound_path, info.st_dev, info.st_ino};
  }

  /// Unlinks the path if it is still this file.
  void remove_if_unchanged() const noexcept {
    struct stat info{};
    if (!path.empty() && ::lstat(path.c_str(), &info) == 0 && info.st_dev == device &&
        info.st_ino == inode) {
      ::unlink(path.c_str());
    }
  }
};

class server_state final
    : public connection_registry,
      public detail::ref_counted<server_state, detail::ref_counting::single_thread> {
 public:
  server_state(client_handler handler, const server_options& options)
      : ref_counted(0),
        handler_(std::make_shared<const client_handler>(std::move(handler))),
        options_(options),
        loop_(loop_binding::running()) {}

  /// A handle on a new state (server's constructor is private to this class).
  static server make_handle(server_state* state) { return server(state); }

  /// Adds a bound (not yet listening) socket; `file` is the Unix socket file to remove on
  /// close, if any.
  void listen_on(socket listener, unix_socket_file file = {}) {
    listeners_.push_back(std::move(listener));
    unix_files_.push_back(std::move(file));
  }

  /// asyncio's Server._start_serving: listen() on every socket and start one accept loop
  /// each. Does nothing when already serving or closed. Throws std::system_error when
  /// listen() fails.
  void start_serving();
  void close() noexcept;
  void connection_accepted(socket connection);

  /// Called by an accept loop's token when that loop's task is gone (finished, cancelled, or
  /// destroyed by a closing loop): the listening socket is closed then, not earlier, so no
  /// accept is ever in flight on a closed descriptor.
  void accept_loop_ended(std::size_t index) noexcept {
    report_if_unclosed();  // an accept loop ends before close() only when the loop tears it down
    close_listener(index);
    --live_accept_loops_;
    check_all_done();
  }

  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] bool serving() const noexcept { return serving_ && !closed_; }
  [[nodiscard]] const socket& listener(std::size_t index) const { return listeners_[index]; }

  std::vector<address> addresses() const {
    std::vector<address> result;
    if (!closed_) {
      for (const socket& listener : listeners_) {
        if (listener.is_open()) {
          result.push_back(listener.local_address());
        }
      }
    }
    return result;
  }

  event all_done;      ///< closed, no accept loop left and no connection open
  event closed_event;  ///< set by close(): wakes serve_forever
  bool serving_forever = false;

 private:
  friend class detail::ref_counted<server_state, detail::ref_counting::single_thread>;
  ~server_state() {
    report_if_unclosed();
    for (std::size_t index = 0; index < listeners_.size(); ++index) {
      close_listener(index);
    }
  }

  void connection_closed() noexcept override { check_all_done(); }

  void check_all_done() noexcept {
    if (closed_ && live_accept_loops_ == 0 && connection_count() == 0 && !all_done.is_set()) {
      try {
        all_done.set();
      } catch (...) {
        // set() only throws for a wrong-thread call in debug mode; nothing waits then.
      }
    }
  }

  /// In debug mode, the first time the server loses its listening sockets without close()
  /// having been called (its last handle went before it ever served, or the loop tore its
  /// accept loops down), reports "unclosed server <listening on 127.0.0.1:8080>"
  /// (resource_warning.hpp), naming the sockets still open.
  void report_if_unclosed() noexcept {
    if (closed_ || unclosed_reported_) {
      return;
    }
    unclosed_reported_ = true;
    report_unclosed(loop_.loop, loop_.id, [this] {
      std::string names;
      for (const socket& listener : listeners_) {
        if (listener.is_open()) {
          names += (names.empty() ? "" : ", ") + listener.local_address().to_string();
        }
      }
      if (names.empty()) {
        return std::string();
      }
      return fmt::format("unclosed server <{} {}>", serving_ ? "listening on" : "bound to", names);
    });
  }

  void close_listener(std::size_t index) noexcept {
    if (index < listeners_.size() && listeners_[index].is_open()) {
      listeners_[index].close();
      unix_files_[index].remove_if_unchanged();  // asyncio 3.13's cleanup_socket
    }
  }

  /// Shared with every connection's task: a handler's coroutine may read the callable (a
  /// lambda's captures) after the server itself is closed and gone.
  std::shared_ptr<const client_handler> handler_;
  server_options options_;
  std::vector<socket> listeners_;
  std::vector<unix_socket_file> unix_files_;  ///< one per listener
  std::vector<task<void>> accept_tasks_;
  std::size_t live_accept_loops_ = 0;
  // The life of a server: bound (neither flag; start_serving = false) → serving_ (listening,
  // one accept loop per socket) → closed_ (listeners closed once their accept loop is gone).
  // close() may come straight from bound. serving_ is not reset by close(): it tells close()
  // whether accept loops exist (which close the listeners as they end) or close() must close
  // them itself; is_serving() is serving_ && !closed_.
  bool serving_ = false;
  bool closed_ = false;
  bool unclosed_reported_ = false;  ///< report_if_unclosed() has run (it reports once)
  loop_binding loop_;               ///< the loop the server was started on, for that report
};

namespace {

/// The parameter of an accept loop: when the loop's frame goes (however it goes, even
/// before its body ran), the server learns that this listener is done.
class accept_loop_token {
 public:
  accept_loop_token(server_state& state, std::size_t index) noexcept
      : server_(&state), index_(index) {}
  accept_loop_token(accept_loop_token&& other) noexcept
      : server_(std::move(other.server_)),
        index_(other.index_),
        armed_(std::exchange(other.armed_, false)) {}
  accept_loop_token(const accept_loop_token&) = delete;
  accept_loop_token& operator=(const accept_loop_token&) = delete;
  accept_loop_token& operator=(accept_loop_token&&) = delete;
  ~accept_loop_token() {
    if (armed_) {
      server_->accept_loop_ended(index_);
    }
  }
  server_state& server() const noexcept { return *server_; }
  [[nodiscard]] std::size_t index() const noexcept { return index_; }

 private:
  state_ref<server_state> server_;
  std::size_t index_;
  bool armed_ = true;
};

std::string current_task_name() {
  any_task running = current_task();
  return running ? running.get_name() : std::string();
}

bool out_of_resources(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

/// Where the kernel offers it (io_uring, 5.19+), one multishot accept serves the listener for
/// as long as it accepts without error; otherwise each connection is one sock_accept.
coro<void> accept_loop(accept_loop_token token) {
  server_state& server = token.server();
  event_loop& loop = get_running_loop();
  std::optional<detail::multishot_acceptor_handle> multishot;
  if (detail::loop_core& core = detail::core_of(loop); core.supports_multishot()) {
    multishot.emplace(core, server.listener(token.index()).fd());
  }
  while (!server.closed()) {
    std::exception_ptr failure;
    int error = 0;
    try {
      if (multishot) {
        int accepted = co_await (*multishot)->next();
        if (accepted >= 0) {
          server.connection_accepted(socket(accepted));
        }
        continue;
      }
      auto [connection, peer] = co_await loop.sock_accept(server.listener(token.index()));
      server.connection_accepted(std::move(connection));
      continue;
    } catch (const std::system_error& accept_error) {
      error = accept_error.code().value();
      failure = std::current_exception();
    }
    if (error == ECONNABORTED || error == EAGAIN || error == EINTR || error == EPROTO) {
      continue;  // the peer gave up before we accepted: nothing to report (asyncio)
    }
    loop.call_exception_handler({out_of_resources(error) ? "socket.accept() out of system resource"
                                                         : "Error on accepting a connection",
                                 failure, current_task_name()});
    co_await sleep(accept_retry_delay);
  }
}

/// Runs one connection's callback; an escaping exception is reported and closes the
/// connection (asyncio's StreamReaderProtocol does the same). `handler` is the callable that
/// made `body`, kept alive here until the body has finished.
coro<void> serve_client(coro<void> body, stream_writer writer,
                        std::shared_ptr<const client_handler> handler) {
  static_cast<void>(handler);
  std::exception_ptr failure;
  try {
    co_await std::move(body);
  } catch (const cancelled_error&) {
    throw;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    get_running_loop().call_exception_handler(
        {"Unhandled exception in client_connected_cb", failure, current_task_name()});
    writer.close();
  }
}

}  // namespace

void server_state::start_serving() {
  if (serving_ || closed_) {
    return;
  }
  for (socket& listener : listeners_) {
    listener.listen(options_.backlog);  // as asyncio: only now do connections queue
  }
  serving_ = true;
  for (std::size_t index = 0; index < listeners_.size(); ++index) {
    accept_loop_token token(*this, index);
    ++live_accept_loops_;
    coro<void> body = accept_loop(std::move(token));
    accept_tasks_.push_back(create_task(std::move(body)));
  }
}

void server_state::connection_accepted(socket connection) {
  auto [reader, writer] = open_streams(std::move(connection), options_.streams());
  stream_access::of(writer).join(*this);
  coro<void> body;
  try {
    body = (*handler_)(reader, writer);
  } catch (const std::exception&) {
    get_running_loop().call_exception_handler(
        {"Unhandled exception in client_connected_cb", std::current_exception(), {}});
    writer.close();
    return;
  }
  create_task(serve_client(std::move(body), std::move(writer), handler_));
}

void server_state::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  for (task<void>& accepting : accept_tasks_) {
    accepting.cancel();
  }
  accept_tasks_.clear();
  if (!serving_) {
    // Never served: no accept loop will close the listeners when it ends.
    for (std::size_t index = 0; index < listeners_.size(); ++index) {
      close_listener(index);
    }
  }
  try {
    closed_event.set();
  } catch (...) {
  }
  check_all_done();
}

// --- starting --------------------------------------------------------------------------------

namespace {

socket bind_listener(const addrinfo_entry& entry, const server_options& options) {
  socket listener = socket::create(entry.family, SOCK_STREAM, entry.protocol);
  if (options.reuse_address) {
    listener.set_reuse_address(true);
  }
  if (options.reuse_port) {
    listener.set_option(SOL_SOCKET, SO_REUSEPORT, 1);
  }
  if (entry.family == AF_INET6) {
    // Bind the IPv6 address only, so that "" can bind 0.0.0.0 and :: side by side (asyncio).
    listener.set_option(IPPROTO_IPV6, IPV6_V6ONLY, 1);
  }
  try {
    listener.bind(entry.addr);
  } catch (const std::system_error& error) {
    throw std::system_error(
        error.code(),
        fmt::format("error while attempting to bind on address {}", entry.addr.to_string()));
  }
  return listener;  // listen() comes with start_serving (asyncio)
}

/// Throws std::invalid_argument for options no server can have.
void check_server_options(const server_options& options, const char* what) {
  check_stream_options(options.streams(), what);
  if (options.backlog < 0) {
    throw std::invalid_argument(
        fmt::format("{}: backlog must be >= 0, got {}", what, options.backlog));
  }
}

}  // namespace

coro<server> start_tcp_server(client_handler handler, std::string host, std::uint16_t port,
                              server_options options) {
  check_server_options(options, "start_server");
  addrinfo_options hints;
  hints.family = options.family;
  hints.type = SOCK_STREAM;
  hints.flags = AI_PASSIVE;
  std::string lookup_host = host;
  coro<std::vector<addrinfo_entry>> lookup = getaddrinfo(std::move(lookup_host), port, hints);
  std::vector<addrinfo_entry> entries = co_await std::move(lookup);
  auto* state = new server_state(std::move(handler), options);
  server result = server_state::make_handle(state);
  std::vector<address> bound;
  for (const addrinfo_entry& entry : entries) {
    bool seen = false;
    for (const address& done : bound) {
      seen = seen || done == entry.addr;
    }
    if (seen) {
      continue;
    }
    bound.push_back(entry.addr);
    state->listen_on(bind_listener(entry, options));
  }
  if (bound.empty()) {
    throw std::runtime_error("start_server: getaddrinfo() returned empty list for " + host);
  }
  if (options.start_serving) {
    state->start_serving();
  }
  co_return result;
}

coro<server> start_unix_server_with(client_handler handler, std::string path,
                                    server_options options) {
  check_server_options(options, "start_unix_server");
  if (path.empty()) {
    throw std::invalid_argument("start_unix_server: the path is empty");
  }
  struct stat info{};
  if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) {
    ::unlink(path.c_str());  // a stale socket from an earlier run (asyncio does the same)
  }
  auto* state = new server_state(std::move(handler), options);
  server result = server_state::make_handle(state);
  socket listener = socket::unix_stream();
  try {
    listener.bind(address::unix_path(path));
  } catch (const std::system_error& error) {
    throw std::system_error(error.code(), "error while attempting to bind on address " + path);
  }
  state->listen_on(std::move(listener), unix_socket_file::of(path));
  if (options.start_serving) {
    state->start_serving();
  }
  co_return result;
}

}  // namespace detail

// --- the handle ------------------------------------------------------------------------------

server::server() noexcept = default;
server::server(detail::server_state* state) noexcept : state_(state) {}
server::server(const server& other) noexcept = default;
server::server(server&& other) noexcept = default;
server& server::operator=(const server& other) noexcept = default;
server& server::operator=(server&& other) noexcept = default;
server::~server() = default;

detail::server_state& server::state(const char* what) const {
  if (!state_) {
    throw invalid_state_error(std::string(what) + ": the server handle is empty");
  }
  return *state_;
}

void server::close() const { state("close").close(); }

void server::close_clients() const {
  state("close_clients").for_each([](detail::stream_state& connection) { connection.close(); });
}

void server::abort_clients() const {
  state("abort_clients").for_each([](detail::stream_state& connection) { connection.abort(); });
}

namespace {

coro<void> wait_all_done([[maybe_unused]] server keep_alive, detail::server_state* state) {
  co_await state->all_done.wait();
}

coro<void> serve_until_closed([[maybe_unused]] server keep_alive, detail::server_state* state) {
  if (state->closed()) {
    throw std::runtime_error("serve_forever: the server is closed");
  }
  if (state->serving_forever) {
    throw std::runtime_error(
        "serve_forever: the server is already being awaited on serve_forever()");
  }
  state->start_serving();
  state->serving_forever = true;
  std::exception_ptr cancellation;
  try {
    co_await state->closed_event.wait();
  } catch (const cancelled_error&) {
    cancellation = std::current_exception();
  }
  state->serving_forever = false;
  if (cancellation) {
    state->close();
    co_await state->all_done.wait();
    std::rethrow_exception(cancellation);
  }
}

coro<void> start_serving_body([[maybe_unused]] server keep_alive, detail::server_state* state) {
  if (state->closed()) {
    throw std::runtime_error("start_serving: the server is closed");
  }
  state->start_serving();
  co_await sleep(std::chrono::seconds(0));  // as asyncio: one iteration, the accept loops start
}

}  // namespace

coro<void> server::start_serving() const {
  return start_serving_body(*this, &state("start_serving"));
}

coro<void> server::wait_closed() const { return wait_all_done(*this, &state("wait_closed")); }

coro<void> server::serve_forever() const {
  return serve_until_closed(*this, &state("serve_forever"));
}

bool server::is_serving() const { return state("is_serving").serving(); }

std::vector<address> server::sockets() const { return state("sockets").addresses(); }

std::size_t server::connection_count() const {
  return state("connection_count").connection_count();
}

}  // namespace eddy
