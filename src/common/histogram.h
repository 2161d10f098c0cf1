// Latency histogram with fixed log-linear buckets and no allocation: record() is a few integer
// operations, so it can run once per I/O on a hot path. Values are nanoseconds. Buckets are 16 ns
// wide up to 1 µs, then 32 per power of two up to 2^36 ns (~69 s), so any value from 1 µs to 60 s
// lands in a bucket at most 1/32 (3.1%) of its value wide; percentile() answers the middle of
// that bucket (error ≤ 1.6%), clamped to the exact min and max. Larger values count in the last
// bucket. Not thread-safe: one owner records, others get copies.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace nvmeoe {

class LatencyHistogram {
 public:
  static constexpr int kUnitShift = 4;  // bucket resolution below 1 µs: 16 ns
  static constexpr int kSubBits = 5;    // 32 sub-buckets per power of two
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kLinear = 2 * kSub;  // units 0..63 map one to one
  static constexpr int kMaxUnitBits = 32;   // 2^32 units of 16 ns = 68.7 s
  static constexpr int kBuckets = kLinear + (kMaxUnitBits - kSubBits - 1) * kSub;

  void record(uint64_t ns) {
    ++buckets_[index_of(ns)];
    ++count_;
    sum_ns_ += ns;
    if (ns < min_ns_) min_ns_ = ns;
    if (ns > max_ns_) max_ns_ = ns;
  }

  void merge(const LatencyHistogram& o) {
    for (int i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    sum_ns_ += o.sum_ns_;
    min_ns_ = std::min(min_ns_, o.min_ns_);
    max_ns_ = std::max(max_ns_, o.max_ns_);
  }

  void reset() { *this = LatencyHistogram{}; }

  uint64_t count() const { return count_; }
  uint64_t min_ns() const { return count_ ? min_ns_ : 0; }
  uint64_t max_ns() const { return max_ns_; }
  uint64_t sum_ns() const { return sum_ns_; }
  double mean_ns() const { return count_ ? double(sum_ns_) / double(count_) : 0.0; }

  // The value below which p percent of the recorded values lie (p in [0, 100]); 0 when empty.
  uint64_t percentile(double p) const {
    if (count_ == 0) return 0;
    if (p <= 0) return min_ns();
    if (p >= 100) return max_ns_;
    // The smallest rank r (1-based) with r >= p% of count.
    uint64_t rank = uint64_t(p / 100.0 * double(count_));
    if (double(rank) < p / 100.0 * double(count_)) ++rank;
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= rank) {
        uint64_t mid = bucket_low_ns(i) + bucket_width_ns(i) / 2;
        return std::clamp(mid, min_ns(), max_ns_);
      }
    }
    return max_ns_;
  }

  // Bucket layout, exposed for tests and for encoders.
  static int index_of(uint64_t ns) {
    uint64_t v = ns >> kUnitShift;
    if (v < uint64_t(kLinear)) return int(v);
    int msb = 63 - std::countl_zero(v);
    if (msb >= kMaxUnitBits) return kBuckets - 1;
    int shift = msb - kSubBits;
    return kLinear + (msb - kSubBits - 1) * kSub + int((v >> shift) - kSub);
  }
  static uint64_t bucket_low_ns(int i) {
    if (i < kLinear) return uint64_t(i) << kUnitShift;
    int octave = (i - kLinear) / kSub, sub = (i - kLinear) % kSub;
    return (uint64_t(kSub + sub) << (octave + 1)) << kUnitShift;
  }
  static uint64_t bucket_width_ns(int i) {
    if (i < kLinear) return uint64_t(1) << kUnitShift;
    int octave = (i - kLinear) / kSub;
    return (uint64_t(1) << (octave + 1)) << kUnitShift;
  }
  uint64_t bucket_count(int i) const { return buckets_[i]; }

  // Adds n values known only by their bucket (a histogram rebuilt from its buckets): the sum
  // counts them at the bucket's middle, min and max widen to the bucket's bounds.
  void add_to_bucket(int i, uint64_t n) {
    if (i < 0 || i >= kBuckets || n == 0) return;
    buckets_[i] += n;
    count_ += n;
    uint64_t low = bucket_low_ns(i), width = bucket_width_ns(i);
    sum_ns_ += (low + width / 2) * n;
    min_ns_ = std::min(min_ns_, low);
    max_ns_ = std::max(max_ns_, low + width - 1);
  }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0, sum_ns_ = 0;
  uint64_t min_ns_ = std::numeric_limits<uint64_t>::max(), max_ns_ = 0;
};

// The summary that stats reports carry: count, mean, max and three percentiles, in µs.
struct LatencySummary {
  uint64_t count = 0;
  double mean_us = 0, max_us = 0, p50_us = 0, p99_us = 0, p999_us = 0;
};

// The non-empty buckets of a histogram as (index, count), in index order: how stats reports carry
// a histogram, so a reader can take the difference of two samples.
using LatencyBuckets = std::vector<std::pair<uint16_t, uint64_t>>;

// Into `out`, whose storage is reused (the host publishes its statistics without allocating).
inline void to_buckets(const LatencyHistogram& h, LatencyBuckets* out) {
  out->clear();
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i)
    if (uint64_t n = h.bucket_count(i)) out->emplace_back(uint16_t(i), n);
}
inline LatencyBuckets to_buckets(const LatencyHistogram& h) {
  LatencyBuckets out;
  to_buckets(h, &out);
  return out;
}

// The values recorded between two samples of the same histogram (`before` may be empty). Buckets
// that went down (the histogram was replaced) count as in `now`.
inline LatencyHistogram bucket_difference(const LatencyBuckets& now, const LatencyBuckets& before) {
  LatencyHistogram h;
  size_t j = 0;
  for (const auto& [i, n] : now) {
    while (j < before.size() && before[j].first < i) ++j;
    uint64_t old = j < before.size() && before[j].first == i ? before[j].second : 0;
    h.add_to_bucket(i, n >= old ? n - old : n);
  }
  return h;
}

inline LatencySummary summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.mean_us = h.mean_ns() / 1000.0;
  s.max_us = double(h.max_ns()) / 1000.0;
  s.p50_us = double(h.percentile(50)) / 1000.0;
  s.p99_us = double(h.percentile(99)) / 1000.0;
  s.p999_us = double(h.percentile(99.9)) / 1000.0;
  return s;
}

}  // namespace nvmeoe
