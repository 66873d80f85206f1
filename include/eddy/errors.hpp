// The exceptions eddy throws, named after asyncio's.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace eddy {

/// Thrown out of the co_await where a cancelled task is suspended (asyncio.CancelledError).
///
/// Deliberately not derived from std::exception, as Python made CancelledError a
/// BaseException: `catch (const std::exception&)` must not swallow a cancellation. Catch it
/// with `catch (const eddy::cancelled_error&)` (clean up, then `throw;`) or `catch (...)`.
class cancelled_error {
 public:
  cancelled_error() = default;
  explicit cancelled_error(std::string message) : message_(std::move(message)) {}

  /// The message given to task::cancel(msg), or empty.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  /// "cancelled" or "cancelled: <message>", for logs.
  [[nodiscard]] std::string describe() const {
    return message_.empty() ? std::string("cancelled") : "cancelled: " + message_;
  }

 private:
  std::string message_;
};

/// A deadline passed (asyncio.TimeoutError, which is the builtin TimeoutError since 3.11).
class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("timed out") {}
  explicit timeout_error(const std::string& what) : std::runtime_error(what) {}
};

/// An operation is not allowed in the object's current state (asyncio.InvalidStateError):
/// result() of a pending future, set_result() on a done one.
class invalid_state_error : public std::logic_error {
 public:
  explicit invalid_state_error(const std::string& what) : std::logic_error(what) {}
};

/// What run() and runner::run() (run.hpp) throw when Ctrl-C (SIGINT) cancelled the main task
/// and the task ended cancelled (Python's KeyboardInterrupt). Like cancelled_error, and like
/// Python's BaseException, it is deliberately not derived from std::exception, so
/// `catch (const std::exception&)` does not swallow a Ctrl-C. A program that wants the usual
/// exit status catches it in main() and returns 130 (128 + SIGINT).
///
/// It is one of the fatal exceptions (is_fatal_exception): a task_group does not wrap it in an
/// exception_group but lets it through on its own.
class keyboard_interrupt {
 public:
  [[nodiscard]] const char* what() const noexcept { return "keyboard interrupt (SIGINT)"; }
};

/// Whether `error` is one of the exceptions that asyncio treats as ending the program rather
/// than as a failure to report (Python's KeyboardInterrupt and SystemExit): today only
/// keyboard_interrupt. A task_group that sees one, raised by its body or by a child, cancels
/// the other children, waits for them and rethrows that exception itself, not an
/// exception_group. False for a null pointer. Never throws.
[[nodiscard]] bool is_fatal_exception(const std::exception_ptr& error) noexcept;

struct exception_group_split;

/// Several exceptions that happened together (Python's ExceptionGroup): what a task_group
/// throws when its children (or its body) failed.
///
/// Its members (`exceptions()`) are std::exception_ptr, so a member may be anything a C++
/// program can throw: a std::exception, an eddy::cancelled_error, another exception_group
/// (a nested group, as a failing inner task_group contributes). `split` and `subgroup` pick
/// members by type or by predicate, as BaseExceptionGroup.split and .subgroup do, and
/// eddy::handle_exceptions (below) is the C++ spelling of `except*`.
///
/// Matching (split and subgroup): a type (or a typed predicate) is tested first on the group
/// itself, then on each member. A member that matches is taken whole; a nested group that does not
/// is split in turn; any other member goes to the rest. The parts keep the nesting and the messages
/// of the original: a nested group split in two becomes two groups with its message, one in each
/// part; a nested group whose members all land in one part stays as it was (the same
/// std::exception_ptr). A part with nothing in it is std::nullopt.
class exception_group : public std::exception {
 public:
  /// Throws std::invalid_argument if `exceptions` is empty or holds a null pointer (Python
  /// refuses both: ValueError, TypeError).
  exception_group(std::string message, std::vector<std::exception_ptr> exceptions);

  /// The exceptions, in the order they happened.
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
    return exceptions_;
  }
  /// "<message> (2 sub-exceptions): std::runtime_error: boom; std::logic_error: bad".
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  /// `match, rest = eg.split(E)`: the members that are an `E` (caught as `const E&`, so a base
  /// class matches its derived ones), and the others. `split<std::exception>()` takes every
  /// std::exception; `split<eddy::cancelled_error>()` the cancellations, which are not
  /// std::exceptions. If the group itself is an E, it all matches. Throws std::bad_alloc only.
  template <class E>
  [[nodiscard]] exception_group_split split() const;
  /// `eg.split(lambda e: isinstance(e, E) and pred(e))`: the members that are an E and for
  /// which `predicate(const E&)` returns true. Whatever the predicate throws propagates.
  template <class E, class Predicate>
    requires std::is_invocable_r_v<bool, Predicate&, const std::remove_cvref_t<E>&>
  [[nodiscard]] exception_group_split split(Predicate predicate) const;
  /// `eg.split(pred)` with `predicate(const std::exception_ptr&)`, offered each member and each
  /// nested group (whose pointer holds an exception_group), not the group itself. Whatever the
  /// predicate throws propagates.
  template <class Predicate>
    requires std::is_invocable_r_v<bool, Predicate&, const std::exception_ptr&>
  [[nodiscard]] exception_group_split split(Predicate predicate) const;

  /// `eg.subgroup(E)`: the matching part of split<E>(), or std::nullopt if nothing matches.
  template <class E>
  [[nodiscard]] std::optional<exception_group> subgroup() const;
  /// The matching part of split<E>(predicate).
  template <class E, class Predicate>
    requires std::is_invocable_r_v<bool, Predicate&, const std::remove_cvref_t<E>&>
  [[nodiscard]] std::optional<exception_group> subgroup(Predicate predicate) const;
  /// The matching part of split(predicate).
  template <class Predicate>
    requires std::is_invocable_r_v<bool, Predicate&, const std::exception_ptr&>
  [[nodiscard]] std::optional<exception_group> subgroup(Predicate predicate) const;

 private:
  /// A type-erased `bool(const std::exception_ptr&)` that lives as long as one split.
  struct matcher {
    const void* context;
    bool (*matches)(const void* context, const std::exception_ptr& member);
  };
  /// The recursion of split (src/errors.cpp). `self_matches`: the condition held for *this.
  [[nodiscard]] exception_group_split split_by(bool self_matches, matcher condition) const;

  template <class E, class Predicate>
  [[nodiscard]] bool self_is(Predicate& predicate) const;

  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
  std::string what_;
};

/// What exception_group::split yields: `auto [match, rest] = errors.split<E>();`.
struct exception_group_split {
  std::optional<exception_group> match;  ///< the members that matched, or nullopt
  std::optional<exception_group> rest;   ///< the others, or nullopt
};

namespace detail {

/// Rethrows `error` and says whether it is caught as `const E&` (and then satisfies
/// `predicate`, whose exceptions propagate).
template <class E, class Predicate>
bool exception_matches(const std::exception_ptr& error, Predicate& predicate) {
  try {
    std::rethrow_exception(error);
  } catch (const E& caught) {
    return static_cast<bool>(predicate(caught));
  } catch (...) {
    return false;
  }
}

struct always_matches {
  template <class T>
  bool operator()(const T&) const noexcept {
    return true;
  }
};

/// The parameter type of a handler given to eddy::handle_exceptions: a handler taking
/// `const E&` (or `E`) handles E.
template <class Signature>
struct handler_signature;
template <class R, class Argument>
struct handler_signature<R(Argument)> {
  using type = std::remove_cvref_t<Argument>;
};
template <class R, class Argument>
struct handler_signature<R(Argument) noexcept> : handler_signature<R(Argument)> {};
template <class R, class Argument>
struct handler_signature<R (*)(Argument)> : handler_signature<R(Argument)> {};
template <class R, class Argument>
struct handler_signature<R (*)(Argument) noexcept> : handler_signature<R(Argument)> {};
template <class Class, class R, class Argument>
struct handler_signature<R (Class::*)(Argument)> : handler_signature<R(Argument)> {};
template <class Class, class R, class Argument>
struct handler_signature<R (Class::*)(Argument) const> : handler_signature<R(Argument)> {};
template <class Class, class R, class Argument>
struct handler_signature<R (Class::*)(Argument) noexcept> : handler_signature<R(Argument)> {};
template <class Class, class R, class Argument>
struct handler_signature<R (Class::*)(Argument) const noexcept> : handler_signature<R(Argument)> {};

template <class Handler>
struct handler_argument_of : handler_signature<decltype(&Handler::operator())> {};
template <class Handler>
  requires std::is_function_v<Handler> || std::is_pointer_v<Handler>
struct handler_argument_of<Handler> : handler_signature<Handler> {};

template <class Handler>
using handler_argument = typename handler_argument_of<std::remove_cvref_t<Handler>>::type;

/// The bookkeeping of one eddy::handle_exceptions call (src/errors.cpp).
class except_star_state {
 public:
  /// `error` must not be null: a group is handled member by member, anything else as a group
  /// of one that is rethrown naked if no handler takes it.
  explicit except_star_state(std::exception_ptr error);

  /// The members still unhandled, leaf by leaf (nested groups flattened), in order.
  [[nodiscard]] std::vector<std::exception_ptr> unhandled_leaves() const;
  /// `leaf` was taken by a handler, which returned normally.
  void handled(const std::exception_ptr& leaf);
  /// `leaf`'s handler threw `raised` (`throw;`, which rethrows the leaf, leaves it unhandled).
  void raised(const std::exception_ptr& leaf, std::exception_ptr raised);
  /// Throws what is left, as `except*` re-raises at the end of its try statement; returns if
  /// everything was handled.
  void finish();

 private:
  std::exception_ptr original_;
  std::optional<exception_group> group_;  ///< the original as a group (a naked one wrapped)
  bool wrapped_ = false;
  std::vector<std::exception_ptr> handled_;
  std::vector<std::exception_ptr> raised_;
};

template <class E, class Handler>
void run_handler(except_star_state& state, Handler& handler) {
  static_assert(
      !std::is_base_of_v<exception_group, E>,
      "eddy::handle_exceptions: a handler cannot take an exception_group (nested groups are "
      "looked into, and their members handed over one by one), as except* cannot catch "
      "ExceptionGroup");
  for (const std::exception_ptr& leaf : state.unhandled_leaves()) {
    bool matched = false;
    try {
      try {
        std::rethrow_exception(leaf);
      } catch (const E& caught) {
        matched = true;
        handler(caught);
      }
    } catch (...) {
      if (matched) {
        state.raised(leaf, std::current_exception());
      }
      continue;
    }
    if (matched) {
      state.handled(leaf);
    }
  }
}

}  // namespace detail

/// The C++ spelling of `try: ... except* E1 as e: ... except* E2 as e: ...`: hands each member
/// of `errors` (nested groups are looked into) to the first handler whose parameter type it is
/// caught as, then rethrows what no handler took as an exception_group with the original
/// nesting and messages. Returns normally if every member was handled.
///
///     try {
///       co_await eddy::with_task_group(body);
///     } catch (const eddy::exception_group& errors) {
///       eddy::handle_exceptions(
///           errors,
///           [](const std::system_error& e) { log("I/O failed: ", e.what()); },
///           [](const std::logic_error& e) { log("bug: ", e.what()); });
///     }
///
/// Each handler is a callable taking one `const E&` (a lambda, not a generic one; its return
/// value is ignored). Handlers are tried in order, as except* clauses are: each member goes to
/// the first handler that matches it, and a handler is called once for each member it takes
/// (where Python hands the except* clause a group of all of them).
///
/// Throws: the exception_group of the unhandled members, if any. A handler that throws does
/// not stop the others (as in Python, where every except* clause runs): what handlers threw is
/// collected, and at the end `handle_exceptions` throws it, alone if it is the only thing left, or
/// as `exception_group("", {raised..., unhandled group})`. A handler's `throw;` puts its member
/// back with the unhandled ones. No await is possible in a handler (it is a plain function
/// called inside a catch block): to await, record what you need and await after the catch.
template <class... Handlers>
void handle_exceptions(const exception_group& errors, Handlers&&... handlers) {
  detail::except_star_state state(std::make_exception_ptr(errors));
  (detail::run_handler<detail::handler_argument<Handlers>>(state, handlers), ...);
  state.finish();
}

/// handle_exceptions() for an exception that may or may not be a group, as `except*` catches a
/// naked exception too: `catch (...) { eddy::handle_exceptions(std::current_exception(),
/// handlers...); }`. A group is handled as above; anything else is offered to the handlers as a
/// group of one and, if no handler takes it, rethrown as it is (not wrapped). Throws
/// std::invalid_argument for a null `error`.
template <class... Handlers>
void handle_exceptions(const std::exception_ptr& error, Handlers&&... handlers) {
  detail::except_star_state state(error);
  (detail::run_handler<detail::handler_argument<Handlers>>(state, handlers), ...);
  state.finish();
}

// --- exception_group's templates -------------------------------------------------------------

template <class E, class Predicate>
bool exception_group::self_is(Predicate& predicate) const {
  using type = std::remove_cvref_t<E>;
  if constexpr (std::is_base_of_v<type, exception_group>) {
    return static_cast<bool>(predicate(static_cast<const type&>(*this)));
  } else if constexpr (std::is_polymorphic_v<type>) {
    // A subclass of exception_group that is also an E.
    const auto* self = dynamic_cast<const type*>(this);
    return self != nullptr && static_cast<bool>(predicate(*self));
  } else {
    return false;
  }
}

template <class E>
exception_group_split exception_group::split() const {
  return split<E>(detail::always_matches{});
}

template <class E, class Predicate>
  requires std::is_invocable_r_v<bool, Predicate&, const std::remove_cvref_t<E>&>
exception_group_split exception_group::split(Predicate predicate) const {
  using type = std::remove_cvref_t<E>;
  const bool self_matches = self_is<type>(predicate);
  auto test = [](const void* context, const std::exception_ptr& member) {
    return detail::exception_matches<type>(member,
                                           *static_cast<Predicate*>(const_cast<void*>(context)));
  };
  return split_by(self_matches, matcher{&predicate, test});
}

template <class Predicate>
  requires std::is_invocable_r_v<bool, Predicate&, const std::exception_ptr&>
exception_group_split exception_group::split(Predicate predicate) const {
  auto test = [](const void* context, const std::exception_ptr& member) {
    return static_cast<bool>((*static_cast<Predicate*>(const_cast<void*>(context)))(member));
  };
  return split_by(false, matcher{&predicate, test});
}

template <class E>
std::optional<exception_group> exception_group::subgroup() const {
  return split<E>().match;
}

template <class E, class Predicate>
  requires std::is_invocable_r_v<bool, Predicate&, const std::remove_cvref_t<E>&>
std::optional<exception_group> exception_group::subgroup(Predicate predicate) const {
  return split<E>(std::move(predicate)).match;
}

template <class Predicate>
  requires std::is_invocable_r_v<bool, Predicate&, const std::exception_ptr&>
std::optional<exception_group> exception_group::subgroup(Predicate predicate) const {
  return split(std::move(predicate)).match;
}

}  // namespace eddy
