// Call graphs and the task tree (asyncio 3.14's capture_call_graph / print_call_graph and
// `python -m asyncio pstree`): where each task is suspended, and who awaits it.

#include "eddy/call_graph.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "eddy/gather.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/task_group.hpp"
#include "eddy/time.hpp"

namespace {

using namespace std::chrono_literals;

eddy::coro<void> leaf() { co_await eddy::sleep(1h); }

eddy::coro<void> middle() { co_await leaf(); }

eddy::coro<std::string> graph_from_inside() {
  co_return eddy::format_call_graph(*eddy::capture_call_graph());
}

eddy::coro<std::string> nested_graph() { co_return co_await graph_from_inside(); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("coroutine_name reads what GCC and clang call a coroutine") {
  using eddy::detail::coroutine_name;
  CHECK(coroutine_name("void fetch(fetch(int)::_Z5fetchi.Frame*)") == "fetch");
  CHECK(coroutine_name("co fetch(int)") == "fetch");
  CHECK(coroutine_name("co ns::tmpl(T) [with T = double]") == "ns::tmpl");
  CHECK(coroutine_name("co ns::tmpl(T) [T = double]") == "ns::tmpl");
  CHECK(coroutine_name("co ns::widget::run(std::string) const") == "ns::widget::run");
  CHECK(coroutine_name("co ns::widget::operator()()") == "ns::widget::operator()");
  CHECK(coroutine_name("void main()::<lambda(int)>::operator()(main()::<lambda(int)>::_ZZ4mainENK"
                       "UliE_clEi.Frame*)") == "main()::<lambda(int)>");
  CHECK(coroutine_name("auto main()::(anonymous class)::operator()(int) const") ==
        "main()::<lambda>");
  CHECK(coroutine_name(nullptr).empty());
}

TEST_CASE("capture_call_graph outside a task is nullopt") {
  CHECK_FALSE(eddy::capture_call_graph().has_value());
}

TEST_CASE("capture_call_graph in the running task starts at the line of the call") {
  const std::string graph = eddy::run(nested_graph());
  INFO(graph);
  CHECK(contains(graph, "* Task(name='Task-"));
  CHECK(contains(graph, "+ Call stack:"));
  CHECK(contains(graph, "in async graph_from_inside()"));
  CHECK(contains(graph, "in async nested_graph()"));
  // Innermost first, as Python prints it.
  CHECK(graph.find("graph_from_inside") < graph.find("nested_graph"));
  CHECK(contains(graph, "call_graph_test.cpp', line 28,"));
}

TEST_CASE("a suspended task's graph names each awaiting frame and who awaits the task") {
  eddy::run([]() -> eddy::coro<void> {
    auto child = eddy::create_task(middle(), {.name = "child"});
    auto parent = eddy::create_task(
        [](eddy::task<void> awaited) -> eddy::coro<void> { co_await awaited; }, child);
    parent.set_name("parent");
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    eddy::future_call_graph graph = eddy::capture_call_graph(child);
    CHECK(graph.name == "child");
    REQUIRE(graph.call_stack.size() == 2);
    CHECK(graph.call_stack[0].function == "leaf");
    CHECK(graph.call_stack[0].line == 23);
    CHECK(graph.call_stack[1].function == "middle");
    CHECK(graph.call_stack[1].line == 25);
    REQUIRE(graph.awaited_by.size() == 1);
    CHECK(graph.awaited_by[0].name == "parent");
    CHECK(graph.awaited_by[0].task == eddy::any_task(parent));

    const std::string tree = eddy::format_task_tree(eddy::get_running_loop());
    INFO(tree);
    CHECK(contains(tree, "(T) parent  [waiting: task 'child']"));
    CHECK(contains(tree, "(T) child  [waiting: sleep]"));
    CHECK(tree.find("parent") < tree.find("child"));
    CHECK(contains(tree, "leaf() "));
    parent.cancel();
    co_await eddy::sleep(0s);
  }());
}

TEST_CASE("gather's children are awaited by the gathering future, and it by its task") {
  eddy::run([]() -> eddy::coro<void> {
    auto first = eddy::create_task(leaf(), {.name = "first"});
    auto waiter = eddy::create_task(
        [](eddy::task<void> child) -> eddy::coro<void> { co_await eddy::gather(child); }, first);
    waiter.set_name("gatherer");
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    eddy::future_call_graph graph = eddy::capture_call_graph(first);
    REQUIRE(graph.awaited_by.size() == 1);
    CHECK(graph.awaited_by[0].name == "Future");
    REQUIRE(graph.awaited_by[0].awaited_by.size() == 1);
    CHECK(graph.awaited_by[0].awaited_by[0].name == "gatherer");
    const std::string text = eddy::format_call_graph(graph);
    INFO(text);
    CHECK(contains(text, "  + Awaited by:\n    * Future(id=0x"));
    CHECK(contains(text, "        * Task(name='gatherer'"));
    waiter.cancel();
    co_await eddy::sleep(0s);
  }());
}

TEST_CASE("a task group's children are awaited by the group's task") {
  eddy::run([]() -> eddy::coro<void> {
    co_await eddy::with_task_group([](eddy::task_group& group) -> eddy::coro<void> {
      auto child = group.create_task(leaf(), {.name = "member"});
      co_await eddy::sleep(0s);
      eddy::future_call_graph graph = eddy::capture_call_graph(child);
      REQUIRE(graph.awaited_by.size() == 1);
      CHECK(graph.awaited_by[0].task == eddy::current_task());
      child.cancel();
    });
  }());
}

TEST_CASE("a finished task keeps the name of its coroutine") {
  eddy::run([]() -> eddy::coro<void> {
    auto finished = eddy::create_task(middle());
    co_await eddy::sleep(0s);
    finished.cancel();
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    REQUIRE(finished.done());
    CHECK(eddy::capture_call_graph(finished).call_stack.empty());
    CHECK(eddy::detail::coroutine_name(finished.state()->coro_where().function_name()) == "middle");
  }());
}
