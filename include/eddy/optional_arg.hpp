// eddy::optional_arg: the type of an optional field of an options struct (process_options'
// cwd and env, datagram_endpoint_options' addresses), so that the asyncio-like spelling
//
//     co_await eddy::create_subprocess_exec("pwd", {}, {.cwd = "/tmp"});
//
// is correct under GCC 12 too. GCC 12.2 mishandles an aggregate temporary written inside a
// co_await expression (docs/design-notes.md, "GCC 12"): besides the object it constructs, it
// makes a bitwise copy of each member at another address in the coroutine frame, may hand
// that copy to the function called, and destroys both. A std::optional<std::string> there
// frees its string twice, or frees the original's inline buffer.
//
// optional_arg remembers the address it was constructed at. A bitwise copy (which no C++
// copy or move can make) therefore still points at the original: it reads and copies the
// original's value, and its destruction does nothing. The original outlives the copy, since
// both are temporaries of the same full-expression and GCC destroys the copy first.
#pragma once

#include <concepts>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace eddy {

/// An optional value, with std::optional's everyday interface (has_value, operator bool, *,
/// ->, value, value_or, emplace, reset, assignment from a value or std::nullopt). Copies and
/// moves are ordinary; it must not be relocated with memcpy (see the file comment).
template <class T>
class optional_arg {
 public:
  using value_type = T;

  /// Empty.
  optional_arg() noexcept {}
  /// Empty (`.cwd = std::nullopt`).
  optional_arg(std::nullopt_t) noexcept {}  // NOLINT(google-explicit-constructor): as std::optional
  /// Holds T(std::forward<U>(value)) (`.cwd = "/tmp"`).
  template <class U = T>
    requires std::constructible_from<T, U> &&
             (!std::same_as<std::remove_cvref_t<U>, optional_arg>) &&
             (!std::same_as<std::remove_cvref_t<U>, std::nullopt_t>)
  optional_arg(U&& value) {  // NOLINT(google-explicit-constructor): as std::optional
    emplace(std::forward<U>(value));
  }
  /// Holds a copy of other's value, if any.
  optional_arg(const std::optional<T>& other) {  // NOLINT(google-explicit-constructor)
    if (other) {
      emplace(*other);
    }
  }

  optional_arg(const optional_arg& other) {
    const optional_arg& source = other.origin();
    if (source.engaged_) {
      emplace(source.value_);
    }
  }
  optional_arg(optional_arg&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    optional_arg& source = other.origin();
    if (source.engaged_) {
      emplace(std::move(source.value_));
    }
  }
  optional_arg& operator=(const optional_arg& other) {
    const optional_arg& source = other.origin();
    if (&source != &origin()) {
      if (source.engaged_) {
        assign(source.value_);
      } else {
        reset();
      }
    }
    return *this;
  }
  optional_arg& operator=(optional_arg&& other) noexcept(std::is_nothrow_move_constructible_v<T> &&
                                                         std::is_nothrow_move_assignable_v<T>) {
    optional_arg& source = other.origin();
    if (&source != &origin()) {
      if (source.engaged_) {
        assign(std::move(source.value_));
      } else {
        reset();
      }
    }
    return *this;
  }
  optional_arg& operator=(std::nullopt_t) noexcept {
    reset();
    return *this;
  }
  template <class U = T>
    requires std::constructible_from<T, U> && std::assignable_from<T&, U> &&
             (!std::same_as<std::remove_cvref_t<U>, optional_arg>) &&
             (!std::same_as<std::remove_cvref_t<U>, std::nullopt_t>)
  optional_arg& operator=(U&& value) {
    assign(std::forward<U>(value));
    return *this;
  }

  ~optional_arg() {
    if (self_ == this) {  // a bitwise copy leaves the value to its original
      reset();
    }
  }

  /// Destroys the value held, if any.
  void reset() noexcept {
    optional_arg& target = origin();
    if (target.engaged_) {
      target.engaged_ = false;
      std::destroy_at(std::addressof(target.value_));
    }
  }
  /// Replaces the value with T(args...) and returns it.
  template <class... Args>
  T& emplace(Args&&... args) {
    reset();
    optional_arg& target = origin();
    std::construct_at(std::addressof(target.value_), std::forward<Args>(args)...);
    target.engaged_ = true;
    return target.value_;
  }

  [[nodiscard]] bool has_value() const noexcept { return origin().engaged_; }
  explicit operator bool() const noexcept { return origin().engaged_; }

  /// The value; undefined when empty (as std::optional's).
  [[nodiscard]] T& operator*() noexcept { return origin().value_; }
  [[nodiscard]] const T& operator*() const noexcept { return origin().value_; }
  [[nodiscard]] T* operator->() noexcept { return std::addressof(origin().value_); }
  [[nodiscard]] const T* operator->() const noexcept { return std::addressof(origin().value_); }
  /// The value; throws std::bad_optional_access when empty.
  [[nodiscard]] T& value() {
    if (!has_value()) {
      throw std::bad_optional_access();
    }
    return **this;
  }
  [[nodiscard]] const T& value() const {
    if (!has_value()) {
      throw std::bad_optional_access();
    }
    return **this;
  }
  /// The value, or `fallback` when empty.
  template <class U>
  [[nodiscard]] T value_or(U&& fallback) const {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }

  /// A std::optional holding a copy of the value, if any.
  [[nodiscard]] std::optional<T> to_optional() const {
    return has_value() ? std::optional<T>(**this) : std::nullopt;
  }

 private:
  /// The object constructed at this address: itself, except for a bitwise copy.
  optional_arg& origin() noexcept { return *self_; }
  const optional_arg& origin() const noexcept { return *self_; }

  template <class U>
  void assign(U&& value) {
    if (has_value()) {
      **this = std::forward<U>(value);
    } else {
      emplace(std::forward<U>(value));
    }
  }

  optional_arg* self_ = this;  ///< where it was constructed; a bitwise copy lies elsewhere
  bool engaged_ = false;
  union {
    T value_;
  };
};

}  // namespace eddy
