// Async call graphs (asyncio 3.14's capture_call_graph, format_call_graph, print_call_graph)
// and the loop's task tree (the `python -m asyncio pstree` view): what each task is doing.
//
// Every co_await in an eddy coroutine records where it suspends (a pointer store), and a coro
// awaited in place is linked below its caller while it runs; a task or future knows who waits
// for it through its done links (`co_await task`, gather, wait, task_group, shield). These
// functions read that: nothing is recorded for them, so they cost nothing until called.
// docs/introspection.md shows real output.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "eddy/future.hpp"
#include "eddy/task.hpp"

namespace eddy {

class event_loop;

/// One frame of a call stack (asyncio.FrameCallGraphEntry).
struct frame_call_graph_entry {
  /// The function, qualified, without return type or parameters: "fetch", "server::handle",
  /// "main()::<lambda()>".
  std::string function;
  /// The source file as the compiler spelled it, and the line: of the co_await the frame is
  /// suspended in; for the frame that called capture_call_graph, of that call.
  std::string file;
  std::uint32_t line = 0;
  /// True for a coroutine frame, false for the plain function capture_call_graph was called
  /// from inside a coroutine (Python's "async" tag).
  bool coroutine = true;
};

/// A task's or future's call graph (asyncio.FutureCallGraph).
struct future_call_graph {
  /// The task; empty when this node is a plain future (a future, gather's gathering future, a
  /// shield).
  any_task task;
  /// The task's name, or "Future".
  std::string name;
  /// The address of its shared state: what Python prints as id().
  std::uintptr_t id = 0;
  /// The task's frames, innermost first (as Python's): the frame running or suspended, then
  /// the coroutine that awaits it, down to the task's own coroutine. Empty for a future, and
  /// for a task that is done or has not started.
  std::vector<frame_call_graph_entry> call_stack;
  /// The tasks and futures waiting for this one, each with its own graph.
  std::vector<future_call_graph> awaited_by;
};

/// The call graph of the running task (asyncio.capture_call_graph()), or nullopt outside any
/// task. Its first frame is the caller's, at the line of this call. Loop thread; throws
/// std::bad_alloc.
[[nodiscard]] std::optional<future_call_graph> capture_call_graph(
    std::source_location here = std::source_location::current());

/// The call graph of `task` (asyncio.capture_call_graph(task)): where it is suspended, and who
/// awaits it. Called from inside `task` itself, the first frame is at the line of this call.
/// Throws invalid_state_error for an empty handle, std::bad_alloc.
[[nodiscard]] future_call_graph capture_call_graph(
    const any_task& task, std::source_location here = std::source_location::current());

/// The call graph of a future: no frames of its own, and who awaits it.
template <class T>
[[nodiscard]] future_call_graph capture_call_graph(const future<T>& awaited);

/// The graph as Python's format_call_graph writes it:
///
///     * Task(name='Task-2', id=0x5581e4f0a2c0)
///       + Call stack:
///       |   File 'main.cpp', line 12, in async fetch()
///       + Awaited by:
///           * Task(name='Task-1', id=0x5581e4f09e40)
///             + Call stack:
///             |   File 'main.cpp', line 20, in async main()
///
/// One line per entry, each ending in a newline. Throws std::bad_alloc.
[[nodiscard]] std::string format_call_graph(const future_call_graph& graph);

/// Prints the running task's call graph to `out` (asyncio.print_call_graph()); prints nothing
/// outside any task. Throws std::bad_alloc.
void print_call_graph(std::FILE* out = stdout,
                      std::source_location here = std::source_location::current());

/// Prints `task`'s call graph to `out`. Throws like capture_call_graph(task).
void print_call_graph(const any_task& task, std::FILE* out = stdout,
                      std::source_location here = std::source_location::current());

/// Every pending task of `loop` as a tree (the `python -m asyncio pstree` view): each task
/// that nothing awaits at the top; under a task its frames, outermost first, each line with
/// the co_await it is suspended in; under its innermost frame what it awaits and the tasks it
/// awaits, indented the same way:
///
///     └── (T) Task-1
///         └──  main() main.cpp:30
///             └──  eddy::task_group::exit() src/task_group.cpp:130
///                 ├── (T) fetch-a  [waiting: sleep]
///                 │   └──  fetch() main.cpp:12
///                 └── (T) fetch-b  [waiting: task 'Task-4']
///                     └──  fetch() main.cpp:14
///
/// A task awaited by several others appears under each. Loop thread; throws std::bad_alloc.
[[nodiscard]] std::string format_task_tree(event_loop& loop);

/// Prints format_task_tree of the running loop to `out` (eddy's dump_tasks). Throws
/// std::runtime_error when no loop runs on this thread, std::bad_alloc.
void dump_tasks(std::FILE* out = stdout);

/// Prints format_task_tree(loop) to `out`. Loop thread; throws std::bad_alloc.
void dump_tasks(event_loop& loop, std::FILE* out);

namespace detail {

[[nodiscard]] future_call_graph capture_future_call_graph(future_base& state);

/// `function_name()` of a std::source_location taken inside a coroutine, as a call graph
/// names the function: "ns::widget::run", "main()::<lambda(int)>". GCC names a coroutine body
/// by its actor ("void f(f()::_Z1fv.Frame*)"), clang by the declaration ("coro<int> f()");
/// both come out as "f".
[[nodiscard]] std::string coroutine_name(const char* function_name);

}  // namespace detail

template <class T>
future_call_graph capture_call_graph(const future<T>& awaited) {
  return detail::capture_future_call_graph(*detail::require_state(awaited.state()));
}

}  // namespace eddy
