// eddy::server, start_server and start_unix_server (asyncio.Server, asyncio.start_server,
// asyncio.start_unix_server). See docs/streams.md.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/detail/future_base.hpp"
#include "eddy/detail/gcc12.hpp"
#include "eddy/net/address.hpp"
#include "eddy/net/stream.hpp"
#include "eddy/net/stream_options.hpp"

namespace eddy {

class server;

namespace detail {
class server_state;
/// Awaits what a callback not returning coro<void> returned (a task, any awaitable), owning it.
template <class Awaitable>
coro<void> await_client_result(Awaitable awaitable) {
  co_await std::move(awaitable);
}

/// The type-erased connection callback a server keeps (one per server, not per connection),
/// shared by the server and every connection's task. (Not a std::function: with
/// EDDY_CORO_LIFETIME_CHECKS, clang refuses std::function's call operator, which returns a
/// coro without being marked a coroutine wrapper.)
class client_handler {
 public:
  template <class Callback>
  explicit client_handler(Callback callback)
      : callback_(std::make_shared<holder<Callback>>(std::move(callback))) {}

  /// Starts the callback for one connection.
  EDDY_DETAIL_OWNING_CORO_WRAPPER coro<void> operator()(stream_reader reader,
                                                        stream_writer writer) const {
    return callback_->start(std::move(reader), std::move(writer));
  }

 private:
  struct holder_base {
    virtual ~holder_base() = default;
    virtual coro<void> start(stream_reader reader, stream_writer writer) = 0;
  };
  template <class Callback>
  struct holder final : holder_base {
    explicit holder(Callback callback) : callback(std::move(callback)) {}
    EDDY_DETAIL_OWNING_CORO_WRAPPER coro<void> start(stream_reader reader,
                                                     stream_writer writer) override {
      if constexpr (std::is_same_v<std::invoke_result_t<Callback&, stream_reader, stream_writer>,
                                   coro<void>>) {
        return callback(std::move(reader), std::move(writer));
      } else {
        return await_client_result(callback(std::move(reader), std::move(writer)));
      }
    }
    Callback callback;
  };
  std::shared_ptr<holder_base> callback_;
};

}  // namespace detail

/// A listening server (asyncio.Server): one accept loop (a task) per listening socket; each
/// accepted connection runs the callback as its own task with a (stream_reader, stream_writer)
/// pair. A cheap copyable handle; the server keeps serving while its accept loops run, whether
/// or not a handle exists. Loop-thread only.
///
/// An exception escaping a callback goes to the loop's exception handler ("Unhandled exception
/// in client_connected_cb") and the connection is closed. accept() failing with EMFILE,
/// ENFILE, ENOBUFS or ENOMEM is reported the same way ("socket.accept() out of system
/// resource") and retried after 100 ms; ECONNABORTED is ignored.
///
/// In debug mode, a server that loses its listening sockets without close() having been
/// called (its last handle went before it ever served, or the loop tore its accept loops
/// down, as runner.close() and the end of eddy::run do) is reported once through the loop's
/// exception handler, as asyncio's ResourceWarning: "unclosed server <listening on
/// 127.0.0.1:8080>" ("bound to" when it never served). Dropping the handles of a serving
/// server is not reported: it keeps serving.
class server {
 public:
  /// An empty handle: false, and every member but operator bool throws invalid_state_error.
  server() noexcept;
  server(const server& other) noexcept;
  server(server&& other) noexcept;
  server& operator=(const server& other) noexcept;
  server& operator=(server&& other) noexcept;
  ~server();

  /// Stops accepting and closes the listening sockets. A Unix socket's file is removed, as
  /// asyncio 3.13, if the path still names the file the server bound (same st_dev and st_ino
  /// as right after bind()): a socket someone else bound there meanwhile is left alone.
  /// Connections already accepted stay open. Calling it again does nothing. Never throws but
  /// invalid_state_error for an empty handle.
  void close() const;
  /// close() every live connection gracefully (what was written is still sent).
  void close_clients() const;
  /// Aborts every live connection (unsent data dropped, TCP peers see a reset).
  void abort_clients() const;
  /// Waits until the server is closed and every connection it accepted is closed (CPython
  /// 3.12.1+). Cancel safety: cancelling only stops the wait.
  [[nodiscard]] coro<void> wait_closed() const;
  /// Starts serving a server made with server_options::start_serving = false: listen() on
  /// each socket and start accepting (asyncio's Server.start_serving()). Does nothing if the
  /// server already serves. Then yields to the loop once (as asyncio's sleep(0)), so the
  /// accept loops have started when the await returns. Throws std::runtime_error if the server
  /// is closed, std::system_error if listen() fails. Cancel safety: a cancellation is thrown at
  /// that one yield; the server serves all the same.
  [[nodiscard]] coro<void> start_serving() const;
  /// Serves until cancelled, starting to serve first if the server does not yet (asyncio);
  /// then closes the server, waits as wait_closed() and rethrows the cancellation (asyncio).
  /// Returns normally when close() is called from elsewhere (asyncio raises CancelledError
  /// there; see docs/streams.md). Throws std::runtime_error if the server is closed or another
  /// task already awaits serve_forever(), std::system_error if listen() fails. Cancel safety:
  /// cancelling closes the server (that is how it is meant to end).
  [[nodiscard]] coro<void> serve_forever() const;
  /// True while the server accepts connections: from start_server (or, with
  /// start_serving = false, from start_serving() or serve_forever()) until close().
  [[nodiscard]] bool is_serving() const;
  /// The addresses the server listens on (getsockname of each listening socket; asyncio
  /// returns the socket objects). Empty once closed.
  [[nodiscard]] std::vector<address> sockets() const;
  /// How many accepted connections are open.
  [[nodiscard]] std::size_t connection_count() const;

  explicit operator bool() const noexcept { return static_cast<bool>(state_); }

 private:
  friend class detail::server_state;
  explicit server(detail::server_state* state) noexcept;
  detail::server_state& state(const char* what) const;

  detail::state_ref<detail::server_state> state_;  // defined where server_state is complete
};

namespace detail {
/// GCC 12 destroys twice a lambda with captures written inside the co_await of
/// start_server(...) (detail/gcc12.hpp); says so at compile time.
template <class Callback>
constexpr void refuse_gcc12_temporary_callback() {
  static_assert(
      !gcc12_destroys_twice<Callback>,
      "eddy::start_server / start_unix_server: GCC 12 destroys twice a lambda with captures "
      "created inside a co_await expression (docs/coroutine-lifetimes.md, trap 5). Name it first "
      "and pass the name: auto handle = [state](eddy::stream_reader r, eddy::stream_writer w) "
      "-> eddy::coro<void> { ... }; co_await eddy::start_server(handle, host, port);");
}

coro<server> start_tcp_server(client_handler handler, std::string host, std::uint16_t port,
                              server_options options);
coro<server> start_unix_server_with(client_handler handler, std::string path,
                                    server_options options);
}  // namespace detail

/// Listens on host:port and serves each connection with callback(reader, writer) as its own
/// task (asyncio.start_server; serving starts at once unless options.start_serving is false,
/// see server::start_serving()). callback is any callable taking
/// (stream_reader, stream_writer) and returning coro<void> or another awaitable; it is copied
/// (or moved) once into the server, which keeps it alive until the last connection's handler
/// has returned. On GCC 12, a lambda with captures written inside the co_await is refused at
/// compile time (docs/coroutine-lifetimes.md, trap 5): name it first and pass the name. host ""
/// means every interface; host resolving to several addresses binds each (IPv6 sockets get
/// IPV6_V6ONLY). port 0 lets the kernel pick (see sockets()).
///
/// Throws gai_error when host does not resolve, std::system_error when a bind fails
/// (EADDRINUSE, EACCES, ...), std::invalid_argument for bad options.
template <class Callback>
  requires std::invocable<std::decay_t<Callback>&, stream_reader, stream_writer>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] coro<server> start_server(
    Callback&& callback, std::string host, std::uint16_t port, server_options options = {}) {
  detail::refuse_gcc12_temporary_callback<Callback>();
  return detail::start_tcp_server(
      detail::client_handler(std::decay_t<Callback>(std::forward<Callback>(callback))),
      std::move(host), port, options);
}

/// As start_server, on the Unix socket at path (asyncio.start_unix_server). A stale socket
/// file at path is removed first; the file is removed again when the server closes, if it is
/// still the one the server bound (see server::close()).
template <class Callback>
  requires std::invocable<std::decay_t<Callback>&, stream_reader, stream_writer>
EDDY_DETAIL_OWNING_CORO_WRAPPER [[nodiscard]] coro<server> start_unix_server(
    Callback&& callback, std::string path, server_options options = {}) {
  detail::refuse_gcc12_temporary_callback<Callback>();
  return detail::start_unix_server_with(
      detail::client_handler(std::decay_t<Callback>(std::forward<Callback>(callback))),
      std::move(path), options);
}

}  // namespace eddy
