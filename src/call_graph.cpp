// Call graphs and the task tree (eddy/call_graph.hpp): reads the frame records coroutines keep
// (detail/frame_record.hpp) and the done links of what waits (detail/future_base.hpp).
#include "eddy/call_graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <string_view>
#include <utility>

#include "eddy/detail/task_base.hpp"
#include "eddy/loop.hpp"

namespace eddy {

namespace detail {

namespace {

/// Deeper than any real await chain; stops a walk that something has made circular.
constexpr std::size_t max_depth = 256;

/// Position of the bracket that opens the one at `close` (a ')' or ']'), scanning back; npos
/// when unbalanced.
std::size_t matching_open(std::string_view text, std::size_t close) {
  const char closer = text[close];
  const char opener = closer == ')' ? '(' : '[';
  int depth = 0;
  for (std::size_t at = close + 1; at-- > 0;) {
    if (text[at] == closer) {
      ++depth;
    } else if (text[at] == opener && --depth == 0) {
      return at;
    }
  }
  return std::string_view::npos;
}

/// The last space outside every bracket: where a return type ends.
std::size_t last_top_level_space(std::string_view text) {
  int depth = 0;
  std::size_t found = std::string_view::npos;
  for (std::size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (c == '(' || c == '<' || c == '[') {
      ++depth;
    } else if ((c == ')' || c == '>' || c == ']') && depth > 0) {
      --depth;
    } else if (c == ' ' && depth == 0) {
      found = at;
    }
  }
  return found;
}

bool ends_with(std::string_view text, std::string_view tail) {
  return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}

}  // namespace

std::string coroutine_name(const char* function_name) {
  std::string_view text = function_name != nullptr ? function_name : "";
  // Template arguments spelled after the signature: " [with T = int]" (GCC), " [T = int]".
  if (ends_with(text, "]")) {
    const std::size_t open = matching_open(text, text.size() - 1);
    if (open != std::string_view::npos && open > 0 && text[open - 1] == ' ') {
      text = text.substr(0, open - 1);
    }
  }
  // The parameter list is the last bracket pair; qualifiers after it (const, &&) go with it.
  const std::size_t close = text.rfind(')');
  if (close != std::string_view::npos) {
    const std::size_t open = matching_open(text, close);
    if (open != std::string_view::npos) {
      text = text.substr(0, open);
    }
  }
  const std::size_t space = last_top_level_space(text);
  if (space != std::string_view::npos) {
    text = text.substr(space + 1);
  }
  std::string name(text);
  // Python names a function by its qualified name within its module: an anonymous
  // namespace (GCC "{anonymous}::", clang "(anonymous namespace)::") says nothing more.
  for (std::string_view anonymous : {"{anonymous}::", "(anonymous namespace)::"}) {
    for (std::size_t at = name.find(anonymous); at != std::string::npos;
         at = name.find(anonymous, at)) {
      name.erase(at, anonymous.size());
    }
  }
  // A lambda's call operator is named after the lambda: GCC "f()::<lambda(int)>::operator()",
  // clang "f()::(anonymous class)::operator()".
  constexpr std::string_view call_operator = "::operator()";
  constexpr std::string_view clang_lambda = "::(anonymous class)";
  if (ends_with(name, call_operator)) {
    std::string_view owner(name.data(), name.size() - call_operator.size());
    if (ends_with(owner, clang_lambda)) {
      name = std::string(owner.substr(0, owner.size() - clang_lambda.size())) + "::<lambda>";
    } else if (ends_with(owner, ">") && owner.find("<lambda") != std::string_view::npos) {
      name.resize(owner.size());
    }
  }
  return name;
}

void report_never_awaited(const frame_record& frame) noexcept {
  loop_core* loop = running_loop_on_thread;
  if (loop == nullptr || !loop->debug_enabled()) [[likely]] {
    return;
  }
  if (std::uncaught_exceptions() > 0) {
    // Dropped while an exception unwinds: most often by an eddy call that refused the coro by
    // throwing (create_task on a closed task group, run inside a running loop), where the
    // exception already says what went wrong.
    return;
  }
  try {
    // The frame's `where` is still what initial_suspend recorded: the coroutine itself.
    const std::source_location& where = frame.where;
    exception_context context{
        fmt::format("coroutine '{}' was never awaited (its body is at {}:{})",
                    coroutine_name(where.function_name()), where.file_name(), where.line()),
        nullptr, running_task_on_thread != nullptr ? running_task_on_thread->get_name() : ""};
    loop->call_exception_handler(context);
  } catch (...) {
    // Reporting is best effort: only the message can fail to allocate.
  }
}

namespace {

frame_call_graph_entry entry_at(const std::source_location& where, bool coroutine) {
  return {coroutine_name(where.function_name()),
          where.file_name() != nullptr ? where.file_name() : "", where.line(), coroutine};
}

/// The task's frames, innermost first. `here`: where capture_call_graph was called, when the
/// task is the one running.
std::vector<frame_call_graph_entry> frames_of(const task_base& task,
                                              const std::source_location* here) {
  std::vector<frame_call_graph_entry> frames;
  std::size_t depth = 0;
  for (const frame_record* frame = task.body_frame(); frame != nullptr && depth < max_depth;
       frame = frame->awaiting, ++depth) {
    frames.push_back(entry_at(frame->where, true));
  }
  std::reverse(frames.begin(), frames.end());
  if (here != nullptr && running_task_on_thread == &task) {
    frame_call_graph_entry caller = entry_at(*here, true);
    if (!frames.empty() && frames.front().function == caller.function) {
      frames.front() = std::move(caller);  // the running frame: the line of the call
    } else {
      caller.coroutine = false;  // a plain function the running coroutine called
      frames.insert(frames.begin(), std::move(caller));
    }
  }
  return frames;
}

/// Who waits through `link`, if anyone does.
future_base* awaiter_through(const done_link& link) noexcept {
  switch (link.kind) {
    case link_kind::waiting_task:
      return static_cast<const task_link&>(link).waiter;
    case link_kind::gather_child:
      return static_cast<const gather_link_base&>(link).owner;
    case link_kind::owning_future:
      return static_cast<const future_link&>(link).owner;
    case link_kind::none:
      break;
  }
  return nullptr;
}

/// The distinct tasks and futures waiting for `state`, oldest link first.
std::vector<future_base*> awaiters_of(const future_base& state) {
  std::vector<future_base*> awaiters;
  state.visit_done_links([&](const done_link& link) {
    future_base* awaiter = awaiter_through(link);
    if (awaiter != nullptr &&
        std::find(awaiters.begin(), awaiters.end(), awaiter) == awaiters.end()) {
      awaiters.push_back(awaiter);
    }
  });
  std::reverse(awaiters.begin(), awaiters.end());
  return awaiters;
}

future_call_graph graph_of(future_base& state, const std::source_location* here,
                           std::size_t depth) {
  future_call_graph graph;
  graph.id = reinterpret_cast<std::uintptr_t>(&state);
  if (state.is_task()) {
    auto& task = static_cast<task_base&>(state);
    graph.task = any_task(&task);
    graph.name = task.get_name();
    graph.call_stack = frames_of(task, here);
  } else {
    graph.name = "Future";
  }
  if (depth < max_depth) {
    for (future_base* awaiter : awaiters_of(state)) {
      graph.awaited_by.push_back(graph_of(*awaiter, nullptr, depth + 1));
    }
  }
  return graph;
}

void format_level(const future_call_graph& graph, std::size_t level, std::string& out) {
  const std::string indent(level * 4, ' ');
  if (graph.task) {
    out += fmt::format("{}* Task(name='{}', id={:#x})\n", indent, graph.name, graph.id);
  } else {
    out += fmt::format("{}* Future(id={:#x})\n", indent, graph.id);
  }
  if (!graph.call_stack.empty()) {
    out += indent + "  + Call stack:\n";
    for (const frame_call_graph_entry& frame : graph.call_stack) {
      out += fmt::format("{}  |   File '{}', line {}, in {}{}()\n", indent, frame.file, frame.line,
                         frame.coroutine ? "async " : "", frame.function);
    }
  }
  if (!graph.awaited_by.empty()) {
    out += indent + "  + Awaited by:\n";
    for (const future_call_graph& awaiter : graph.awaited_by) {
      format_level(awaiter, level + 1, out);
    }
  }
}

void write(std::FILE* out, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

/// The tasks a task waits for (directly, or through gathering futures and shields), for the
/// task tree: the edges of the awaited-by graph, turned around.
class task_tree {
 public:
  explicit task_tree(const std::vector<any_task>& tasks) {
    for (const any_task& task : tasks) {
      for (task_base* waiter : waiting_tasks(*task.state(), 0)) {
        children_[waiter].push_back(task.state());
        awaited_.push_back(task.state());
      }
    }
  }

  std::string render(const std::vector<any_task>& tasks) const {
    std::string out;
    std::vector<const task_base*> roots;
    for (const any_task& task : tasks) {
      if (std::find(awaited_.begin(), awaited_.end(), task.state()) == awaited_.end()) {
        roots.push_back(task.state());
      }
    }
    // A cycle of awaits leaves no root: show every task then rather than none.
    if (roots.empty()) {
      for (const any_task& task : tasks) {
        roots.push_back(task.state());
      }
    }
    std::vector<const task_base*> path;
    for (std::size_t index = 0; index < roots.size(); ++index) {
      render_task(*roots[index], "", index + 1 == roots.size(), path, out);
    }
    return out;
  }

 private:
  static std::vector<task_base*> waiting_tasks(const future_base& state, std::size_t depth) {
    std::vector<task_base*> waiters;
    if (depth >= max_depth) {
      return waiters;
    }
    for (future_base* awaiter : awaiters_of(state)) {
      if (awaiter->is_task()) {
        waiters.push_back(static_cast<task_base*>(awaiter));
      } else {
        for (task_base* waiter : waiting_tasks(*awaiter, depth + 1)) {
          waiters.push_back(waiter);
        }
      }
    }
    return waiters;
  }

  void render_task(const task_base& task, const std::string& prefix, bool last,
                   std::vector<const task_base*>& path, std::string& out) const {
    std::string state;
    if (running_task_on_thread == &task) {
      state = "running";
    } else if (const wait_base* wait = task.waiting_in()) {
      state = wait->describe_wait();
      state = state.empty() ? "waiting" : "waiting: " + state;
    } else {
      state = "ready";
    }
    out +=
        fmt::format("{}{}(T) {}  [{}]\n", prefix, last ? "└── " : "├── ", task.get_name(), state);
    std::string inner = prefix + (last ? "    " : "│   ");
    if (std::find(path.begin(), path.end(), &task) != path.end()) {
      out += inner + "└── (awaits itself through the tasks above)\n";
      return;
    }
    path.push_back(&task);
    std::vector<frame_call_graph_entry> frames = frames_of(task, nullptr);
    std::reverse(frames.begin(), frames.end());  // outermost first
    auto found = children_.find(&task);
    const std::vector<const task_base*>* awaited =
        found != children_.end() ? &found->second : nullptr;
    for (std::size_t index = 0; index < frames.size(); ++index) {
      const bool innermost = index + 1 == frames.size();
      const frame_call_graph_entry& frame = frames[index];
      out += fmt::format("{}└──  {}() {}:{}\n", inner, frame.function, frame.file, frame.line);
      inner += "    ";
      if (innermost && awaited != nullptr) {
        render_awaited(*awaited, inner, path, out);
        awaited = nullptr;
      }
    }
    if (awaited != nullptr) {
      render_awaited(*awaited, inner, path, out);
    }
    path.pop_back();
  }

  void render_awaited(const std::vector<const task_base*>& awaited, const std::string& prefix,
                      std::vector<const task_base*>& path, std::string& out) const {
    for (std::size_t index = 0; index < awaited.size(); ++index) {
      render_task(*awaited[index], prefix, index + 1 == awaited.size(), path, out);
    }
  }

  std::map<const task_base*, std::vector<const task_base*>> children_;
  std::vector<const task_base*> awaited_;
};

}  // namespace

future_call_graph capture_future_call_graph(future_base& state) {
  return graph_of(state, nullptr, 0);
}

}  // namespace detail

std::optional<future_call_graph> capture_call_graph(std::source_location here) {
  detail::task_base* running = detail::running_task_on_thread;
  if (running == nullptr) {
    return std::nullopt;
  }
  return detail::graph_of(*running, &here, 0);
}

future_call_graph capture_call_graph(const any_task& task, std::source_location here) {
  return detail::graph_of(*detail::require_state(task.state()), &here, 0);
}

std::string format_call_graph(const future_call_graph& graph) {
  std::string out;
  detail::format_level(graph, 0, out);
  return out;
}

void print_call_graph(std::FILE* out, std::source_location here) {
  if (std::optional<future_call_graph> graph = capture_call_graph(here)) {
    detail::write(out, format_call_graph(*graph));
  }
}

void print_call_graph(const any_task& task, std::FILE* out, std::source_location here) {
  detail::write(out, format_call_graph(capture_call_graph(task, here)));
}

std::string format_task_tree(event_loop& loop) {
  const std::vector<any_task> tasks = loop.pending_tasks();
  return detail::task_tree(tasks).render(tasks);
}

void dump_tasks(std::FILE* out) { dump_tasks(get_running_loop(), out); }

void dump_tasks(event_loop& loop, std::FILE* out) { detail::write(out, format_task_tree(loop)); }

}  // namespace eddy
