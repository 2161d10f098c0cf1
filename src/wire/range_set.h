// A set of received byte ranges of one command's data, for reassembly that does not depend on
// frame order and tolerates duplicates and overlaps. Small and sorted: ranges coalesce as they
// arrive, so in-order arrival keeps one range, held inline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/small_vector.h"

namespace nvmeoe {

class RangeSet {
 public:
  // Adds [offset, offset+len); returns how many bytes were new.
  uint64_t add(uint64_t offset, uint64_t len);
  uint64_t covered() const { return covered_; }
  // True when [0, total) is fully covered.
  bool complete(uint64_t total) const {
    return total == 0 || (ranges_.size() == 1 && ranges_[0].first == 0 && ranges_[0].second >= total);
  }
  // The holes in [0, total), at most `max` of them.
  std::vector<std::pair<uint64_t, uint64_t>> missing(uint64_t total, size_t max) const;
  void clear() {
    ranges_.clear();
    covered_ = 0;
  }

 private:
  struct Range {
    uint64_t first, second;
  };
  // [begin, end), sorted, disjoint, non-adjacent; inline for the common case (in-order data, a
  // few holes): no allocation per command.
  SmallVector<Range, 4> ranges_;
  uint64_t covered_ = 0;
};

}  // namespace nvmeoe
