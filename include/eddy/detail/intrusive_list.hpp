// The intrusive lists everything in eddy links through: nodes carry their own links, so
// linking allocates nothing, and a node that lives in a coroutine frame is listed for as long
// as the frame waits.
//
//   intrusive_list<T, &T::links>  doubly linked: O(1) push at either end, pop, and removal of
//                                 any node (a cancelled waiter leaving the middle); with
//                                 list_ends::front_only, one pointer and no back end
//   intrusive_fifo<T, &T::next>   singly linked queue: O(1) push at either end, pop at the
//                                 front, and taking the whole chain at once
//
// The member pointer names the links; it may be a member of a base class of T. A node is in
// at most one list per links member. Nothing here checks that a node is linked before it is
// removed: the owner knows.
#pragma once

#include <cstddef>
#include <iterator>
#include <type_traits>

namespace eddy::detail {

/// A node's links in one intrusive_list.
template <class T>
struct list_links {
  T* prev = nullptr;
  T* next = nullptr;
};

/// Which ends an intrusive_list keeps a pointer to. front_only is for a list that many small
/// objects each own (a future's done links): it saves the back pointer, and so has no back()
/// and no push_back(); its last node is reached by walking.
enum class list_ends : unsigned char { both, front_only };

template <class T, auto Links, list_ends Ends = list_ends::both>
class intrusive_list {
  static constexpr bool keeps_back = Ends == list_ends::both;

 public:
  intrusive_list() noexcept = default;
  intrusive_list(const intrusive_list&) = delete;
  intrusive_list& operator=(const intrusive_list&) = delete;
  /// Takes over other's nodes (other is left empty).
  intrusive_list(intrusive_list&& other) noexcept : head_(other.head_), tail_(other.tail_) {
    other.forget_nodes();
  }
  /// Takes over other's nodes. This list's own nodes, if any, are forgotten, not unlinked:
  /// the owner empties it first.
  intrusive_list& operator=(intrusive_list&& other) noexcept {
    if (this != &other) {
      head_ = other.head_;
      tail_ = other.tail_;
      other.forget_nodes();
    }
    return *this;
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  /// The first node, or null.
  [[nodiscard]] T* front() const noexcept { return head_; }
  /// The last node, or null.
  [[nodiscard]] T* back() const noexcept
    requires keeps_back
  {
    return tail_;
  }
  /// The node after `node` in its list, or null.
  [[nodiscard]] static T* next(const T& node) noexcept { return (node.*Links).next; }
  /// The node before `node` in its list, or null (how a front_only list, or a chain taken
  /// from one, is walked from its last node back to its first).
  [[nodiscard]] static T* prev(const T& node) noexcept { return (node.*Links).prev; }

  void push_back(T& node) noexcept
    requires keeps_back
  {
    auto& links = node.*Links;
    links.prev = tail_;
    links.next = nullptr;
    (tail_ != nullptr ? (tail_->*Links).next : head_) = &node;
    tail_ = &node;
  }

  void push_front(T& node) noexcept {
    auto& links = node.*Links;
    links.prev = nullptr;
    links.next = head_;
    if constexpr (keeps_back) {
      (head_ != nullptr ? (head_->*Links).prev : tail_) = &node;
    } else if (head_ != nullptr) {
      (head_->*Links).prev = &node;
    }
    head_ = &node;
  }

  /// Unlinks `node`, which must be in this list; its links are cleared.
  void remove(T& node) noexcept {
    auto& links = node.*Links;
    (links.prev != nullptr ? (links.prev->*Links).next : head_) = links.next;
    if constexpr (keeps_back) {
      (links.next != nullptr ? (links.next->*Links).prev : tail_) = links.prev;
    } else if (links.next != nullptr) {
      (links.next->*Links).prev = links.prev;
    }
    links.prev = links.next = nullptr;
  }

  /// Unlinks and returns the first node, or null when empty.
  T* pop_front() noexcept {
    T* node = head_;
    if (node != nullptr) {
      remove(*node);
    }
    return node;
  }

  /// Whether `node` is in this list (a walk: for checks off the hot path).
  [[nodiscard]] bool contains(const T& node) const noexcept {
    for (const T* each = head_; each != nullptr; each = next(*each)) {
      if (each == &node) {
        return true;
      }
    }
    return false;
  }

  /// Empties the list at once and returns its first node: the nodes keep their links, so the
  /// caller walks the chain with next() (reading each next before it relinks or frees a node).
  [[nodiscard]] T* take_all() noexcept {
    T* first = head_;
    forget_nodes();
    return first;
  }

  /// Forward iteration, front to back. The node an iterator points at must stay linked until
  /// the iterator moves past it.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    iterator() noexcept = default;
    explicit iterator(T* node) noexcept : node_(node) {}
    T& operator*() const noexcept { return *node_; }
    T* operator->() const noexcept { return node_; }
    iterator& operator++() noexcept {
      node_ = next(*node_);
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.node_ == b.node_;
    }

   private:
    T* node_ = nullptr;
  };

  [[nodiscard]] iterator begin() const noexcept { return iterator(head_); }
  [[nodiscard]] iterator end() const noexcept { return iterator(); }

 private:
  /// What a front_only list keeps instead of a back pointer.
  struct no_back {};

  /// Empties the list without touching its nodes.
  void forget_nodes() noexcept {
    head_ = nullptr;
    if constexpr (keeps_back) {
      tail_ = nullptr;
    }
  }

  T* head_ = nullptr;
  /// The last node, or null; takes no room in a front_only list.
  [[no_unique_address]] std::conditional_t<keeps_back, T*, no_back> tail_{};
};

template <class T, auto Next>
class intrusive_fifo {
 public:
  intrusive_fifo() noexcept = default;
  intrusive_fifo(const intrusive_fifo&) = delete;
  intrusive_fifo& operator=(const intrusive_fifo&) = delete;

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] T* front() const noexcept { return head_; }

  void push_back(T& node) noexcept {
    node.*Next = nullptr;
    (tail_ != nullptr ? tail_->*Next : head_) = &node;
    tail_ = &node;
  }

  /// Puts `node` first: with pop_front, a LIFO stack.
  void push_front(T& node) noexcept {
    node.*Next = head_;
    if (head_ == nullptr) {
      tail_ = &node;
    }
    head_ = &node;
  }

  /// Unlinks and returns the first node, or null when empty.
  T* pop_front() noexcept {
    T* node = head_;
    if (node != nullptr) {
      head_ = node->*Next;
      if (head_ == nullptr) {
        tail_ = nullptr;
      }
    }
    return node;
  }

  /// Detaches every node at once and returns the first; the chain stays linked through Next,
  /// in FIFO order, ending with null.
  [[nodiscard]] T* take_all() noexcept {
    T* head = head_;
    head_ = tail_ = nullptr;
    return head;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace eddy::detail
