// Interval coalescing for data reassembly.
#include "wire/range_set.h"

#include <algorithm>

namespace nvmeoe {

uint64_t RangeSet::add(uint64_t offset, uint64_t len) {
  if (len == 0) return 0;
  uint64_t b = offset, e = offset + len;
  // Fast path: extends the last range (in-order arrival).
  if (!ranges_.empty() && ranges_.back().second == b) {
    ranges_.back().second = e;
    covered_ += len;
    return len;
  }
  // First range whose end is >= b (could touch or overlap).
  Range* it =
      std::lower_bound(ranges_.begin(), ranges_.end(), b, [](const Range& r, uint64_t v) { return r.second < v; });
  uint64_t already = 0;
  Range* first = it;
  while (it != ranges_.end() && it->first <= e) {
    uint64_t ob = std::max(it->first, b), oe = std::min(it->second, e);
    if (oe > ob) already += oe - ob;
    b = std::min(b, it->first);
    e = std::max(e, it->second);
    ++it;
  }
  it = ranges_.erase(first, it);
  ranges_.insert(it, Range{b, e});
  covered_ += len - already;
  return len - already;
}

std::vector<std::pair<uint64_t, uint64_t>> RangeSet::missing(uint64_t total, size_t max) const {
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  uint64_t pos = 0;
  for (const auto& r : ranges_) {
    if (holes.size() >= max || pos >= total) break;
    if (r.first > pos) holes.push_back({pos, std::min(r.first, total) - pos});
    pos = std::max(pos, r.second);
  }
  if (pos < total && holes.size() < max) holes.push_back({pos, total - pos});
  return holes;
}

}  // namespace nvmeoe
