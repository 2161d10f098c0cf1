// Histogram, verification pattern and table, offset generator and result printers of `nvmeoe perf`.
#include "cli/perf_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/bytes.h"

namespace nvmeoe::cli {

namespace {

constexpr uint8_t kMagic[4] = {'N', 'V', 'O', 'E'};
constexpr uint32_t kHeaderBytes = 16;

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t pattern_seed(uint64_t lba, uint32_t seq) {
  return lba * 0x9e3779b97f4a7c15ULL ^ (uint64_t(seq) << 32 | seq);
}

double ns_to_us(double ns) {
  return ns / 1000.0;
}

}  // namespace

size_t LatencyHistogram::bucket_of(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
  unsigned shift = msb - kSubBits;
  return static_cast<size_t>((uint64_t(shift) + 1) * kSub + ((v >> shift) & (kSub - 1)));
}

uint64_t LatencyHistogram::bucket_lower(size_t i) {
  if (i < kSub) return i;
  unsigned shift = static_cast<unsigned>(i / kSub - 1);
  return (kSub + i % kSub) << shift;
}

uint64_t LatencyHistogram::bucket_upper(size_t i) {
  if (i < kSub) return i;
  unsigned shift = static_cast<unsigned>(i / kSub - 1);
  return bucket_lower(i) + ((uint64_t(1) << shift) - 1);
}

void LatencyHistogram::record(uint64_t ns) {
  ++buckets_[bucket_of(ns)];
  ++count_;
  sum_ += ns;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == 1) return min();  // the extremes are known exactly
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t lo = bucket_lower(i), hi = bucket_upper(i);
      return std::clamp(lo + (hi - lo) / 2, min(), max_);
    }
  }
  return max_;
}

void fill_pattern(uint8_t* block, uint32_t block_size, uint64_t lba, uint32_t seq) {
  std::memcpy(block, kMagic, 4);
  put_le32(block + 4, seq);
  put_le64(block + 8, lba);
  uint64_t state = pattern_seed(lba, seq);
  uint32_t off = kHeaderBytes;
  for (; off + 8 <= block_size; off += 8) put_le64(block + off, splitmix64(state));
  if (off < block_size) {
    uint64_t last = splitmix64(state);
    for (; off < block_size; ++off, last >>= 8) block[off] = static_cast<uint8_t>(last);
  }
}

bool check_pattern(const uint8_t* block, uint32_t block_size, uint64_t lba, uint32_t seq) {
  if (std::memcmp(block, kMagic, 4) != 0 || get_le32(block + 4) != seq || get_le64(block + 8) != lba) return false;
  uint64_t state = pattern_seed(lba, seq);
  uint32_t off = kHeaderBytes;
  for (; off + 8 <= block_size; off += 8)
    if (get_le64(block + off) != splitmix64(state)) return false;
  if (off < block_size) {
    uint64_t last = splitmix64(state);
    for (; off < block_size; ++off, last >>= 8)
      if (block[off] != static_cast<uint8_t>(last)) return false;
  }
  return true;
}

uint32_t VerifyTable::begin_write(uint64_t unit, uint64_t count) {
  for (uint64_t u = unit; u < unit + count; ++u) {
    Entry& e = entries_[u];
    if (e.writes_in_flight > 0) e.overlapped = true;
    ++e.writes_in_flight;
    ++e.epoch;
  }
  uint32_t seq = next_seq_++;
  if (next_seq_ == kUnknownContent) next_seq_ = 1;
  return seq;
}

void VerifyTable::end_write(uint64_t unit, uint32_t seq, bool ok) {
  Entry& e = entries_[unit];
  if (e.writes_in_flight > 0) --e.writes_in_flight;
  e.last_seq = ok && !e.overlapped ? seq : kUnknownContent;
  if (e.writes_in_flight == 0) e.overlapped = false;
}

VerifyTable::ReadTicket VerifyTable::begin_read(uint64_t unit) const {
  const Entry& e = entries_[unit];
  ReadTicket t;
  t.expected_seq = e.last_seq;
  t.epoch = e.epoch;
  t.checkable = e.writes_in_flight == 0 && e.last_seq != kNeverWritten && e.last_seq != kUnknownContent;
  return t;
}

bool VerifyTable::still_checkable(uint64_t unit, const ReadTicket& t) const {
  return t.checkable && entries_[unit].epoch == t.epoch;
}

IoGenerator::IoGenerator(Workload w, uint64_t units, unsigned rwmixread, uint64_t seed)
    : workload_(w), units_(units ? units : 1), rwmixread_(std::min(rwmixread, 100u)), state_(seed) {}

uint64_t IoGenerator::rand64() {
  return splitmix64(state_);
}

IoGenerator::Next IoGenerator::next() {
  Next n{};
  if (workload_random(workload_)) {
    n.unit = rand64() % units_;
  } else {
    n.unit = cursor_;
    cursor_ = cursor_ + 1 == units_ ? 0 : cursor_ + 1;
  }
  switch (workload_) {
    case Workload::kRead:
    case Workload::kRandRead:
      n.write = false;
      break;
    case Workload::kWrite:
    case Workload::kRandWrite:
      n.write = true;
      break;
    case Workload::kRw:
    case Workload::kRandRw:
      n.write = rand64() % 100 >= rwmixread_;
      break;
  }
  return n;
}

unsigned IoSizeRange::choices() const {
  unsigned n = 1;
  for (uint64_t s = min; s < max; s <<= 1) ++n;
  return n;
}

uint32_t IoSizeRange::pick(uint64_t r) const {
  return min << static_cast<unsigned>(r % choices());
}

bool parse_io_size_range(const std::string& text, IoSizeRange* out, std::string* error) {
  auto dash = text.find('-');
  if (dash == std::string::npos) {
    *error = "expected MIN-MAX, e.g. 4096-1M";
    return false;
  }
  auto lo = parse_byte_size(text.substr(0, dash));
  auto hi = parse_byte_size(text.substr(dash + 1));
  if (!lo || !hi) {
    *error = "expected MIN-MAX byte sizes, e.g. 4096-1M";
    return false;
  }
  auto pow2 = [](uint64_t v) { return v && (v & (v - 1)) == 0; };
  if (!pow2(*lo) || !pow2(*hi) || *lo < 512 || *hi > (64u << 20) || *lo > *hi) {
    *error = "MIN and MAX must be powers of two, 512 <= MIN <= MAX <= 64M";
    return false;
  }
  out->min = static_cast<uint32_t>(*lo);
  out->max = static_cast<uint32_t>(*hi);
  return true;
}

std::string format_perf_text(const PerfResult& r) {
  char buf[512];
  std::string out;
  std::string sizes = std::to_string(r.io_size);
  if (r.io_size_max > r.io_size) {
    sizes += '-';  // not "-" + to_string(): GCC 12 -O3 reports a false -Wrestrict there
    sizes += std::to_string(r.io_size_max);
  }
  std::snprintf(buf, sizeof buf, "nvmeoe perf: %s, %s-byte I/Os, depth %u x %u queue(s), nsid %u, %.2f s\n",
                r.workload.c_str(), sizes.c_str(), r.depth, r.queues, r.nsid, r.seconds);
  out += buf;
  std::snprintf(buf, sizeof buf, "IOPS: %.2f  MiB/s: %.2f\n", r.iops(), r.mib_per_s());
  out += buf;
  std::snprintf(buf, sizeof buf, "latency (us): mean %.2f  p50 %.2f  p99 %.2f  min %.2f  max %.2f\n",
                ns_to_us(r.latency.mean()), ns_to_us(static_cast<double>(r.latency.percentile(50))),
                ns_to_us(static_cast<double>(r.latency.percentile(99))), ns_to_us(static_cast<double>(r.latency.min())),
                ns_to_us(static_cast<double>(r.latency.max())));
  out += buf;
  std::snprintf(buf, sizeof buf, "reads: %llu  writes: %llu  errors: %llu\n", static_cast<unsigned long long>(r.reads),
                static_cast<unsigned long long>(r.writes), static_cast<unsigned long long>(r.errors));
  out += buf;
  if (uint64_t ios = r.reads + r.writes; ios && r.frames_sent + r.frames_received) {
    std::snprintf(buf, sizeof buf, "frames per I/O: %.2f sent, %.2f received\n", double(r.frames_sent) / double(ios),
                  double(r.frames_received) / double(ios));
    out += buf;
  }
  if (r.digest_errors) {
    std::snprintf(buf, sizeof buf, "frames dropped for a bad digest: %llu\n",
                  static_cast<unsigned long long>(r.digest_errors));
    out += buf;
  }
  if (r.reconnects) {
    std::snprintf(buf, sizeof buf, "reconnects: %llu\n", static_cast<unsigned long long>(r.reconnects));
    out += buf;
  }
  if (r.verify) {
    std::snprintf(buf, sizeof buf, "verify: %llu blocks checked, %llu skipped, %llu mismatches\n",
                  static_cast<unsigned long long>(r.verified_blocks), static_cast<unsigned long long>(r.skipped_blocks),
                  static_cast<unsigned long long>(r.mismatches));
    out += buf;
  }
  if (!r.first_error.empty()) out += "first error: " + r.first_error + "\n";
  return out;
}

nlohmann::ordered_json perf_json(const PerfResult& r) {
  nlohmann::ordered_json j;
  j["workload"] = r.workload;
  j["io_size"] = r.io_size;
  if (r.io_size_max > r.io_size) j["io_size_max"] = r.io_size_max;
  j["queue_depth"] = r.depth;
  j["io_queues"] = r.queues;
  j["nsid"] = r.nsid;
  j["seconds"] = r.seconds;
  j["iops"] = r.iops();
  j["mib_per_s"] = r.mib_per_s();
  j["latency_us"] = {{"mean", ns_to_us(r.latency.mean())},
                     {"p50", ns_to_us(static_cast<double>(r.latency.percentile(50)))},
                     {"p99", ns_to_us(static_cast<double>(r.latency.percentile(99)))},
                     {"min", ns_to_us(static_cast<double>(r.latency.min()))},
                     {"max", ns_to_us(static_cast<double>(r.latency.max()))}};
  j["reads"] = r.reads;
  j["writes"] = r.writes;
  j["bytes"] = r.bytes;
  j["errors"] = r.errors;
  uint64_t ios = r.reads + r.writes;
  auto per_io = [ios](uint64_t n) { return ios ? double(n) / double(ios) : 0.0; };
  j["frames"] = {{"sent", r.frames_sent},
                 {"received", r.frames_received},
                 {"sent_per_io", per_io(r.frames_sent)},
                 {"received_per_io", per_io(r.frames_received)},
                 {"per_io", per_io(r.frames_sent + r.frames_received)}};
  j["digest_errors"] = r.digest_errors;
  j["reconnects"] = r.reconnects;
  if (r.verify)
    j["verify"] = {
        {"checked_blocks", r.verified_blocks}, {"skipped_blocks", r.skipped_blocks}, {"mismatches", r.mismatches}};
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

}  // namespace nvmeoe::cli
