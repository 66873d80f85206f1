// Unix signals delivered to an event loop (asyncio's loop.add_signal_handler and
// loop.remove_signal_handler; the members themselves are declared in loop.hpp).
//
// How it works (docs/signals.md, docs/design-notes.md "Signals"): add_signal_handler installs
// a small sigaction handler for the signal. Whatever thread the kernel picks to run it, that
// handler only marks the signal pending and writes one byte to the owning loop's wake-up pipe;
// the loop reads the pipe and calls the user's callback on its own thread, as an ordinary
// callback. So a signal wakes a loop that is blocked waiting for I/O, no thread needs a
// special signal mask, and children started afterwards inherit a normal mask.
//
// Rules (asyncio's, adapted):
//  - a signal number is handled by at most one loop of the process at a time;
//  - SIGKILL and SIGSTOP cannot be handled (std::invalid_argument), nor can the signals glibc
//    keeps for itself (32, 33);
//  - removing the handler, or closing the loop, restores the disposition the signal had
//    before add_signal_handler (SIG_DFL, SIG_IGN or another program's handler);
//  - signals that arrive close together may be coalesced into one callback (as the kernel
//    and asyncio do).
#pragma once

#include <functional>
#include <memory>

namespace eddy {
class event_loop;

/// `loop.add_signal_handler(signo, callback)` (asyncio's loop.add_signal_handler), spelled as
/// a function of this header: calls `callback()` on the loop's thread, as an ordinary
/// callback (in a copy of the caller's context), each time signal `signo` arrives; deliveries
/// close together may be coalesced. Replaces this loop's earlier handler for the signal.
/// Throws std::invalid_argument for a number that is not a signal, for SIGKILL and SIGSTOP,
/// for a signal the C library reserves, and for an empty callback; std::runtime_error if
/// another loop handles `signo` or the loop is closed.
void add_signal_handler(event_loop& loop, int signo, std::function<void()> callback);

/// `loop.remove_signal_handler(signo)`: removes the handler and restores the disposition the
/// signal had before add_signal_handler. Returns whether a handler was registered. Throws
/// std::invalid_argument for a number that is not a signal.
bool remove_signal_handler(event_loop& loop, int signo);

}  // namespace eddy

namespace eddy::detail {

/// A loop's signal handlers and its wake-up pipe (src/signal.cpp). Made on the loop's first
/// add_signal_handler; destroyed when the loop closes, which restores every disposition.
class loop_signals;
struct loop_signals_deleter {
  void operator()(loop_signals* signals) const noexcept;
};
using loop_signals_ptr = std::unique_ptr<loop_signals, loop_signals_deleter>;

/// For runner (asyncio.Runner's SIGINT handling): when called on the process's main thread
/// while SIGINT has its default disposition, makes the next SIGINT call `on_interrupt` on the
/// loop's thread, and any SIGINT after that restore the default disposition and kill the
/// process as usual. Returns false, doing nothing, in every other case.
bool install_interrupt_handler(event_loop& loop, std::function<void()> on_interrupt);

/// Undoes install_interrupt_handler: SIGINT gets its default disposition back (unless a user
/// handler added with add_signal_handler sits on top; it then restores the default when it is
/// removed). Never throws.
void remove_interrupt_handler(event_loop& loop) noexcept;

}  // namespace eddy::detail
