// Tests of the latency histogram: bucket layout, percentiles of known distributions within the
// documented error, merge, and edge cases (empty, tiny and huge values).
#include "common/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace nvmeoe {
namespace {

// The exact p-th percentile of sorted values, with the histogram's rank rule.
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double p) {
  double want = p / 100.0 * double(sorted.size());
  uint64_t rank = uint64_t(want);
  if (double(rank) < want) ++rank;
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_close(uint64_t got, uint64_t want, const char* what) {
  // Half a bucket of 1/32 of the value, plus the 16 ns resolution below 1 µs.
  double tolerance = double(want) / 64.0 + 16.0;
  EXPECT_NEAR(double(got), double(want), tolerance) << what;
}

TEST(HistogramTest, BucketsCoverEveryValueOnce) {
  uint64_t prev_end = 0;
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i) {
    uint64_t low = LatencyHistogram::bucket_low_ns(i), width = LatencyHistogram::bucket_width_ns(i);
    EXPECT_EQ(low, prev_end) << "bucket " << i;
    EXPECT_EQ(LatencyHistogram::index_of(low), i);
    EXPECT_EQ(LatencyHistogram::index_of(low + width - 1), i);
    if (low >= 1000) {
      EXPECT_LE(double(width) / double(low), 1.0 / 32 + 1e-12) << "bucket " << i;
    }
    prev_end = low + width;
  }
  EXPECT_GE(prev_end, 60'000'000'000ull);  // 60 s fits
  EXPECT_EQ(LatencyHistogram::index_of(~0ull), LatencyHistogram::kBuckets - 1);
}

TEST(HistogramTest, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.min_ns(), 0u);
  EXPECT_EQ(h.max_ns(), 0u);
  EXPECT_EQ(h.mean_ns(), 0.0);
  LatencySummary s = summarize(h);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p999_us, 0.0);
}

TEST(HistogramTest, ConstantValueIsExact) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(123'456);
  EXPECT_EQ(h.percentile(50), 123'456u);  // clamped to min = max
  EXPECT_EQ(h.percentile(99.9), 123'456u);
  EXPECT_EQ(h.mean_ns(), 123'456.0);
}

TEST(HistogramTest, UniformDistribution) {
  LatencyHistogram h;
  std::vector<uint64_t> v;
  for (uint64_t us = 1; us <= 10000; ++us) {  // 1 µs .. 10 ms, evenly
    h.record(us * 1000);
    v.push_back(us * 1000);
  }
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.min_ns(), 1000u);
  EXPECT_EQ(h.max_ns(), 10'000'000u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 5000.5 * 1000);
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) {
    std::string label = "p";  // not "p" + to_string(p): GCC 12 -O3 reports a false -Wrestrict there
    label += std::to_string(p);
    expect_close(h.percentile(p), exact_percentile(v, p), label.c_str());
  }
  EXPECT_EQ(h.percentile(100), 10'000'000u);
}

TEST(HistogramTest, LogNormalDistribution) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(200'000.0), 1.5);  // median 200 µs, long tail
  LatencyHistogram h;
  std::vector<uint64_t> v;
  for (int i = 0; i < 200000; ++i) {
    uint64_t ns = uint64_t(std::min(dist(rng), 6e10));
    h.record(ns);
    v.push_back(ns);
  }
  std::sort(v.begin(), v.end());
  for (double p : {50.0, 99.0, 99.9}) {
    uint64_t got = h.percentile(p), want = exact_percentile(v, p);
    EXPECT_LE(std::abs(double(got) - double(want)), double(want) * 0.032 + 16) << "p" << p;
  }
  EXPECT_LE(h.percentile(50), h.percentile(99));
  EXPECT_LE(h.percentile(99), h.percentile(99.9));
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  for (uint64_t i = 0; i < 5000; ++i) {
    uint64_t x = 500 + i * 37, y = 2'000'000 + i * 1001;
    a.record(x);
    b.record(y);
    all.record(x);
    all.record(y);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.sum_ns(), all.sum_ns());
  EXPECT_EQ(a.min_ns(), all.min_ns());
  EXPECT_EQ(a.max_ns(), all.max_ns());
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i) EXPECT_EQ(a.bucket_count(i), all.bucket_count(i));
  EXPECT_EQ(a.percentile(75), all.percentile(75));
  LatencyHistogram empty;
  a.merge(empty);
  EXPECT_EQ(a.min_ns(), all.min_ns());
}

TEST(HistogramTest, ExtremesStayInRange) {
  LatencyHistogram h;
  h.record(0);
  h.record(3);
  h.record(120'000'000'000ull);  // 120 s: beyond the last bucket, still counted
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.min_ns(), 0u);
  EXPECT_EQ(h.max_ns(), 120'000'000'000ull);
  EXPECT_EQ(h.percentile(100), 120'000'000'000ull);
  EXPECT_LE(h.percentile(10), 16u);
  LatencySummary s = summarize(h);
  EXPECT_DOUBLE_EQ(s.max_us, 120'000'000.0);
}

TEST(HistogramTest, BucketDifferenceGivesTheInterval) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(50'000);  // 50 µs before the first sample
  LatencyBuckets first = to_buckets(h);
  ASSERT_EQ(first.size(), 1u);
  for (int i = 0; i < 100; ++i) h.record(2'000'000);  // then 100 at 2 ms
  LatencyBuckets second = to_buckets(h);
  LatencyHistogram interval = bucket_difference(second, first);
  EXPECT_EQ(interval.count(), 100u);
  expect_close(interval.percentile(50), 2'000'000, "interval p50");
  expect_close(interval.percentile(99.9), 2'000'000, "interval p999");
  expect_close(uint64_t(interval.mean_ns()), 2'000'000, "interval mean");
  // Against nothing, the whole histogram; a replaced histogram (counts went down) is taken as is.
  EXPECT_EQ(bucket_difference(second, {}).count(), 1100u);
  LatencyHistogram replaced;
  for (int i = 0; i < 10; ++i) replaced.record(50'000);
  EXPECT_EQ(bucket_difference(to_buckets(replaced), first).count(), 10u);
  EXPECT_EQ(bucket_difference({}, second).count(), 0u);
  LatencyHistogram rebuilt = bucket_difference(second, {});
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i) EXPECT_EQ(rebuilt.bucket_count(i), h.bucket_count(i));
  rebuilt.add_to_bucket(-1, 5);  // out of range: ignored
  rebuilt.add_to_bucket(LatencyHistogram::kBuckets, 5);
  EXPECT_EQ(rebuilt.count(), 1100u);
}

}  // namespace
}  // namespace nvmeoe
