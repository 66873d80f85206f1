#include "eddy/detail/intrusive_list.hpp"
// The intrusive lists every waiter list, done list and queue in eddy is built on: order,
// removal from anywhere, links that live in a base class, taking a whole FIFO at once, a FIFO
// used as a stack, and the one-pointer (front_only) list a future's done links live in.

#include <catch2/catch.hpp>

#include <vector>

namespace {

using eddy::detail::intrusive_fifo;
using eddy::detail::intrusive_list;
using eddy::detail::list_links;

struct base_node {
  list_links<base_node> links;
  base_node* next_in_fifo = nullptr;
};

struct item : base_node {
  explicit item(int v) : value(v) {}
  int value;
};

using item_list = intrusive_list<base_node, &base_node::links>;
using item_fifo = intrusive_fifo<base_node, &base_node::next_in_fifo>;

std::vector<int> values(const item_list& list) {
  std::vector<int> seen;
  for (base_node& node : list) {
    seen.push_back(static_cast<item&>(node).value);
  }
  return seen;
}

}  // namespace

TEST_CASE("intrusive_list keeps push_back order and push_front puts a node first",
          "[intrusive_list]") {
  item a(1), b(2), c(3);
  item_list list;
  CHECK(list.empty());
  CHECK(list.front() == nullptr);
  list.push_back(b);
  list.push_back(c);
  list.push_front(a);
  CHECK(values(list) == std::vector<int>{1, 2, 3});
  CHECK(list.front() == &a);
  CHECK(list.back() == &c);
  CHECK(item_list::next(a) == &b);
  CHECK(item_list::next(c) == nullptr);
}

TEST_CASE("intrusive_list removes a node from the front, the middle or the back in O(1)",
          "[intrusive_list]") {
  item a(1), b(2), c(3), d(4);
  item_list list;
  for (item* each : {&a, &b, &c, &d}) {
    list.push_back(*each);
  }
  list.remove(b);  // middle
  CHECK(values(list) == std::vector<int>{1, 3, 4});
  CHECK(b.links.prev == nullptr);
  CHECK(b.links.next == nullptr);
  list.remove(a);  // front
  CHECK(list.front() == &c);
  list.remove(d);  // back
  CHECK(list.back() == &c);
  CHECK(values(list) == std::vector<int>{3});
  list.remove(c);  // the only one
  CHECK(list.empty());
  CHECK(list.back() == nullptr);
  list.push_back(b);  // a removed node can be linked again
  CHECK(values(list) == std::vector<int>{2});
}

TEST_CASE("intrusive_list pop_front and contains", "[intrusive_list]") {
  item a(1), b(2), outsider(9);
  item_list list;
  CHECK(list.pop_front() == nullptr);
  list.push_back(a);
  list.push_back(b);
  CHECK(list.contains(b));
  CHECK_FALSE(list.contains(outsider));
  CHECK(list.pop_front() == &a);
  CHECK_FALSE(list.contains(a));
  CHECK(list.pop_front() == &b);
  CHECK(list.empty());
}

TEST_CASE("intrusive_list's move constructor and assignment take the nodes over",
          "[intrusive_list]") {
  item a(1), b(2);
  item_list list;
  list.push_back(a);
  list.push_back(b);
  item_list taken(std::move(list));
  CHECK(list.empty());  // NOLINT(bugprone-use-after-move): moved-from is defined empty
  CHECK(values(taken) == std::vector<int>{1, 2});
  taken.remove(a);
  CHECK(taken.front() == &b);
  item_list assigned;
  assigned = std::move(taken);
  CHECK(taken.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(values(assigned) == std::vector<int>{2});
}

TEST_CASE("intrusive_list take_all empties the list and leaves the chain walkable",
          "[intrusive_list]") {
  item a(1), b(2);
  item_list list;
  list.push_back(a);
  list.push_back(b);
  base_node* first = list.take_all();
  CHECK(list.empty());
  CHECK(first == &a);
  CHECK(item_list::next(*first) == &b);
  CHECK(item_list::next(b) == nullptr);
}

TEST_CASE("intrusive_fifo pops in order and take_all detaches the chain", "[intrusive_list]") {
  item a(1), b(2), c(3);
  item_fifo fifo;
  CHECK(fifo.empty());
  CHECK(fifo.pop_front() == nullptr);
  fifo.push_back(a);
  fifo.push_back(b);
  CHECK(fifo.pop_front() == &a);
  fifo.push_back(c);
  CHECK(fifo.front() == &b);
  base_node* chain = fifo.take_all();
  CHECK(fifo.empty());
  std::vector<int> seen;
  for (base_node* node = chain; node != nullptr; node = node->next_in_fifo) {
    seen.push_back(static_cast<item*>(node)->value);
  }
  CHECK(seen == std::vector<int>{2, 3});
  fifo.push_back(a);  // usable again after take_all
  CHECK(fifo.pop_front() == &a);
  CHECK(fifo.empty());
}

TEST_CASE("intrusive_fifo push_front puts a node first, so it also works as a LIFO stack",
          "[intrusive_list]") {
  item a(1), b(2), c(3);
  item_fifo stack;
  stack.push_front(a);  // onto an empty fifo: a is its back too
  stack.push_front(b);
  CHECK(stack.front() == &b);
  CHECK(stack.pop_front() == &b);
  CHECK(stack.pop_front() == &a);
  CHECK(stack.empty());
  stack.push_front(a);
  stack.push_back(c);  // the back was kept by push_front
  stack.push_front(b);
  std::vector<int> seen;
  for (base_node* node = stack.take_all(); node != nullptr; node = node->next_in_fifo) {
    seen.push_back(static_cast<item*>(node)->value);
  }
  CHECK(seen == std::vector<int>{2, 1, 3});
  CHECK(stack.empty());
}

namespace {

using eddy::detail::list_ends;
using front_only_list = intrusive_list<base_node, &base_node::links, list_ends::front_only>;

std::vector<int> values(const front_only_list& list) {
  std::vector<int> seen;
  for (base_node& node : list) {
    seen.push_back(static_cast<item&>(node).value);
  }
  return seen;
}

}  // namespace

TEST_CASE("a front_only intrusive_list is one pointer and links, removes and pops as a full one",
          "[intrusive_list]") {
  STATIC_REQUIRE(sizeof(front_only_list) == sizeof(base_node*));
  item a(1), b(2), c(3), d(4), outsider(9);
  front_only_list list;
  CHECK(list.empty());
  CHECK(list.pop_front() == nullptr);
  for (item* each : {&d, &c, &b, &a}) {
    list.push_front(*each);
  }
  CHECK(values(list) == std::vector<int>{1, 2, 3, 4});
  CHECK(front_only_list::prev(d) == &c);
  CHECK(front_only_list::prev(a) == nullptr);
  CHECK(list.contains(c));
  CHECK_FALSE(list.contains(outsider));
  list.remove(b);  // middle
  CHECK(values(list) == std::vector<int>{1, 3, 4});
  CHECK(b.links.prev == nullptr);
  CHECK(b.links.next == nullptr);
  CHECK(front_only_list::prev(c) == &a);
  list.remove(d);  // last
  CHECK(front_only_list::next(c) == nullptr);
  CHECK(list.pop_front() == &a);  // first
  CHECK(front_only_list::prev(c) == nullptr);
  list.remove(c);  // the only one
  CHECK(list.empty());
  list.push_front(b);  // a removed node can be linked again
  CHECK(values(list) == std::vector<int>{2});
  front_only_list taken(std::move(list));
  CHECK(list.empty());  // NOLINT(bugprone-use-after-move): moved-from is defined empty
  CHECK(values(taken) == std::vector<int>{2});
}

TEST_CASE("a chain taken from a front_only intrusive_list walks back from its last node with prev",
          "[intrusive_list]") {
  item a(1), b(2), c(3);
  front_only_list newest_first;
  for (item* each : {&a, &b, &c}) {
    newest_first.push_front(*each);
  }
  base_node* last = newest_first.take_all();
  CHECK(newest_first.empty());
  while (front_only_list::next(*last) != nullptr) {
    last = front_only_list::next(*last);
  }
  std::vector<int> oldest_first;
  for (base_node* node = last; node != nullptr; node = front_only_list::prev(*node)) {
    oldest_first.push_back(static_cast<item*>(node)->value);
  }
  CHECK(oldest_first == std::vector<int>{1, 2, 3});
}
