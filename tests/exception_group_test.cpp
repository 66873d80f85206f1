#include "eddy/errors.hpp"
// eddy::exception_group's split / subgroup (BaseExceptionGroup.split / .subgroup) and
// eddy::handle_exceptions (except*): the scenarios of CPython's test_exception_group.py, with
// C++ exception types standing in for Python's (value_error for ValueError, type_error for
// TypeError), and is_fatal_exception.

#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/run.hpp"
#include "eddy/task_group.hpp"
#include "eddy/time.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;

struct value_error : std::runtime_error {
  explicit value_error(int value)
      : std::runtime_error("value_error " + std::to_string(value)), code(value) {}
  int code;
};

struct type_error : std::runtime_error {
  explicit type_error(int value)
      : std::runtime_error("type_error " + std::to_string(value)), code(value) {}
  int code;
};

/// Like Python's BaseException subclasses: not a std::exception.
struct my_base_exc {};

template <class E>
std::exception_ptr raised(E error) {
  return std::make_exception_ptr(std::move(error));
}

std::exception_ptr group_ptr(std::string message, std::vector<std::exception_ptr> members) {
  return std::make_exception_ptr(eddy::exception_group(std::move(message), std::move(members)));
}

/// create_simple_eg(): ExceptionGroup("simple eg", [ValueError(1), TypeError(2), ValueError(3)]).
eddy::exception_group simple_eg() {
  return eddy::exception_group(
      "simple eg", {raised(value_error(1)), raised(type_error(2)), raised(value_error(3))});
}

/// A readable picture of a group's structure: "msg[value_error 1, inner[type_error 2]]".
std::string shape(const std::exception_ptr& member);

std::string shape(const eddy::exception_group& group) {
  std::string text = group.message() + "[";
  for (std::size_t index = 0; index < group.exceptions().size(); ++index) {
    text += (index > 0 ? ", " : "") + shape(group.exceptions()[index]);
  }
  return text + "]";
}

std::string shape(const std::exception_ptr& member) {
  try {
    std::rethrow_exception(member);
  } catch (const eddy::exception_group& nested) {
    return shape(nested);
  } catch (const std::exception& error) {
    return error.what();
  } catch (const eddy::cancelled_error&) {
    return "cancelled";
  } catch (const eddy::keyboard_interrupt&) {
    return "keyboard_interrupt";
  } catch (...) {
    return "other";
  }
}

std::string shape(const std::optional<eddy::exception_group>& group) {
  return group ? shape(*group) : std::string("none");
}

}  // namespace

// --- construction ----------------------------------------------------------------------------

TEST_CASE("test_basics_ExceptionGroup_fields: message, exceptions and what()",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  CHECK(eg.message() == "simple eg");
  REQUIRE(eg.exceptions().size() == 3);
  CHECK(eddy_test::holds<value_error>(eg.exceptions()[0]));
  CHECK(eddy_test::holds<type_error>(eg.exceptions()[1]));
  CHECK_THAT(std::string(eg.what()), Catch::StartsWith("simple eg (3 sub-exceptions): "));
}

TEST_CASE("test_bad_EG_construction: an empty list or a null std::exception_ptr is refused",
          "[exception_group]") {
  CHECK_THROWS_AS(eddy::exception_group("empty", {}), std::invalid_argument);
  CHECK_THROWS_AS(eddy::exception_group("null", {raised(value_error(1)), nullptr}),
                  std::invalid_argument);
}

// --- subgroup --------------------------------------------------------------------------------

TEST_CASE("test_basics_subgroup_by_type__passthrough: a type the group itself has gives it all",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  for (const auto& whole : {eg.subgroup<std::exception>(), eg.subgroup<eddy::exception_group>()}) {
    REQUIRE(whole.has_value());
    CHECK(whole->exceptions() == eg.exceptions());
    CHECK(whole->message() == "simple eg");
  }
}

TEST_CASE("test_basics_subgroup_by_type__no_match: nothing of the type gives nullopt",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  CHECK_FALSE(eg.subgroup<std::out_of_range>().has_value());
  CHECK_FALSE(eg.subgroup<eddy::cancelled_error>().has_value());
}

TEST_CASE(
    "test_basics_subgroup_by_type__match: the members of the type, in order, with the message",
    "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  std::optional<eddy::exception_group> values = eg.subgroup<value_error>();
  REQUIRE(values.has_value());
  CHECK(values->message() == "simple eg");
  CHECK(values->exceptions() ==
        std::vector<std::exception_ptr>{eg.exceptions()[0], eg.exceptions()[2]});
  CHECK(shape(eg.subgroup<type_error>()) == "simple eg[type_error 2]");
}

TEST_CASE("test_basics_subgroup_by_predicate__passthrough / __no_match / __match",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  auto all = eg.subgroup([](const std::exception_ptr&) { return true; });
  REQUIRE(all.has_value());
  CHECK(all->exceptions() == eg.exceptions());
  CHECK_FALSE(eg.subgroup([](const std::exception_ptr&) { return false; }).has_value());
  auto types =
      eg.subgroup([](const std::exception_ptr& e) { return eddy_test::holds<type_error>(e); });
  CHECK(shape(types) == "simple eg[type_error 2]");
}

// --- split -----------------------------------------------------------------------------------

TEST_CASE("test_basics_split_by_type__no_match: match is nullopt, rest is the whole group",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  auto [match, rest] = eg.split<std::out_of_range>();
  CHECK_FALSE(match.has_value());
  REQUIRE(rest.has_value());
  CHECK(rest->exceptions() == eg.exceptions());
  CHECK(rest->message() == "simple eg");
}

TEST_CASE(
    "test_basics_split_by_type: the members of the type, and the others, both with the message",
    "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  auto [match, rest] = eg.split<value_error>();
  CHECK(shape(match) == "simple eg[value_error 1, value_error 3]");
  CHECK(shape(rest) == "simple eg[type_error 2]");
  // The members are the same exceptions, not copies.
  REQUIRE(rest.has_value());
  CHECK(rest->exceptions()[0] == eg.exceptions()[1]);
  // A base class matches its derived types.
  auto [runtime, none] = eg.split<std::runtime_error>();
  CHECK(shape(runtime) == "simple eg[value_error 1, type_error 2, value_error 3]");
  CHECK_FALSE(none.has_value());
}

TEST_CASE("test_basics_split_by_type__passthrough: a type the group itself has: all match, no rest",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  for (const auto& parts : {eg.split<std::exception>(), eg.split<eddy::exception_group>()}) {
    REQUIRE(parts.match.has_value());
    CHECK(parts.match->exceptions() == eg.exceptions());
    CHECK_FALSE(parts.rest.has_value());
  }
}

TEST_CASE(
    "test_basics_split_by_type__all_match: a group whose every member matches comes back whole",
    "[exception_group]") {
  eddy::exception_group eg("all values", {raised(value_error(1)), raised(value_error(2))});
  auto [match, rest] = eg.split<value_error>();
  REQUIRE(match.has_value());
  CHECK(match->exceptions() == eg.exceptions());
  CHECK(match->message() == "all values");
  CHECK_FALSE(rest.has_value());
  auto whole = eg.subgroup<value_error>();
  REQUIRE(whole.has_value());
  CHECK(whole->exceptions() == eg.exceptions());
}

TEST_CASE("test_basics_split_by_predicate__passthrough / __no_match / __match",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  auto everything = eg.split([](const std::exception_ptr&) { return true; });
  REQUIRE(everything.match.has_value());
  CHECK(everything.match->exceptions() == eg.exceptions());
  CHECK_FALSE(everything.rest.has_value());

  auto nothing = eg.split([](const std::exception_ptr&) { return false; });
  CHECK_FALSE(nothing.match.has_value());
  REQUIRE(nothing.rest.has_value());
  CHECK(nothing.rest->exceptions() == eg.exceptions());

  auto [match, rest] =
      eg.split([](const std::exception_ptr& e) { return eddy_test::holds<value_error>(e); });
  CHECK(shape(match) == "simple eg[value_error 1, value_error 3]");
  CHECK(shape(rest) == "simple eg[type_error 2]");
}

TEST_CASE("test_split_by_typed_predicate: members of the type for which the predicate holds",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  auto [odd, rest] = eg.split<std::runtime_error>([](const std::runtime_error& e) {
    return std::string(e.what()).ends_with("3") || std::string(e.what()).ends_with("2");
  });
  CHECK(shape(odd) == "simple eg[type_error 2, value_error 3]");
  CHECK(shape(rest) == "simple eg[value_error 1]");
  auto first = eg.subgroup<value_error>([](const value_error& e) { return e.code == 1; });
  CHECK(shape(first) == "simple eg[value_error 1]");
  // The group itself is offered too when it is of the type.
  int calls = 0;
  auto whole = eg.subgroup<eddy::exception_group>([&calls](const eddy::exception_group& group) {
    ++calls;
    return group.message() == "simple eg";
  });
  CHECK(calls == 1);
  CHECK(shape(whole) == shape(eg));
}

TEST_CASE("test_split_predicate_exception_propagates: what the predicate throws comes out of split",
          "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  CHECK_THROWS_AS(
      eg.split([](const std::exception_ptr&) -> bool { throw std::logic_error("bad predicate"); }),
      std::logic_error);
  CHECK_THROWS_AS(
      eg.subgroup<type_error>([](const type_error&) -> bool { throw std::logic_error("bad"); }),
      std::logic_error);
}

TEST_CASE("NestedExceptionGroupSplitTest.test_split_by_type: the nesting and the messages are kept",
          "[exception_group]") {
  std::exception_ptr only_values =
      group_ptr("only values", {raised(value_error(5)), raised(value_error(6))});
  std::exception_ptr only_types = group_ptr("only types", {raised(type_error(7))});
  eddy::exception_group eg(
      "outer", {raised(value_error(1)), raised(type_error(2)),
                group_ptr("nested", {raised(type_error(3)), raised(value_error(4)), only_values}),
                only_types});
  auto [values, types] = eg.split<value_error>();
  CHECK(shape(values) ==
        "outer[value_error 1, nested[value_error 4, only values[value_error 5, value_error 6]]]");
  CHECK(shape(types) == "outer[type_error 2, nested[type_error 3], only types[type_error 7]]");
  // A nested group that lands whole in one part is that same group, not a copy.
  REQUIRE(values.has_value());
  REQUIRE(types.has_value());
  std::exception_ptr nested_match = values->exceptions()[1];
  REQUIRE(eddy_test::holds<eddy::exception_group>(nested_match));
  try {
    std::rethrow_exception(nested_match);
  } catch (const eddy::exception_group& nested) {
    CHECK(nested.exceptions()[1] == only_values);
  }
  CHECK(types->exceptions()[2] == only_types);

  CHECK(shape(eg.subgroup<type_error>()) ==
        "outer[type_error 2, nested[type_error 3], only types[type_error 7]]");
  CHECK_FALSE(eg.subgroup<std::out_of_range>().has_value());
}

TEST_CASE(
    "NestedExceptionGroupSplitTest: a predicate sees the nested groups and may take them whole",
    "[exception_group]") {
  eddy::exception_group eg("outer",
                           {raised(value_error(1)),
                            group_ptr("nested", {raised(type_error(2)), raised(value_error(3))})});
  std::vector<std::string> offered;
  auto [nested, rest] = eg.split([&offered](const std::exception_ptr& member) {
    offered.push_back(shape(member));
    return eddy_test::holds<eddy::exception_group>(member);
  });
  CHECK(offered ==
        std::vector<std::string>{"value_error 1", "nested[type_error 2, value_error 3]"});
  CHECK(shape(nested) == "outer[nested[type_error 2, value_error 3]]");
  CHECK(shape(rest) == "outer[value_error 1]");
}

TEST_CASE(
    "exception_group: split by cancelled_error and keyboard_interrupt, which are not "
    "std::exceptions",
    "[exception_group]") {
  eddy::exception_group eg("mixed", {raised(eddy::cancelled_error("why")), raised(value_error(1)),
                                     raised(eddy::keyboard_interrupt()), raised(my_base_exc())});
  auto [cancellations, rest] = eg.split<eddy::cancelled_error>();
  CHECK(shape(cancellations) == "mixed[cancelled]");
  CHECK(shape(rest) == "mixed[value_error 1, keyboard_interrupt, other]");
  // std::exception takes only the std::exceptions; the group itself is one, so split the rest.
  REQUIRE(rest.has_value());
  CHECK(shape(eg.subgroup([](const std::exception_ptr& e) {
          return eddy_test::holds<std::exception>(e);
        })) == "mixed[value_error 1]");
  CHECK(shape(eg.subgroup<eddy::keyboard_interrupt>()) == "mixed[keyboard_interrupt]");
  CHECK(shape(eg.subgroup<my_base_exc>()) == "mixed[other]");
}

// --- handle_exceptions (except*) ---------------------------------------------------------------

TEST_CASE("test_except_star_handles_matching_members_and_reraises_the_rest", "[exception_group]") {
  eddy::exception_group eg("outer",
                           {raised(value_error(1)), raised(type_error(2)),
                            group_ptr("nested", {raised(value_error(3)), raised(type_error(4))})});
  std::vector<int> handled;
  std::optional<eddy::exception_group> rest;
  try {
    eddy::handle_exceptions(eg, [&handled](const value_error& e) { handled.push_back(e.code); });
  } catch (const eddy::exception_group& left) {
    rest = left;
  }
  CHECK(handled == std::vector<int>{1, 3});
  CHECK(shape(rest) == "outer[type_error 2, nested[type_error 4]]");
}

TEST_CASE("test_except_star_all_handled: nothing is rethrown", "[exception_group]") {
  std::vector<std::string> seen;
  CHECK_NOTHROW(eddy::handle_exceptions(
      simple_eg(), [&seen](const value_error& e) { seen.push_back(e.what()); },
      [&seen](const type_error& e) { seen.push_back(e.what()); }));
  CHECK(seen == std::vector<std::string>{"value_error 1", "value_error 3", "type_error 2"});
}

TEST_CASE("test_except_star_clauses_in_order: each member goes to the first handler that takes it",
          "[exception_group]") {
  int values = 0;
  int others = 0;
  eddy::handle_exceptions(
      simple_eg(), [&values](const value_error&) { ++values; },
      [&others](const std::exception&) { ++others; });
  CHECK(values == 2);
  CHECK(others == 1);
}

TEST_CASE("test_except_star_no_match: the original group is rethrown", "[exception_group]") {
  eddy::exception_group eg = simple_eg();
  std::optional<eddy::exception_group> rest;
  try {
    eddy::handle_exceptions(eg, [](const std::out_of_range&) {});
  } catch (const eddy::exception_group& left) {
    rest = left;
  }
  REQUIRE(rest.has_value());
  CHECK(rest->exceptions() == eg.exceptions());
}

TEST_CASE(
    "test_except_star_raise_in_handler: a new exception replaces the member; the rest comes too",
    "[exception_group]") {
  // Everything handled, one handler raises: that exception alone comes out.
  CHECK_THROWS_WITH(eddy::handle_exceptions(
                        simple_eg(),
                        [](const value_error& e) {
                          if (e.code == 3) {
                            throw std::logic_error("raised in handler");
                          }
                        },
                        [](const type_error&) {}),
                    "raised in handler");
  // Raised plus unhandled: exception_group("", [raised..., rest]).
  std::optional<eddy::exception_group> outcome;
  try {
    eddy::handle_exceptions(simple_eg(),
                            [](const type_error&) { throw std::logic_error("raised in handler"); });
  } catch (const eddy::exception_group& group) {
    outcome = group;
  }
  CHECK(shape(outcome) == "[raised in handler, simple eg[value_error 1, value_error 3]]");
}

TEST_CASE("test_except_star_bare_reraise: throw; in a handler leaves the member unhandled",
          "[exception_group]") {
  std::optional<eddy::exception_group> rest;
  try {
    eddy::handle_exceptions(simple_eg(), [](const value_error& e) {
      if (e.code == 1) {
        throw;
      }
    });
  } catch (const eddy::exception_group& left) {
    rest = left;
  }
  CHECK(shape(rest) == "simple eg[value_error 1, type_error 2]");
}

TEST_CASE(
    "test_except_star_naked_exception: a non-group is handled as a group of one, rethrown naked",
    "[exception_group]") {
  bool handled = false;
  CHECK_NOTHROW(eddy::handle_exceptions(raised(value_error(1)),
                                        [&handled](const value_error&) { handled = true; }));
  CHECK(handled);
  CHECK_THROWS_AS(eddy::handle_exceptions(raised(value_error(2)), [](const type_error&) {}),
                  value_error);
  CHECK_THROWS_AS(
      eddy::handle_exceptions(raised(eddy::cancelled_error()), [](const std::exception&) {}),
      eddy::cancelled_error);
  CHECK_THROWS_AS(eddy::handle_exceptions(std::exception_ptr(), [](const std::exception&) {}),
                  std::invalid_argument);
  // A group behind the pointer is a group.
  int values = 0;
  CHECK_THROWS_AS(eddy::handle_exceptions(std::make_exception_ptr(simple_eg()),
                                          [&values](const value_error&) { ++values; }),
                  eddy::exception_group);
  CHECK(values == 2);
}

void count_type_error(const type_error&);
int type_errors_counted = 0;
void count_type_error(const type_error&) { ++type_errors_counted; }

TEST_CASE("test_except_star_function_handler: a plain function works as a handler",
          "[exception_group]") {
  type_errors_counted = 0;
  eddy::handle_exceptions(simple_eg(), count_type_error, [](const value_error&) noexcept {});
  CHECK(type_errors_counted == 1);
}

TEST_CASE("test_except_star_task_group: the failures of a task_group, handled by type",
          "[exception_group]") {
  eddy::run([]() -> eddy::coro<void> {
    auto fail = [](int code) -> eddy::coro<void> {
      co_await eddy::sleep(1ms);
      if (code % 2 == 0) {
        throw type_error(code);
      }
      throw value_error(code);
    };
    std::vector<int> values;
    std::optional<eddy::exception_group> rest;
    try {
      try {
        co_await eddy::with_task_group([&fail](eddy::task_group& group) -> eddy::coro<void> {
          group.create_task(fail(1));
          group.create_task(fail(2));
          co_return;
        });
      } catch (const eddy::exception_group& errors) {
        eddy::handle_exceptions(errors,
                                [&values](const value_error& e) { values.push_back(e.code); });
      }
    } catch (const eddy::exception_group& left) {
      rest = left;
    }
    CHECK(values == std::vector<int>{1});
    CHECK(shape(rest) == "unhandled errors in a task_group[type_error 2]");
  }());
}

// --- fatal exceptions ------------------------------------------------------------------------

TEST_CASE("is_fatal_exception: keyboard_interrupt is, cancellations and failures are not",
          "[exception_group]") {
  CHECK(eddy::is_fatal_exception(raised(eddy::keyboard_interrupt())));
  CHECK_FALSE(eddy::is_fatal_exception(raised(eddy::cancelled_error())));
  CHECK_FALSE(eddy::is_fatal_exception(raised(value_error(1))));
  CHECK_FALSE(eddy::is_fatal_exception(raised(my_base_exc())));
  CHECK_FALSE(eddy::is_fatal_exception(std::make_exception_ptr(simple_eg())));
  CHECK_FALSE(eddy::is_fatal_exception(nullptr));
}
