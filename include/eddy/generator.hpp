// eddy::async_generator<T>: a coroutine that can both co_yield values and co_await (asyncio's
// async generators), and eddy::collect for the async comprehension.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/coro.hpp"
#include "eddy/detail/frame_allocator.hpp"
#include "eddy/errors.hpp"

namespace eddy {

/// An async generator:
///
///     eddy::async_generator<int> ticker(int count) {
///       for (int i = 0; i < count; ++i) {
///         co_await eddy::sleep(10ms);
///         co_yield i;
///       }
///     }
///     ...
///     auto ticks = ticker(3);
///     while (auto tick = co_await ticks.next()) { use(*tick); }
///
/// Lazy, move-only. It runs inside the task that calls next() (symmetric transfer both ways),
/// so its awaits are that task's awaits. next() yields the next value, or std::nullopt once the
/// generator has returned; an exception thrown inside comes out of next(). Only one next() at a
/// time: a next() while another is still waiting for the generator throws std::runtime_error
/// (asyncio: "anext(): asynchronous generator is already running").
///
/// Cancel safety: if the consuming task is cancelled while the generator is suspended in an
/// await, cancelled_error is thrown inside the generator (its catch blocks and destructors
/// run), the generator ends, and next() throws it. Destroying a generator suspended at a
/// co_yield destroys its frame, running its destructors (there is no async aclose()).
template <class T>
class [[nodiscard]] async_generator {
 public:
  class promise_type {
   public:
    async_generator get_return_object() noexcept {
      return async_generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }

    struct to_consumer {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        self.promise().running_ = false;
        return self.promise().consumer_;
      }
      void await_resume() noexcept {}
    };

    template <class U = T>
      requires std::is_constructible_v<T, U&&>
    to_consumer yield_value(U&& value) {
      value_.emplace(std::forward<U>(value));
      return {};
    }
    to_consumer final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    static void* operator new(std::size_t size) { return detail::frame_allocator::allocate(size); }
    static void operator delete(void* pointer, std::size_t size) noexcept {
      detail::frame_allocator::deallocate(pointer, size);
    }

   private:
    friend async_generator;
    std::coroutine_handle<> consumer_;
    std::optional<T> value_;
    std::exception_ptr exception_;
    bool running_ = false;  ///< between a next() and the co_yield (or end) that answers it
  };

  async_generator() noexcept = default;
  async_generator(async_generator&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  async_generator& operator=(async_generator&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~async_generator() { reset(); }

  class [[nodiscard]] next_awaiter {
   public:
    explicit next_awaiter(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    bool await_ready() const {
      if (!handle_ || handle_.done()) {
        return true;
      }
      if (handle_.promise().running_) {
        throw std::runtime_error(
            "async_generator.next(): the generator is already running (another next() waits)");
      }
      return false;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) noexcept {
      handle_.promise().running_ = true;
      handle_.promise().consumer_ = consumer;
      handle_.promise().value_.reset();
      return handle_;
    }
    std::optional<T> await_resume() {
      if (!handle_) {
        return std::nullopt;
      }
      promise_type& promise = handle_.promise();
      if (promise.exception_) {
        std::rethrow_exception(std::exchange(promise.exception_, nullptr));
      }
      if (handle_.done()) {
        return std::nullopt;
      }
      std::optional<T> value = std::move(promise.value_);
      promise.value_.reset();
      return value;
    }

   private:
    std::coroutine_handle<promise_type> handle_;
  };

  /// Resumes the generator until its next co_yield (the value) or its end (std::nullopt).
  /// Awaiting it throws std::runtime_error while another next() is still running.
  next_awaiter next() noexcept { return next_awaiter(handle_); }

  /// Whether the generator has returned (or thrown).
  [[nodiscard]] bool done() const noexcept { return !handle_ || handle_.done(); }

 private:
  explicit async_generator(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  void reset() noexcept {
    if (handle_) {
      handle_.destroy();
      handle_ = nullptr;
    }
  }

  std::coroutine_handle<promise_type> handle_;
};

/// Every value the generator yields, in order (`[x async for x in gen]`).
///
/// Cancel safety: as next(); values already collected are dropped with the cancelled await.
template <class T>
[[nodiscard]] coro<std::vector<T>> collect(async_generator<T> generator) {
  std::vector<T> values;
  while (std::optional<T> value = co_await generator.next()) {
    values.push_back(std::move(*value));
  }
  co_return values;
}

}  // namespace eddy
