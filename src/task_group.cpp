// task_group: asyncio.TaskGroup's bookkeeping.
#include "eddy/task_group.hpp"

#include "eddy/loop.hpp"

namespace eddy {

namespace {
bool is_cancellation(const std::exception_ptr& failure) {
  if (!failure) {
    return false;
  }
  try {
    std::rethrow_exception(failure);
  } catch (const cancelled_error&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

task_group::~task_group() {
  // Only a frame destroyed while waiting (a closing loop) gets here with children left.
  while (member* child = members_.front()) {
    child->task.state()->remove_done_link(*child);
    forget(*child);
  }
}

void task_group::enter() {
  parent_ = current_task();
  if (!parent_) {
    throw std::logic_error("with_task_group must be awaited inside an eddy task");
  }
  loop_ = &parent_.state()->loop();
}

void task_group::check_open() const {
  if (aborting_) {
    throw std::runtime_error("task_group::create_task: the group is shutting down");
  }
  if (exiting_ && members_.empty()) {
    throw std::runtime_error("task_group::create_task: the group has finished");
  }
}

void task_group::adopt(const any_task& child) {
  auto* link = new member;
  link->group = this;
  link->task = child;
  link->waiter = parent_.state();  // a child is awaited by the group's task (call graphs)
  link->on_done = &child_done;
  link->run = &look_at_finished_child;
  members_.push_front(*link);
  ++count_;
  if (child.state()->done()) {
    // An eager child that finished inside create_task: looked at from the ready queue, as a
    // done link would have it (asyncio's add_done_callback on a done task: call_soon).
    child.state()->loop().schedule(*link);
  } else {
    child.state()->add_done_link(*link);
  }
}

void task_group::forget(member& child) noexcept {
  members_.remove(child);
  --count_;
  delete &child;
}

void task_group::child_done(detail::done_link& link, detail::future_base& state) noexcept {
  state.loop().schedule(static_cast<member&>(link));
}

void task_group::look_at_finished_child(detail::ready_node& node) noexcept {
  auto& child = static_cast<member&>(node);
  task_group& group = *child.group;
  if (group.loop_->is_closed_for_callbacks()) {
    group.forget(child);
    return;
  }
  any_task finished = child.task;
  std::string name = finished.get_name();
  detail::future_base& state = *finished.state();
  group.forget(child);
  if (group.members_.empty() && group.all_finished_ && !group.all_finished_->done()) {
    group.all_finished_->set_result();
  }
  if (state.cancelled()) {
    return;
  }
  std::exception_ptr failure = state.exception();
  if (!failure) {
    return;
  }
  group.errors_.push_back(failure);
  if (!group.fatal_error_ && is_fatal_exception(failure)) {
    group.fatal_error_ = failure;
  }
  if (group.parent_.done()) {
    group.loop_->call_exception_handler(
        {"Task exception was never retrieved (task_group)", failure, name});
    return;
  }
  if (!group.aborting_ && !group.parent_cancel_requested_) {
    group.abort();
    group.parent_cancel_requested_ = true;
    group.parent_.cancel();
  }
}

void task_group::abort() noexcept {
  aborting_ = true;
  for (member& child : members_) {
    if (!child.task.done()) {
      child.task.cancel();
    }
  }
}

coro<void> task_group::exit(std::exception_ptr body_failure) {
  exiting_ = true;
  if (!fatal_error_ && is_fatal_exception(body_failure)) {
    fatal_error_ = body_failure;
  }
  const bool body_cancelled = is_cancellation(body_failure);
  std::exception_ptr propagate_cancellation = body_cancelled ? body_failure : nullptr;
  if (body_failure && !aborting_) {
    abort();
  }
  while (!members_.empty()) {
    if (!all_finished_) {
      all_finished_.emplace(*loop_);
    }
    std::exception_ptr interrupted;
    try {
      co_await *all_finished_;
    } catch (const cancelled_error&) {
      interrupted = std::current_exception();
    }
    if (interrupted && !aborting_) {
      // The task running the group is being cancelled from outside: pass it on to the children.
      propagate_cancellation = interrupted;
      abort();
    }
    all_finished_.reset();
  }
  if (fatal_error_) {
    throw_fatal_error(body_cancelled ? nullptr : body_failure);
  }
  if (parent_cancel_requested_ && parent_.uncancel() == 0) {
    // The only cancellation was the group's own (after a child failed): do not propagate it.
    propagate_cancellation = nullptr;
  }
  if (propagate_cancellation && errors_.empty()) {
    std::rethrow_exception(propagate_cancellation);
  }
  if (body_failure && !body_cancelled) {
    errors_.push_back(body_failure);
  }
  if (!errors_.empty()) {
    if (parent_.cancelling() > 0) {
      // Keep an outside cancellation's count stable while the group's error is thrown.
      parent_.uncancel();
      parent_.cancel();
    }
    throw exception_group("unhandled errors in a task_group", std::move(errors_));
  }
}

void task_group::throw_fatal_error(const std::exception_ptr& body_failure) {
  // Only one exception can come out, and asyncio lets the KeyboardInterrupt (or SystemExit)
  // through: the other failures would be lost silently, so they are reported (gh-135736).
  std::vector<std::exception_ptr> displaced;
  for (const std::exception_ptr& error : errors_) {
    if (error != fatal_error_) {
      displaced.push_back(error);
    }
  }
  if (body_failure && body_failure != fatal_error_) {
    displaced.push_back(body_failure);
  }
  for (const std::exception_ptr& error : displaced) {
    loop_->call_exception_handler(
        {"task_group exception was not propagated because the group is being closed "
         "with a fatal exception",
         error, parent_.get_name()});
  }
  if (parent_cancel_requested_) {
    parent_.uncancel();  // the group's own request (asyncio leaves it counted; see differences.md)
  }
  if (parent_.cancelling() > 0) {
    // An outside cancellation as well: kept pending for the next await, as with an
    // exception_group.
    parent_.uncancel();
    parent_.cancel();
  }
  std::rethrow_exception(fatal_error_);
}

}  // namespace eddy
