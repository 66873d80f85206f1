// The untyped part of futures and tasks: state, done callbacks, cancellation of a future.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "eddy/detail/frame_allocator.hpp"
#include "eddy/detail/intrusive_list.hpp"
#include "eddy/detail/loop_core.hpp"
#include "eddy/errors.hpp"

namespace eddy::detail {

class future_base;

/// What most futures never need: an exception, a cancellation message, a task's own name.
/// Allocated on first use, so a future or task that succeeds quietly pays one pointer for it.
struct rare_fields {
  std::exception_ptr exception;
  std::string cancel_message;
  std::string name;
  bool has_name = false;
};

/// Who waits through a done link, for call graphs (eddy/call_graph.hpp: a future's "awaited
/// by"). Says which of the link types below the link is; none for links that no task or future
/// waits through (done callbacks, run_until_complete).
enum class link_kind : std::uint8_t { none, waiting_task, gather_child, owning_future };

/// A link in a future's list of things to do when it completes. Lives inside whatever waits
/// (an awaiter in a coroutine frame, a callback node), so waiting allocates nothing.
struct done_link {
  list_links<done_link> done_links;  ///< in the future's done list while `linked`
  /// Called on the loop thread at completion, after the future's state is final. Must not
  /// throw or run user code directly: it schedules (asyncio runs done callbacks via call_soon).
  /// Nor may it unlink the future's other links: complete() has taken the chain and walks it.
  void (*on_done)(done_link&, future_base&) noexcept = nullptr;
  bool linked = false;
  /// In the tail padding: links stay 32 bytes.
  link_kind kind = link_kind::none;
};

/// A link through which a task waits (`co_await task`, wait(), a task group's parent).
struct task_link : done_link {
  task_link() noexcept { kind = link_kind::waiting_task; }
  task_base* waiter = nullptr;  ///< the waiting task, once it waits
};

/// A link owned by a future that completes from it (shield's outer future).
struct future_link : done_link {
  future_link() noexcept { kind = link_kind::owning_future; }
  future_base* owner = nullptr;
};

/// One child's link into a gather (gather.hpp's gather_link adds the child's outcome). The
/// small fields sit in done_link's tail padding, so a link is 48 bytes with a word-sized
/// outcome: a gather of a burst of tasks is mostly these links.
struct gather_link_base : done_link {
  gather_link_base() noexcept { kind = link_kind::gather_child; }
  bool has_outcome = false;
  std::uint32_t index = 0;
  future_base* owner = nullptr;  ///< the gathering future
};

/// What a suspended task is waiting in, and how to interrupt it.
class wait_base {
 public:
  /// The task waiting here was cancelled. Returns true when the wait will end and its await
  /// will throw cancelled_error; false when the wait can no longer be interrupted (its result
  /// is already on the way), in which case the cancellation is delivered at the next await.
  virtual bool cancel_wait(task_base& waiter) noexcept = 0;

  /// What the task waits for, in a few words, for task dumps: "sleep", "task 'fetch'",
  /// "lock". Empty when the wait does not say.
  [[nodiscard]] virtual std::string describe_wait() const { return {}; }

 protected:
  wait_base() = default;
  wait_base(const wait_base&) = default;
  wait_base& operator=(const wait_base&) = default;
  ~wait_base() = default;
};

/// Shared state of a future or task, reference counted (handles and the loop hold references;
/// all on the loop's thread, so the count is not atomic).
class future_base : public recycled {
 public:
  /// pending → exactly one of finished (result stored), failed (rare_->exception) or
  /// cancelled (rare_->cancel_message). Never changes again once it leaves pending.
  enum class status : std::uint8_t { pending, finished, failed, cancelled };

  future_base(const future_base&) = delete;
  future_base& operator=(const future_base&) = delete;

  void add_ref() noexcept { ++references_; }
  void release() noexcept {
    if (--references_ == 0) {
      delete this;
    }
  }

  [[nodiscard]] status state() const noexcept { return status_; }
  [[nodiscard]] bool done() const noexcept { return status_ != status::pending; }
  [[nodiscard]] bool cancelled() const noexcept { return status_ == status::cancelled; }
  [[nodiscard]] loop_core& loop() const noexcept { return *loop_; }
  [[nodiscard]] bool is_task() const noexcept { return is_task_; }

  /// Future.cancel(): a pending future becomes cancelled. Tasks override it (a task is only
  /// asked to cancel). Returns false if already done.
  virtual bool cancel(std::string message) {
    if (done()) {
      return false;
    }
    set_cancel_message(std::move(message));
    complete(status::cancelled);
    return true;
  }

  void set_exception(std::exception_ptr exception) {
    require_pending("set_exception");
    rare().exception = std::move(exception);
    complete(status::failed);
  }

  /// Throws what result() would throw for a cancelled or failed future; returns otherwise.
  /// `operation` names the caller for the invalid_state_error message.
  void rethrow_if_unsuccessful(const char* operation) {
    if (status_ != status::finished) [[unlikely]] {
      rethrow_unsuccessful(operation);
    }
  }

  /// The exception of a failed future, or null; unlike exception() it neither throws nor
  /// counts as retrieving it (for printing: eddy/format.hpp).
  [[nodiscard]] std::exception_ptr stored_exception() const noexcept {
    return status_ == status::failed ? rare_->exception : nullptr;
  }

  /// Future.exception(): null if it succeeded, the exception if it failed.
  [[nodiscard]] std::exception_ptr exception() {
    if (status_ == status::pending) {
      throw invalid_state_error("exception(): the result is not set yet");
    }
    if (status_ == status::cancelled) {
      throw cancelled_error(cancel_message());
    }
    exception_retrieved_ = true;
    return status_ == status::failed ? rare_->exception : nullptr;
  }

  [[nodiscard]] const std::string& cancel_message() const noexcept {
    static const std::string none;
    return rare_ ? rare_->cancel_message : none;
  }
  void set_cancel_message(std::string message) {
    if (!message.empty() || rare_) {
      rare().cancel_message = std::move(message);
    }
  }

  /// Links are kept newest first; complete() runs them oldest first, in the order added.
  void add_done_link(done_link& link) noexcept {
    link.linked = true;
    done_links_.push_front(link);
  }

  /// Unlinks `link` if it is still linked (a link that has run, or never was, is left alone).
  void remove_done_link(done_link& link) noexcept {
    if (!link.linked) {
      return;
    }
    link.linked = false;
    done_links_.remove(link);
  }

  /// Whether `target` is linked to this future (a walk of the done list).
  [[nodiscard]] bool has_done_link(const done_link& target) const noexcept {
    return done_links_.contains(target);
  }

  /// Calls visit(const done_link&) for each link, newest first (call graphs read who waits).
  template <class Visit>
  void visit_done_links(Visit&& visit) const {
    for (const done_link* link = done_links_.front(); link != nullptr;
         link = done_list::next(*link)) {
      visit(*link);
    }
  }

  /// Stops the "exception was never retrieved" report (await, result() and exception() do it).
  void mark_exception_retrieved() noexcept { exception_retrieved_ = true; }

  /// A name for messages: the task's name, or "Future".
  [[nodiscard]] virtual std::string describe() const { return "Future"; }

 protected:
  future_base(loop_core& loop, bool is_task) noexcept : loop_(&loop), is_task_(is_task) {}
  virtual ~future_base() {
    if (status_ == status::failed && !exception_retrieved_) [[unlikely]] {
      report_unretrieved_future();
    }
  }

  /// rethrow_if_unsuccessful's cold part: throws for every status but finished.
  [[noreturn]] void rethrow_unsuccessful(const char* operation);

  /// "Task exception was never retrieved", through the loop's handler, at most once.
  void report_if_unretrieved(const std::string& name) noexcept;
  /// The destructor's report for a plain future (out of line: building a name is cold work).
  void report_unretrieved_future() noexcept;

  void require_pending(const char* operation) const {
    if (done()) {
      throw invalid_state_error(std::string(operation) + ": the future is already done (" +
                                describe() + ")");
    }
  }

  /// Makes the state final and runs every done link, in the order they were added.
  void complete(status final_status) noexcept {
    status_ = final_status;
    // The list is newest first: start from its far end and walk back. The walk there rarely
    // runs, as most futures have one link at most.
    done_link* oldest = done_links_.take_all();
    if (oldest != nullptr) {
      while (done_list::next(*oldest) != nullptr) [[unlikely]] {
        oldest = done_list::next(*oldest);
      }
    }
    while (oldest != nullptr) {
      done_link* newer = done_list::prev(*oldest);  // read first: on_done may free the link
      oldest->linked = false;
      oldest->done_links = {};
      oldest->on_done(*oldest, *this);
      oldest = newer;
    }
  }

  rare_fields& rare() {
    if (!rare_) {
      rare_ = std::make_unique<rare_fields>();
    }
    return *rare_;
  }

  /// Newest first. One pointer, no back end: a back pointer would add 8 bytes to every future
  /// and task, a whole 16-byte frame allocator granule for task_state<int> (sleeping_memory
  /// counts it).
  using done_list = intrusive_list<done_link, &done_link::done_links, list_ends::front_only>;
  static_assert(sizeof(done_list) == sizeof(done_link*));

  loop_core* loop_;
  std::unique_ptr<rare_fields> rare_;
  done_list done_links_;
  std::uint32_t references_ = 1;
  status status_ = status::pending;
  bool is_task_ = false;
  bool exception_retrieved_ = false;
};

/// The state behind a handle; throws invalid_state_error for an empty handle (a
/// default-constructed task, or current_task() outside any task).
template <class State>
State* require_state(State* state) {
  if (state == nullptr) {
    throw invalid_state_error("this task/future handle is empty");
  }
  return state;
}

/// An owning reference to a reference-counted state: a future_base (or derived), or any type
/// with add_ref() and release() (the thread bridge's concurrent states count atomically).
template <class State>
class state_ref {
 public:
  state_ref() noexcept = default;
  /// Adopts a reference the caller already holds.
  static state_ref adopt(State* state) noexcept {
    state_ref ref;
    ref.state_ = state;
    return ref;
  }
  explicit state_ref(State* state) noexcept : state_(state) {
    if (state_ != nullptr) {
      state_->add_ref();
    }
  }
  state_ref(const state_ref& other) noexcept : state_ref(other.state_) {}
  state_ref(state_ref&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  template <class Other>
  state_ref(const state_ref<Other>& other) noexcept : state_ref(other.get()) {}  // NOLINT
  state_ref& operator=(state_ref other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~state_ref() {
    if (state_ != nullptr) {
      state_->release();
    }
  }

  [[nodiscard]] State* get() const noexcept { return state_; }
  State* operator->() const noexcept { return state_; }
  State& operator*() const noexcept { return *state_; }
  explicit operator bool() const noexcept { return state_ != nullptr; }
  friend bool operator==(const state_ref& a, const state_ref& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  State* state_ = nullptr;
};

}  // namespace eddy::detail
