// eddy::coro<T>: the type of an `async def` function.
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <source_location>
#include <type_traits>
#include <utility>

#include "eddy/detail/frame_allocator.hpp"
#include "eddy/detail/frame_record.hpp"
#include "eddy/errors.hpp"

// Clang's coroutine lifetime checks (clang 18+), opt-in with -DEDDY_CORO_LIFETIME_CHECKS=1:
// coro<T> is then a [[clang::coro_return_type]] with [[clang::coro_lifetimebound]], so clang
// warns (-Wdangling) when a coro outlives a temporary it refers to, the capturing lambda
// called in place included (`auto t = create_task([x]() -> coro<void> {...}());`). The price
// is clang's rule that every function returning coro<T> is a coroutine or is marked
// [[clang::coro_wrapper]]; std::function<coro<T>()> and std::invoke returning a coro break
// that rule and stop compiling. docs/coroutine-lifetimes.md shows both.
#if defined(EDDY_CORO_LIFETIME_CHECKS) && EDDY_CORO_LIFETIME_CHECKS && defined(__has_cpp_attribute)
#if __has_cpp_attribute(clang::coro_return_type) && \
    __has_cpp_attribute(clang::coro_lifetimebound) && __has_cpp_attribute(clang::coro_wrapper)
#define EDDY_DETAIL_CORO_RETURN_TYPE \
  [[clang::coro_return_type, clang::coro_lifetimebound, gsl::Pointer]]
#define EDDY_CORO_WRAPPER [[clang::coro_wrapper]]
#define EDDY_DETAIL_LIFETIMEBOUND [[clang::lifetimebound]]
#define EDDY_DETAIL_CORO_LIFETIME_CHECKS 1
#if __has_cpp_attribute(clang::coro_disable_lifetimebound)
// eddy's own wrappers keep copies of what they are given (a coro frame of their own), so the
// coro they return refers to none of their arguments.
#define EDDY_DETAIL_OWNING_CORO_WRAPPER [[clang::coro_wrapper, clang::coro_disable_lifetimebound]]
#else
#define EDDY_DETAIL_OWNING_CORO_WRAPPER [[clang::coro_wrapper]]
#endif
#endif
#endif
#ifndef EDDY_DETAIL_CORO_RETURN_TYPE
#define EDDY_DETAIL_CORO_RETURN_TYPE
/// Marks a function that returns an eddy::coro<T> without being a coroutine itself (it returns
/// another function's coro), for EDDY_CORO_LIFETIME_CHECKS. Expands to nothing otherwise.
#define EDDY_CORO_WRAPPER
#define EDDY_DETAIL_LIFETIMEBOUND
#define EDDY_DETAIL_OWNING_CORO_WRAPPER
#endif

namespace eddy {

template <class T = void>
class coro;

namespace detail {

/// Where a finished coroutine leaves its value or its exception. One of the two at most, so
/// they share storage: a coroutine frame is one 16-byte size class smaller than with an
/// optional value beside an exception pointer.
template <class T>
class coro_result {
 public:
  coro_result() noexcept {}
  coro_result(const coro_result&) = delete;
  coro_result& operator=(const coro_result&) = delete;
  ~coro_result() {
    if (held_ == held::value) {
      std::destroy_at(&value_);
    } else if (held_ == held::exception) {
      std::destroy_at(&exception_);
    }
  }

  template <class U = T>
  void return_value(U&& value) {
    std::construct_at(&value_, std::forward<U>(value));
    held_ = held::value;
  }
  void unhandled_exception() noexcept {
    std::construct_at(&exception_, std::current_exception());
    held_ = held::exception;
  }

  /// The value, moved out; rethrows what the body threw.
  T get() {
    if (held_ == held::exception) [[unlikely]] {
      std::rethrow_exception(exception_);
    }
    return std::move(value_);
  }

 private:
  enum class held : unsigned char { nothing, value, exception };
  union {
    T value_;
    std::exception_ptr exception_;
  };
  held held_ = held::nothing;
};

template <>
class coro_result<void> {
 public:
  void return_void() noexcept {}
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  /// Rethrows what the body threw.
  void get() {
    if (exception_) [[unlikely]] {
      std::rethrow_exception(exception_);
    }
  }

 private:
  std::exception_ptr exception_;
};

template <class T>
class coro_promise : public coro_result<T>, public frame_record {
 public:
  coro<T> get_return_object() noexcept;

  /// Every `co_await` in an eddy coroutine passes through here: it records where the frame
  /// suspends (for call graphs) and leaves the awaitable as it was written, so operator
  /// co_await and the awaiter's own rules apply unchanged.
  template <class Awaitable>
  written_awaitable<Awaitable> await_transform(
      Awaitable&& awaitable, std::source_location here = std::source_location::current()) noexcept {
    where = here;
    return written_awaitable<Awaitable>(std::forward<Awaitable>(awaitable));
  }
  /// `co_await fetch()`: as above, and the awaited coro is linked below this frame while it
  /// runs, so a call graph can walk down to it.
  template <class U>
  typename coro<U>::nested_awaiter await_transform(
      coro<U>&& awaited, std::source_location here = std::source_location::current()) noexcept {
    where = here;
    return typename coro<U>::nested_awaiter(awaited.handle_, *this);
  }

  /// Lazy: nothing runs until the coro is awaited or becomes a task's body. Until its first
  /// co_await, the frame's `where` names the coroutine itself (the function, and a line of its
  /// body: its closing brace under GCC, its opening one under clang), as the compiler calls
  /// this from inside the coroutine.
  std::suspend_always initial_suspend(
      std::source_location here = std::source_location::current()) noexcept {
    where = here;
    return {};
  }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    /// Symmetric transfer back to whoever awaited us; a task's body has no continuation and
    /// returns control to the loop, which sees the body is done.
    std::coroutine_handle<> await_suspend(std::coroutine_handle<coro_promise> self) noexcept {
      std::coroutine_handle<> continuation = self.promise().continuation_;
      return continuation ? continuation : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
  static void operator delete(void* pointer, std::size_t size) noexcept {
    frame_allocator::deallocate(pointer, size);
  }

  std::coroutine_handle<> continuation_;
};

}  // namespace detail

/// The return type of a coroutine function: `eddy::coro<int> fetch() { ...; co_return 42; }`.
///
/// Lazy and move-only: nothing runs until it is awaited (`co_await fetch()`) or handed to
/// create_task / run. Awaiting runs it inside the awaiting task, with symmetric transfer (no
/// trip through the loop, no stack growth on long await chains), and yields its value or
/// rethrows its exception. It can be awaited once; awaiting it again throws
/// invalid_state_error. Destroying a coro that was never awaited destroys its frame unrun; in
/// debug mode the running loop reports it ("coroutine 'fetch' was never awaited").
///
/// A function declared to return coro<T> is a coroutine only if its body has a co_await,
/// co_return or co_yield; without one it is an ordinary function, and falling off its end is
/// undefined behaviour (compilers warn: -Wreturn-type, which eddy's CMake target makes an
/// error for its consumers). Awaiting an empty coro throws invalid_state_error saying so.
///
/// Cancel safety: a coro is part of the task that awaits it, so a cancellation of that task
/// is thrown at whatever eddy awaitable the coro is suspended in.
template <class T>
class [[nodiscard]] EDDY_DETAIL_CORO_RETURN_TYPE coro {
 public:
  using promise_type = detail::coro_promise<T>;
  using value_type = T;

  coro() noexcept = default;
  coro(coro&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  coro& operator=(coro&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  coro(const coro&) = delete;
  coro& operator=(const coro&) = delete;
  ~coro() { reset(); }

  /// Whether it holds a coroutine (false once moved from or released).
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  class awaiter {
   public:
    explicit awaiter(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    bool await_ready() const {
      if (!handle_) [[unlikely]] {
        throw invalid_state_error(
            "co_await on an empty eddy::coro: it was moved from, or a function returning "
            "eddy::coro<T> ended without co_return (it has no co_await or co_return, so it is "
            "not a coroutine; build with -Werror=return-type)");
      }
      if (handle_.done()) [[unlikely]] {
        throw invalid_state_error("co_await on an eddy::coro that was already awaited");
      }
      return false;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      handle_.promise().continuation_ = awaiting;
      return handle_;
    }
    T await_resume() { return handle_.promise().get(); }

   protected:
    [[nodiscard]] std::coroutine_handle<promise_type> handle() const noexcept { return handle_; }

   private:
    std::coroutine_handle<promise_type> handle_;
  };

  /// The awaiter when an eddy coroutine awaits this coro: as awaiter, and `parent`'s frame
  /// record points down to this coro's while it runs.
  class nested_awaiter : public awaiter {
   public:
    nested_awaiter(std::coroutine_handle<promise_type> handle,
                   detail::frame_record& parent) noexcept
        : awaiter(handle), parent_(&parent) {}
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      parent_->awaiting = &this->handle().promise();
      return awaiter::await_suspend(awaiting);
    }
    T await_resume() {
      parent_->awaiting = nullptr;
      return awaiter::await_resume();
    }

   private:
    detail::frame_record* parent_;
  };

  /// `co_await std::move(c)` or `co_await f()`: runs it to completion in this task.
  awaiter operator co_await() && noexcept { return awaiter{handle_}; }

  /// A named coro is awaited with std::move: awaiting consumes it.
  template <class Unused = T>
  awaiter operator co_await() & {
    static_assert(sizeof(Unused) == 0, "a coro is awaited once: write co_await std::move(c)");
    return awaiter{handle_};
  }

  /// Gives up ownership of the frame (used by create_task).
  [[nodiscard]] std::coroutine_handle<promise_type> release() noexcept {
    return std::exchange(handle_, nullptr);
  }

 private:
  template <class>
  friend class detail::coro_promise;
  explicit coro(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}

  void reset() noexcept {
    if (handle_) {
      // Only an awaited coro has a continuation; a task's body is released, not reset.
      if (!handle_.promise().continuation_) [[unlikely]] {
        detail::report_never_awaited(handle_.promise());
      }
      handle_.destroy();
      handle_ = nullptr;
    }
  }

  std::coroutine_handle<promise_type> handle_;
};

template <class T>
coro<T> detail::coro_promise<T>::get_return_object() noexcept {
  return coro<T>{std::coroutine_handle<coro_promise>::from_promise(*this)};
}

}  // namespace eddy
