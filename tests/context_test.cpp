#include "eddy/context.hpp"
// Context variables (contextvars): each task runs in a copy of its creator's context (or the
// one create_task was given), callbacks in the context they were scheduled from, to_thread's
// function in a copy of the awaiting task's. Named after CPython's test_context.py and the
// context tests of test_asyncio/test_tasks.py.

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eddy/errors.hpp"
#include "eddy/future.hpp"
#include "eddy/gather.hpp"
#include "eddy/loop.hpp"
#include "eddy/run.hpp"
#include "eddy/task.hpp"
#include "eddy/task_group.hpp"
#include "eddy/thread.hpp"
#include "eddy/time.hpp"

namespace {

using namespace std::chrono_literals;

eddy::context_var<std::string> cvar("cvar");
eddy::context_var<int> depth("depth", 0);

eddy::coro<std::string> read_cvar_later() {
  co_await eddy::sleep(0s);
  co_return cvar.get("unset");
}

eddy::coro<void> set_cvar_after_a_step(std::string value) {
  co_await eddy::sleep(0s);
  cvar.set(std::move(value));
}

eddy::coro<std::string> set_and_read_across_sleeps(int index) {
  std::string mine = "task " + std::to_string(index);
  cvar.set(mine);
  for (int step = 0; step < 5; ++step) {
    co_await eddy::sleep(std::chrono::milliseconds((index * 7 + step * 3) % 4));
    if (cvar.get() != mine) {
      co_return "saw " + cvar.get();
    }
  }
  co_return cvar.get();
}

}  // namespace

// --- ContextVar ---------------------------------------------------------------------------

TEST_CASE("context_var.get: the value, else the default, else lookup_error", "[context]") {
  eddy::context().run([] {
    CHECK(depth.get() == 0);
    CHECK(depth.get(5) == 5);  // get(default) ignores the variable's own default
    CHECK_THROWS_AS(cvar.get(), eddy::lookup_error);
    CHECK_THROWS_AS(cvar.get(), std::out_of_range);
    CHECK(cvar.get("fallback") == "fallback");
    cvar.set("a");
    CHECK(cvar.get() == "a");
    CHECK(cvar.get("fallback") == "a");
    CHECK(cvar.name() == "cvar");
    CHECK(depth.default_value() == 0);
    CHECK_FALSE(cvar.default_value().has_value());
  });
}

TEST_CASE("test_context_var_reset: reset restores the old value, or none", "[context]") {
  eddy::context().run([] {
    auto first = cvar.set("one");
    CHECK_FALSE(first.old_value().has_value());  // Token.MISSING
    auto second = cvar.set("two");
    CHECK(second.old_value() == "one");
    CHECK(cvar.get() == "two");
    cvar.reset(second);
    CHECK(second.used());
    CHECK(cvar.get() == "one");
    cvar.reset(first);
    CHECK_FALSE(eddy::copy_context().contains(cvar));
    CHECK(cvar.get("none") == "none");
  });
}

TEST_CASE("test_context_var_reset: a token is used once, by its own variable, in its own context",
          "[context]") {
  eddy::context().run([] {
    auto token = cvar.set("x");
    eddy::context_var<std::string> other("other");
    CHECK_THROWS_AS(other.reset(token), std::invalid_argument);
    CHECK_FALSE(token.used());

    eddy::context elsewhere;
    CHECK_THROWS_AS(elsewhere.run([&] { cvar.reset(token); }), std::invalid_argument);
    CHECK(cvar.get() == "x");  // nothing changed

    cvar.reset(token);
    CHECK_THROWS_AS(cvar.reset(token), eddy::invalid_state_error);
    CHECK(cvar.get("gone") == "gone");
  });
}

TEST_CASE("a variable made where a destroyed one lived has none of its values", "[context]") {
  eddy::context().run([] {
    auto var = std::make_unique<eddy::context_var<int>>("first");
    var->set(1);
    var.reset();
    var = std::make_unique<eddy::context_var<int>>("second");  // very likely the same address
    CHECK(var->get(-1) == -1);
  });
}

TEST_CASE("values are destroyed when the last context holding them is", "[context]") {
  auto value = std::make_shared<int>(42);
  std::weak_ptr<int> watch = value;
  eddy::context_var<std::shared_ptr<int>> holder("holder");
  {
    eddy::context ctx;
    ctx.run([&] { holder.set(std::move(value)); });
    eddy::context copy = ctx.copy();
    CHECK(*copy.get(holder).value() == 42);
    ctx = eddy::context();
    CHECK_FALSE(watch.expired());  // the copy still holds it
  }
  CHECK(watch.expired());
}

// --- Context ------------------------------------------------------------------------------

TEST_CASE("test_context_run: variables set inside a run stay in that context", "[context]") {
  eddy::context ctx;
  int result = ctx.run(
      [](int a, int b) {
        cvar.set("inside");
        return a + b;
      },
      2, 3);
  CHECK(result == 5);
  CHECK(ctx.get(cvar) == "inside");
  CHECK(ctx.contains(cvar));
  CHECK(ctx.size() == 1);
  CHECK(cvar.get("outside") == "outside");         // the thread's own context is untouched
  ctx.run([] { CHECK(cvar.get() == "inside"); });  // a later run sees it
}

TEST_CASE("test_context_copy: a copy has the values, and changes apart", "[context]") {
  eddy::context ctx;
  ctx.run([] { cvar.set("original"); });
  eddy::context copy = ctx.copy();
  CHECK(copy.get(cvar) == "original");
  CHECK_FALSE(copy == ctx);
  eddy::context same = ctx;
  CHECK(same == ctx);
  copy.run([] { cvar.set("changed"); });
  CHECK(ctx.get(cvar) == "original");
  CHECK(copy.get(cvar) == "changed");
  ctx.run([] { CHECK(eddy::copy_context().get(cvar) == "original"); });
}

TEST_CASE("test_context_run_5: a context cannot be entered twice", "[context]") {
  eddy::context ctx;
  ctx.run([&] {
    CHECK_THROWS_AS(ctx.run([] {}), eddy::invalid_state_error);
    eddy::context inner;
    inner.run([&] { CHECK_THROWS_AS(ctx.run([] {}), eddy::invalid_state_error); });
  });
  ctx.run([] {});  // left properly, even after the refusals
}

TEST_CASE("test_context_run: what the function throws passes through and leaves the context",
          "[context]") {
  eddy::context ctx;
  CHECK_THROWS_AS(ctx.run([] {
    cvar.set("before the throw");
    throw std::runtime_error("boom");
  }),
                  std::runtime_error);
  CHECK(ctx.get(cvar) == "before the throw");
  CHECK(cvar.get("outside") == "outside");
  ctx.run([] {});
}

// --- tasks --------------------------------------------------------------------------------

TEST_CASE("test_context_1: a task starts with a copy of its creator's context", "[context][task]") {
  eddy::run([]() -> eddy::coro<void> {
    cvar.set("nope");
    auto child = eddy::create_task([]() -> eddy::coro<std::string> {
      co_await eddy::sleep(1ms);
      std::string seen = cvar.get();
      cvar.set("something else");  // its own copy only
      co_return seen;
    });
    cvar.set("yes");  // after the copy: the child does not see it
    CHECK(co_await child == "nope");
    CHECK(cvar.get() == "yes");
  }());
  CHECK(cvar.get("unset") == "unset");  // the main task's sets stay in the main task
}

TEST_CASE("test_context_3: many tasks keep their own values across their awaits",
          "[context][task]") {
  eddy::run([]() -> eddy::coro<void> {
    std::vector<eddy::task<std::string>> tasks;
    for (int i = 0; i < 50; ++i) {
      tasks.push_back(eddy::create_task(set_and_read_across_sleeps(i)));
    }
    for (int i = 0; i < 50; ++i) {
      CHECK(co_await tasks[static_cast<std::size_t>(i)] == "task " + std::to_string(i));
    }
    CHECK(cvar.get("unset") == "unset");
  }());
}

TEST_CASE("test_context_4: tasks given one context share it", "[context][task]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::context shared;
    auto writer = eddy::create_task(set_cvar_after_a_step("written"), {.context = shared});
    co_await writer;
    CHECK(shared.get(cvar) == "written");
    CHECK(writer.get_context() == shared);
    auto reader = eddy::create_task(read_cvar_later(), {.context = shared});
    CHECK(co_await reader == "written");
    // The options written inside the co_await, the spelling GCC 12 gets wrong for aggregates
    // with non-trivial members (optional_arg is why this one is right).
    std::string inline_read = co_await eddy::create_task(
        read_cvar_later(), {.name = "a reader with a long name, past SSO", .context = shared});
    CHECK(inline_read == "written");
    CHECK(cvar.get("unset") == "unset");  // the creator's own context is untouched
  }());
}

TEST_CASE("test_get_context: a task's context holds what the task set", "[context][task]") {
  eddy::run([]() -> eddy::coro<void> {
    auto task = eddy::create_task(set_cvar_after_a_step("mine"));
    eddy::context ctx = task.get_context();
    CHECK_FALSE(ctx.contains(cvar));
    co_await task;
    CHECK(ctx.get(cvar) == "mine");
    eddy::any_task any = task;
    CHECK(any.get_context() == ctx);
  }());
}

TEST_CASE("an eager task sees its creator's values in its first step", "[context][task][eager]") {
  eddy::run([]() -> eddy::coro<void> {
    cvar.set("creator");
    std::string seen;
    auto task = eddy::create_task(
        [](std::string* out) -> eddy::coro<void> {
          *out = cvar.get();
          cvar.set("eager child");
          co_return;
        },
        &seen);
    co_await task;
    CHECK(seen == "creator");
    auto eager = eddy::create_task(read_cvar_later(), {.eager_start = true});
    CHECK(co_await eager == "creator");
    CHECK(cvar.get() == "creator");
  }());
}

TEST_CASE("task_group.create_task copies the context, or takes one", "[context][task_group]") {
  eddy::run([]() -> eddy::coro<void> {
    cvar.set("group owner");
    eddy::context given;
    eddy::task<std::string> copied;
    eddy::task<void> in_given;
    co_await eddy::with_task_group([&](eddy::task_group& group) -> eddy::coro<void> {
      copied = group.create_task(read_cvar_later());
      in_given = group.create_task(set_cvar_after_a_step("from the group"), {.context = given});
      co_return;
    });
    CHECK(copied.result() == "group owner");
    CHECK(given.get(cvar) == "from the group");
    CHECK(cvar.get() == "group owner");
  }());
}

TEST_CASE("the main task starts with a copy of the thread's context", "[context][task]") {
  eddy::context outer;
  outer.run([] {
    cvar.set("outside the loop");
    std::string seen = eddy::run([]() -> eddy::coro<std::string> {
      std::string value = cvar.get();
      cvar.set("inside");
      co_return value;
    }());
    CHECK(seen == "outside the loop");
    CHECK(cvar.get() == "outside the loop");
  });
}

// --- callbacks ----------------------------------------------------------------------------

TEST_CASE("test_context_2: call_soon, call_later and call_at run in the scheduling context",
          "[context][callback]") {
  eddy::run([]() -> eddy::coro<void> {
    auto& loop = eddy::get_running_loop();
    std::vector<std::string> seen;
    cvar.set("soon");
    loop.call_soon([&seen] {
      seen.push_back(cvar.get());
      cvar.set("changed by a callback");  // in the callback's copy only
    });
    cvar.set("later");
    loop.call_later(1ms, [&seen] { seen.push_back(cvar.get()); });
    cvar.set("at");
    loop.call_at(loop.time(), [&seen] { seen.push_back(cvar.get()); });
    co_await eddy::sleep(5ms);
    std::vector<std::string> expected{"soon", "at", "later"};
    CHECK(seen == expected);
    CHECK(cvar.get() == "at");
  }());
}

TEST_CASE("a callback that sets a variable with an empty context keeps it to itself",
          "[context][callback]") {
  eddy::run([]() -> eddy::coro<void> {
    auto& loop = eddy::get_running_loop();
    std::vector<std::string> seen;
    loop.call_soon([] { cvar.set("first callback"); });
    loop.call_soon([&seen] { seen.push_back(cvar.get("unset")); });
    co_await eddy::sleep(0s);
    co_await eddy::sleep(0s);
    std::vector<std::string> expected{"unset"};
    CHECK(seen == expected);
    CHECK(cvar.get("unset") == "unset");
  }());
  CHECK(cvar.get("unset") == "unset");  // nor went to the thread's own context
}

TEST_CASE("a callback's task copies the callback's context", "[context][callback]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<std::string> seen;
    cvar.set("scheduler");
    eddy::get_running_loop().call_soon([seen]() mutable {
      cvar.set("callback");
      eddy::create_task(
          [](eddy::future<std::string> out) -> eddy::coro<void> {
            out.set_result(cvar.get());
            co_return;
          },
          seen);
    });
    CHECK(co_await seen == "callback");
  }());
}

TEST_CASE("a done callback runs in the context add_done_callback was called in",
          "[context][callback]") {
  eddy::run([]() -> eddy::coro<void> {
    eddy::future<int> f;
    std::string seen;
    cvar.set("adder");
    f.add_done_callback([&seen] { seen = cvar.get(); });
    cvar.set("after adding");
    f.set_result(1);
    co_await eddy::sleep(0s);
    CHECK(seen == "adder");
  }());
}

TEST_CASE("add_reader's callback runs in the context add_reader was called in",
          "[context][callback]") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  eddy::run([](int reading, int writing) -> eddy::coro<void> {
    auto& loop = eddy::get_running_loop();
    eddy::future<std::string> seen;
    cvar.set("watcher");
    loop.add_reader(reading, [seen, reading, &loop]() mutable {
      loop.remove_reader(reading);
      seen.set_result(cvar.get());
    });
    cvar.set("after");
    REQUIRE(::write(writing, "x", 1) == 1);
    CHECK(co_await seen == "watcher");
  }(fds[0], fds[1]));
  ::close(fds[0]);
  ::close(fds[1]);
}

// --- threads ------------------------------------------------------------------------------

TEST_CASE("to_thread runs the function in a copy of the task's context", "[context][thread]") {
  eddy::run([]() -> eddy::coro<void> {
    cvar.set("from the task");
    auto read_and_change = [] {
      std::string value = cvar.get();
      cvar.set("set on the worker");
      return value;
    };
    CHECK(co_await eddy::to_thread(read_and_change) == "from the task");
    CHECK(cvar.get() == "from the task");
    // Nor was the worker's own context: a call from a task with an empty context sees no
    // value, although "set on the worker" was set on a thread of the same pool.
    auto read = [] { return cvar.get("none"); };
    auto from_empty = eddy::create_task(eddy::to_thread(read), {.context = eddy::context()});
    CHECK(co_await from_empty == "none");
  }());
}

TEST_CASE("call_soon_threadsafe and run_coroutine_threadsafe use the calling thread's context",
          "[context][thread]") {
  eddy::event_loop loop;
  std::string callback_saw;
  std::string task_saw;
  std::thread other([&] {
    eddy::context mine;
    mine.run([&] {
      cvar.set("other thread");
      task_saw = eddy::run_coroutine_threadsafe(read_cvar_later(), loop).get();
      loop.call_soon_threadsafe([&] {
        callback_saw = cvar.get("unset");
        loop.stop();
      });
    });
  });
  loop.run_forever();
  other.join();
  loop.close();
  CHECK(task_saw == "other thread");
  CHECK(callback_saw == "other thread");
}
