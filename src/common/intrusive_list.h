// A doubly linked list threaded through its elements (a ListHook member), so that linking,
// unlinking and moving an element cost a few pointer writes and never allocate: for the per-turn
// bookkeeping of the target (oldest pending handshakes, reclaimable buffers). The list does not
// own its elements; an element must be unlinked before it is destroyed. Several lists may share
// one hook for elements that are in at most one of them at a time.
#pragma once

#include <cstddef>

namespace nvmeoe {

template <typename T>
struct ListHook {
  T* prev = nullptr;
  T* next = nullptr;
  const void* list = nullptr;  // the list it is linked in; null when unlinked
};

template <typename T, ListHook<T> T::*Hook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  T* front() const { return head_; }
  static T* next(const T* e) { return (e->*Hook).next; }
  static bool linked(const T* e) { return (e->*Hook).list != nullptr; }
  bool contains(const T* e) const { return (e->*Hook).list == this; }

  void push_back(T* e) {
    ListHook<T>& h = e->*Hook;
    if (h.list == this) remove(e);
    h.prev = tail_;
    h.next = nullptr;
    h.list = this;
    if (tail_)
      (tail_->*Hook).next = e;
    else
      head_ = e;
    tail_ = e;
    ++size_;
  }

  // Unlinks `e` if it is in this list (not another one using the same hook).
  void remove(T* e) {
    ListHook<T>& h = e->*Hook;
    if (h.list != this) return;
    if (h.prev)
      (h.prev->*Hook).next = h.next;
    else
      head_ = h.next;
    if (h.next)
      (h.next->*Hook).prev = h.prev;
    else
      tail_ = h.prev;
    h = ListHook<T>{};
    --size_;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nvmeoe
