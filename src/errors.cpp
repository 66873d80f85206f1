#include "eddy/errors.hpp"

#include <algorithm>

#include "describe.hpp"

namespace eddy {

namespace {

template <class E>
bool holds(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

/// The exceptions that end a program's work instead of reporting a failure (asyncio's
/// KeyboardInterrupt and SystemExit, TaskGroup._is_base_error). To add one, name it here.
template <class... Fatal>
struct fatal_exception_types {
  static bool holds_one(const std::exception_ptr& error) noexcept {
    return (holds<Fatal>(error) || ...);
  }
};
using fatal_exceptions = fatal_exception_types<keyboard_interrupt>;

/// A copy of the group held by `member`, or nothing if it holds something else. (A copy: the
/// standard lets rethrow_exception throw a copy, which would not outlive the catch block.)
std::optional<exception_group> as_group(const std::exception_ptr& member) {
  try {
    std::rethrow_exception(member);
  } catch (const exception_group& group) {
    return group;
  } catch (...) {
    return std::nullopt;
  }
}

void collect_leaves(const std::vector<std::exception_ptr>& members,
                    std::vector<std::exception_ptr>& leaves) {
  for (const std::exception_ptr& member : members) {
    if (std::optional<exception_group> nested = as_group(member)) {
      collect_leaves(nested->exceptions(), leaves);
    } else {
      leaves.push_back(member);
    }
  }
}

bool contains(const std::vector<std::exception_ptr>& pointers, const std::exception_ptr& wanted) {
  return std::find(pointers.begin(), pointers.end(), wanted) != pointers.end();
}

}  // namespace

bool is_fatal_exception(const std::exception_ptr& error) noexcept {
  return error != nullptr && fatal_exceptions::holds_one(error);
}

exception_group::exception_group(std::string message, std::vector<std::exception_ptr> exceptions)
    : message_(std::move(message)), exceptions_(std::move(exceptions)) {
  if (exceptions_.empty()) {
    throw std::invalid_argument("exception_group: the list of exceptions must not be empty");
  }
  if (contains(exceptions_, nullptr)) {
    throw std::invalid_argument("exception_group: a null std::exception_ptr is not an exception");
  }
  what_ = message_ + " (" + std::to_string(exceptions_.size()) +
          (exceptions_.size() == 1 ? " sub-exception): " : " sub-exceptions): ");
  for (std::size_t index = 0; index < exceptions_.size(); ++index) {
    if (index > 0) {
      what_ += "; ";
    }
    what_ += detail::describe_exception(exceptions_[index]);
  }
}

exception_group_split exception_group::split_by(bool self_matches, matcher condition) const {
  // BaseExceptionGroup.split: a member that matches goes whole to `match`; a nested group that
  // does not is split the same way; anything else is `rest`.
  if (self_matches) {
    return {*this, std::nullopt};
  }
  std::vector<std::exception_ptr> matching;
  std::vector<std::exception_ptr> others;
  for (const std::exception_ptr& member : exceptions_) {
    if (condition.matches(condition.context, member)) {
      matching.push_back(member);
      continue;
    }
    std::optional<exception_group> nested = as_group(member);
    if (!nested) {
      others.push_back(member);
      continue;
    }
    exception_group_split parts = nested->split_by(false, condition);
    if (!parts.rest) {
      matching.push_back(member);  // wholly matching: kept as it is
    } else if (!parts.match) {
      others.push_back(member);
    } else {
      matching.push_back(std::make_exception_ptr(std::move(*parts.match)));
      others.push_back(std::make_exception_ptr(std::move(*parts.rest)));
    }
  }
  exception_group_split result;
  if (others.empty()) {
    result.match = *this;
    return result;
  }
  if (matching.empty()) {
    result.rest = *this;
    return result;
  }
  result.match.emplace(message_, std::move(matching));
  result.rest.emplace(message_, std::move(others));
  return result;
}

namespace detail {

except_star_state::except_star_state(std::exception_ptr error) : original_(std::move(error)) {
  if (!original_) {
    throw std::invalid_argument("eddy::handle_exceptions: a null std::exception_ptr");
  }
  group_ = as_group(original_);
  if (!group_) {
    group_.emplace("", std::vector<std::exception_ptr>{original_});
    wrapped_ = true;
  }
}

std::vector<std::exception_ptr> except_star_state::unhandled_leaves() const {
  std::vector<std::exception_ptr> leaves;
  collect_leaves(group_->exceptions(), leaves);
  std::erase_if(leaves,
                [this](const std::exception_ptr& leaf) { return contains(handled_, leaf); });
  return leaves;
}

void except_star_state::handled(const std::exception_ptr& leaf) { handled_.push_back(leaf); }

void except_star_state::raised(const std::exception_ptr& leaf, std::exception_ptr raised) {
  if (raised == leaf) {
    // `throw;` inside the handler: re-raised, so it stays where it was (Python's reraise).
    return;
  }
  handled_.push_back(leaf);
  raised_.push_back(std::move(raised));
}

void except_star_state::finish() {
  if (handled_.empty()) {
    std::rethrow_exception(original_);  // untouched: the original, not a copy
  }
  std::exception_ptr rest;
  if (!wrapped_) {
    // The unhandled leaves, in the original's structure (Python's exception_group_projection).
    auto parts = group_->split(
        [this](const std::exception_ptr& member) { return contains(handled_, member); });
    if (parts.rest) {
      rest = std::make_exception_ptr(std::move(*parts.rest));
    }
  }
  if (raised_.empty()) {
    if (rest) {
      std::rethrow_exception(rest);
    }
    return;
  }
  std::vector<std::exception_ptr> outcome = raised_;
  if (rest) {
    outcome.push_back(rest);
  }
  if (outcome.size() == 1) {
    std::rethrow_exception(outcome.front());
  }
  throw exception_group("", std::move(outcome));
}

}  // namespace detail

}  // namespace eddy
