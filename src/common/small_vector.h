// A vector that keeps its first N elements inline: no allocation until it holds more than N. For
// the per-command state of the data path (a command's received byte ranges), where a few elements
// are the common case and an allocation per command is the cost to avoid. Elements are trivially
// copyable; iterators are pointers and, as with std::vector, any insertion invalidates them.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace nvmeoe {

template <typename T, size_t N>
class SmallVector {
  static_assert(std::is_trivially_copyable_v<T>, "SmallVector holds trivially copyable elements");

 public:
  T* begin() { return heap_mode_ ? heap_.data() : inline_.data(); }
  T* end() { return begin() + size(); }
  const T* begin() const { return heap_mode_ ? heap_.data() : inline_.data(); }
  const T* end() const { return begin() + size(); }
  size_t size() const { return heap_mode_ ? heap_.size() : count_; }
  bool empty() const { return size() == 0; }
  T& back() { return end()[-1]; }
  const T& back() const { return end()[-1]; }
  T& operator[](size_t i) { return begin()[i]; }
  const T& operator[](size_t i) const { return begin()[i]; }
  // Allocated storage (once it grew past N) is kept for reuse.
  void clear() {
    heap_.clear();
    count_ = 0;
    heap_mode_ = false;
  }
  T* insert(T* pos, const T& v) {
    size_t at = size_t(pos - begin());
    if (!heap_mode_ && count_ < N) {
      std::copy_backward(inline_.data() + at, inline_.data() + count_, inline_.data() + count_ + 1);
      inline_[at] = v;
      ++count_;
      return inline_.data() + at;
    }
    if (!heap_mode_) {
      heap_.assign(inline_.data(), inline_.data() + count_);
      heap_mode_ = true;
    }
    return &*heap_.insert(heap_.begin() + long(at), v);
  }
  void push_back(const T& v) { insert(end(), v); }
  T* erase(T* first, T* last) {
    size_t a = size_t(first - begin()), b = size_t(last - begin());
    if (heap_mode_)
      return heap_.data() + (heap_.erase(heap_.begin() + long(a), heap_.begin() + long(b)) - heap_.begin());
    std::copy(inline_.data() + b, inline_.data() + count_, inline_.data() + a);
    count_ -= b - a;
    return inline_.data() + a;
  }

 private:
  std::array<T, N> inline_{};
  size_t count_ = 0;
  bool heap_mode_ = false;
  std::vector<T> heap_;
};

}  // namespace nvmeoe
