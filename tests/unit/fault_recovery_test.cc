// Recovery under a bad network, host and target in one process: loss, duplication, reordering and
// corruption from FaultLink, a dead link for a while, a target that restarts, and replayed frames.
// Every test checks data, not just status: nothing acknowledged may be lost or corrupted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <span>
#include <thread>

#include "backend/backend.h"
#include "borrowed_link.h"
#include "common/clock.h"
#include "link/fault_link.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 1, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 1, 0x02}};
constexpr const char* kNqn = "nqn.2026-11.io.nvmeoe:faults";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-666666666666";
constexpr uint64_t kDiskBytes = 64ull << 20;

// Records every frame the host sends, and can send raw frames of its own (replays).
class TapLink final : public Link {
 public:
  explicit TapLink(std::unique_ptr<Link> inner) : inner_(std::move(inner)) {}
  MacAddress local_mac() const override { return inner_->local_mac(); }
  uint32_t mtu() const override { return inner_->mtu(); }
  uint16_t ethertype() const override { return inner_->ethertype(); }
  std::string name() const override { return inner_->name(); }
  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override {
    return inner_->receive(sink, max);
  }
  Status send(std::span<const TxFrame> frames) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (recording_)
        for (const auto& f : frames) {
          std::vector<uint8_t> bytes;
          for (const auto& piece : f.parts()) bytes.insert(bytes.end(), piece.begin(), piece.end());
          sent_.push_back(std::move(bytes));
        }
    }
    return inner_->send(frames);
  }
  int wait_fd() const override { return inner_->wait_fd(); }
  Counters counters() const override { return inner_->counters(); }

  void record(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    recording_ = on;
  }
  std::vector<std::vector<uint8_t>> take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(sent_);
  }
  void inject(const std::vector<uint8_t>& frame) {
    TxFrameList one;
    one.add(frame);
    EXPECT_TRUE(inner_->send(one.frames()).is_ok());
  }

 private:
  std::unique_ptr<Link> inner_;
  std::mutex mu_;
  bool recording_ = false;
  std::vector<std::vector<uint8_t>> sent_;
};

class Rig {
 public:
  explicit Rig(FaultConfig faults, uint32_t mtu = 1500) {
    char tmpl[] = "/tmp/nvmeoe-fault-XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, kDiskBytes), 0);
    close(fd);
    path_ = tmpl;
    auto pair = make_memory_link_pair(mtu, kDefaultEtherType, kHostMac, kTargetMac);
    target_end_ = std::move(pair.b);
    auto fl = FaultLink::create(std::move(pair.a), std::move(faults));
    EXPECT_TRUE(fl.is_ok());
    fault_ = fl.value().get();
    auto tap = std::make_unique<TapLink>(std::move(fl.value()));
    tap_ = tap.get();
    host_link_ = std::move(tap);
    start_target();
  }
  ~Rig() {
    host_.reset();
    stop_target(true);
    unlink(path_.c_str());
  }

  void start_target() {
    core_ = std::make_unique<TargetCore>();
    auto sub = std::make_unique<Subsystem>();
    sub->nqn = kNqn;
    auto ns = std::make_unique<Namespace>();
    ns->nsid = 1;
    auto be = open_backend(path_, false);
    EXPECT_TRUE(be.is_ok()) << be.status().message();
    ns->backend = std::move(be.value());
    sub->namespaces.push_back(std::move(ns));
    EXPECT_TRUE(core_->add_subsystem(std::move(sub)).is_ok());
    target_ = std::make_unique<TargetTransport>(core_.get(), std::make_unique<test::BorrowedLink>(target_end_.get()));
    target_thread_ = std::thread([this] { target_->run(); });
  }
  // `quietly`: the target's goodbye frames are lost, as when its process is killed.
  void stop_target(bool orderly) {
    if (!target_) return;
    if (!orderly) fault_->set_blackhole(true);
    target_->request_stop();
    target_thread_.join();
    target_.reset();
    core_.reset();
    if (!orderly) {
      // Drain what the dead target sent so it never reaches the host.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      fault_->set_blackhole(false);
    }
  }

  HostController& connect(ConnectOptions o = {}) {
    o.target_mac = kTargetMac.str();
    o.subnqn = kNqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = 2;
    o.queue_size = 32;
    o.data_digest = true;
    o.retransmit_timeout = std::chrono::milliseconds(20);
    o.reconnect_delay = std::chrono::milliseconds(100);
    o.ctrl_loss_tmo = std::chrono::milliseconds(20000);
    o.kato_ms = 2000;
    auto h = HostController::connect(std::move(host_link_), o);
    EXPECT_TRUE(h.is_ok()) << h.status().message();
    host_ = std::move(h.value());
    return *host_;
  }

  std::vector<uint8_t> backing(uint64_t offset, size_t n) const {
    std::vector<uint8_t> out(n);
    std::ifstream in(path_, std::ios::binary);
    in.seekg(std::streamoff(offset));
    in.read(reinterpret_cast<char*>(out.data()), std::streamsize(n));
    return out;
  }

  FaultLink* fault_ = nullptr;
  TapLink* tap_ = nullptr;
  std::unique_ptr<HostController> host_;
  const TargetTransport& target() const { return *target_; }

 private:
  std::string path_;
  std::unique_ptr<Link> target_end_, host_link_;
  std::unique_ptr<TargetCore> core_;
  std::unique_ptr<TargetTransport> target_;
  std::thread target_thread_;
};

// Rounds of concurrent writes to distinct extents (4 KiB to 1 MiB), then concurrent reads of them,
// each compared with what was written. Returns the number of failed commands and mismatches.
struct WorkloadResult {
  int errors = 0, mismatches = 0;
  uint64_t bytes = 0;
};

WorkloadResult run_workload(HostController& h, int rounds, int per_round, uint32_t seed) {
  WorkloadResult res;
  std::mt19937 rng(seed);
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::vector<uint8_t>> data(per_round), back(per_round);
    std::vector<uint64_t> lba(per_round);
    uint64_t extent = kDiskBytes / per_round / 512;  // blocks per I/O's private extent
    for (int i = 0; i < per_round; ++i) {
      uint32_t blocks = 8u << (rng() % 9);  // 4 KiB .. 1 MiB
      blocks = std::min<uint32_t>(blocks, uint32_t(extent));
      data[i].resize(blocks * 512);
      for (auto& b : data[i]) b = uint8_t(rng());
      back[i].assign(data[i].size(), 0);
      lba[i] = uint64_t(i) * extent + rng() % (extent - blocks + 1);
    }
    std::atomic<int> done{0}, errors{0};
    for (int i = 0; i < per_round; ++i)
      h.write(1, lba[i], uint32_t(data[i].size() / 512), data[i].data(), [&](const Completion& r) {
        if (!r.ok()) ++errors;
        ++done;
      });
    while (done.load() < per_round) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    done = 0;
    for (int i = 0; i < per_round; ++i)
      h.read(1, lba[i], uint32_t(back[i].size() / 512), back[i].data(), [&](const Completion& r) {
        if (!r.ok()) ++errors;
        ++done;
      });
    while (done.load() < per_round) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    res.errors += errors.load();
    for (int i = 0; i < per_round; ++i) {
      if (data[i] != back[i]) ++res.mismatches;
      res.bytes += 2 * data[i].size();
    }
  }
  return res;
}

uint64_t total(const std::vector<QueueStats>& st, uint64_t QueueStats::*field) {
  uint64_t n = 0;
  for (const auto& q : st) n += q.*field;
  return n;
}

TEST(FaultRecovery, OnePercentLossDuplicationReorderingAndCorruption) {
  FaultConfig f;
  f.drop = 0.01;
  f.duplicate = 0.01;
  f.reorder = 0.01;
  f.corrupt = 0.001;
  f.seed = 11;
  Rig rig(f);
  HostController& h = rig.connect();
  auto res = run_workload(h, 6, 24, 1);
  EXPECT_EQ(res.errors, 0);
  EXPECT_EQ(res.mismatches, 0);
  auto counts = rig.fault_->fault_counters();
  EXPECT_GT(counts.tx.dropped + counts.rx.dropped, 0u);
  EXPECT_GT(total(h.stats(), &QueueStats::retransmits), 0u);
}

TEST(FaultRecovery, TenPercentLoss) {
  FaultConfig f;
  f.drop = 0.10;
  f.seed = 12;
  Rig rig(f);
  HostController& h = rig.connect();
  auto res = run_workload(h, 3, 12, 2);
  EXPECT_EQ(res.errors, 0);
  EXPECT_EQ(res.mismatches, 0);
}

// Under loss, both ends count every command and byte exactly once, and show the recovery.
TEST(FaultRecovery, StatsCountExactlyOnceUnderLoss) {
  FaultConfig f;
  f.drop = 0.10;
  f.seed = 13;
  Rig rig(f);
  HostController& h = rig.connect();
  auto res = run_workload(h, 3, 12, 3);
  EXPECT_EQ(res.errors, 0);
  EXPECT_EQ(res.mismatches, 0);
  uint64_t host_reads = 0, host_writes = 0, host_in = 0, host_out = 0, host_retx = 0, host_cmds = 0, host_lat = 0;
  for (const auto& q : h.stats()) {
    if (q.qid == 0) continue;
    host_reads += q.reads;
    host_writes += q.writes;
    host_in += q.bytes_read;
    host_out += q.bytes_written;
    host_retx += q.retransmits;
    host_cmds += q.commands;
    host_lat += q.latency_count;
    EXPECT_LE(q.latency_p50_us, q.latency_p99_us);
  }
  EXPECT_EQ(host_reads, 36u);
  EXPECT_EQ(host_writes, 36u);
  EXPECT_EQ(host_in, res.bytes / 2);
  EXPECT_EQ(host_out, res.bytes / 2 + 2 * 1024);  // plus the two I/O queues' Connect data
  EXPECT_EQ(host_lat, host_cmds);                 // every command completed once
  EXPECT_GT(host_retx, 0u);
  auto snap = rig.target().snapshot();
  ASSERT_TRUE(snap) << snap.status().message();
  uint64_t t_reads = 0, t_writes = 0, t_in = 0, t_out = 0, t_rr = 0, t_dup = 0;
  for (const auto& q : snap->queues) {
    if (q.qid == 0) continue;
    t_reads += q.counters.reads;
    t_writes += q.counters.writes;
    t_in += q.counters.bytes_in;
    t_out += q.counters.bytes_out;
    t_rr += q.counters.retransmit_requests;
    t_dup += q.counters.duplicates;
  }
  EXPECT_EQ(t_reads, 36u);  // a retransmitted command is a duplicate, not a new command
  EXPECT_EQ(t_writes, 36u);
  EXPECT_EQ(t_in, host_out);  // executed once each
  EXPECT_EQ(t_out, host_in);
  EXPECT_GT(t_rr, 0u);   // holes in writes were asked for
  EXPECT_GT(t_dup, 0u);  // lost responses: the command came again and was answered from the cache
}

// Whether a frame holds more than one segment, or a Data segment with SUCCESS (frame bytes from
// the destination MAC on, as FaultConfig::match sees them). Lengths are bounded by the frame.
bool packed(std::span<const uint8_t> fr) {
  return fr.size() > kEthHeaderSize + hdr::kCount && fr[kEthHeaderSize + hdr::kCount] > 1;
}
bool has_success_segment(std::span<const uint8_t> fr) {
  if (fr.size() < kEthHeaderSize + kFrameHeaderSize) return false;
  size_t count = fr[kEthHeaderSize + hdr::kCount], at = kEthHeaderSize + kFrameHeaderSize;
  for (size_t i = 0; i < count && at + kSegmentHeaderSize <= fr.size(); ++i) {
    if (fr[at + seg::kKind] == uint8_t(FrameKind::kData) && (fr[at + seg::kFlags] & seg_flag::kSuccess)) return true;
    at += kSegmentHeaderSize + (fr[at + seg::kMetaLen] | (fr[at + seg::kMetaLen + 1] << 8));
  }
  return false;
}

// Concurrent 4 KiB writes then reads (many commands and completions per loop turn, so frames are
// packed), each checked against what was written.
WorkloadResult run_small_io(HostController& h, int rounds, int per_round, uint32_t seed) {
  WorkloadResult res;
  std::mt19937 rng(seed);
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::vector<uint8_t>> data(per_round, std::vector<uint8_t>(4096)), back(per_round);
    for (auto& d : data)
      for (auto& b : d) b = uint8_t(rng());
    std::atomic<int> done{0}, errors{0};
    auto lba = [&](int i) { return uint64_t(round) * 4096 + uint64_t(i) * 8; };
    for (int i = 0; i < per_round; ++i)
      h.write(1, lba(i), 8, data[i].data(), [&](const Completion& r) {
        if (!r.ok()) ++errors;
        ++done;
      });
    while (done.load() < per_round) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    done = 0;
    for (int i = 0; i < per_round; ++i) {
      back[i].assign(4096, 0);
      h.read(1, lba(i), 8, back[i].data(), [&](const Completion& r) {
        if (!r.ok()) ++errors;
        ++done;
      });
    }
    while (done.load() < per_round) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    res.errors += errors.load();
    for (int i = 0; i < per_round; ++i) res.mismatches += data[i] != back[i];
    res.bytes += 2 * 4096 * uint64_t(per_round);
  }
  return res;
}

TEST(FaultRecovery, LostPackedFramesAreRecoveredCommandByCommand) {
  // One in ten of the frames that carry several segments vanishes, both ways: several commands, or
  // several completions, or the data of several reads at once. Each command recovers on its own.
  FaultConfig f;
  f.match = packed;
  f.drop = 0.1;
  f.seed = 5;
  Rig rig(f);
  HostController& h = rig.connect();
  auto res = run_small_io(h, 8, 48, 2);
  EXPECT_EQ(res.errors, 0);
  EXPECT_EQ(res.mismatches, 0);
  auto c = rig.fault_->fault_counters();
  EXPECT_GT(c.tx.dropped, 0u) << "no packed host frame was lost: the test did not pack";
  EXPECT_GT(c.rx.dropped, 0u) << "no packed target frame was lost: the test did not pack";
  EXPECT_GT(total(h.stats(), &QueueStats::retransmits), 0u);
  EXPECT_EQ(h.reconnects(), 0u);
}

TEST(FaultRecovery, LostSuccessSegmentsAreRecovered) {
  // Half the frames that complete a read by SUCCESS never arrive: the host asks for the missing
  // data (or, with all data there, for the result) and gets it with a Response.
  FaultConfig f;
  f.direction = FaultDirection::kRx;  // target to host
  f.match = has_success_segment;
  f.drop = 0.5;
  f.seed = 6;
  Rig rig(f);
  HostController& h = rig.connect();
  auto res = run_small_io(h, 4, 32, 3);
  EXPECT_EQ(res.errors, 0);
  EXPECT_EQ(res.mismatches, 0);
  EXPECT_GT(rig.fault_->fault_counters().rx.dropped, 0u);
  EXPECT_GT(total(h.stats(), &QueueStats::retransmits), 0u);
}

TEST(FaultRecovery, CorruptionAnywhereIsDroppedByDefault) {
  // With the defaults (header CRC always, data digest negotiated), bits flipped anywhere in a
  // frame, Ethernet header included, are never applied: no error, no mismatch, and both ends
  // counted what they dropped.
  FaultConfig f;
  f.corrupt = 0.03;
  f.corrupt_from = 0;
  f.seed = 7;
  Rig rig(f);
  HostController& h = rig.connect();
  auto res = run_small_io(h, 6, 32, 4);
  auto big = run_workload(h, 2, 12, 5);
  EXPECT_EQ(res.errors + big.errors, 0);
  EXPECT_EQ(res.mismatches + big.mismatches, 0);
  auto c = rig.fault_->fault_counters();
  EXPECT_GT(c.tx.corrupted, 0u);
  EXPECT_GT(c.rx.corrupted, 0u);
  EXPECT_GT(h.frame_counters().digest_errors, 0u);
  EXPECT_GT(rig.target().stats().digest_errors, 0u);
}

TEST(FaultRecovery, CorruptedWriteDataIsNeverApplied) {
  FaultConfig f;
  f.direction = FaultDirection::kTx;  // host to target
  // Frames whose first segment is Data: the bulk of a write (corruption may hit any byte of them).
  f.match = [](std::span<const uint8_t> fr) {
    return fr.size() > kEthHeaderSize + kFrameHeaderSize + kSegmentHeaderSize &&
           fr[kEthHeaderSize + kFrameHeaderSize + seg::kKind] == uint8_t(FrameKind::kData);
  };
  f.seed = 13;
  Rig rig(f);
  HostController& h = rig.connect();
  rig.fault_->set_corrupt(0.3);
  std::vector<uint8_t> data(256 * 1024);
  std::mt19937 rng(3);
  for (int round = 0; round < 8; ++round) {
    for (auto& b : data) b = uint8_t(rng());
    uint64_t lba = 2048 + uint64_t(round) * 1024;
    ASSERT_TRUE(h.write_sync(1, lba, uint32_t(data.size() / 512), data.data()).ok());
    EXPECT_EQ(rig.backing(lba * 512, data.size()), data) << "round " << round;
  }
  EXPECT_GT(rig.fault_->fault_counters().tx.corrupted, 0u);
}

TEST(FaultRecovery, ReplayedOldWriteDoesNotOverwriteNewerData) {
  Rig rig(FaultConfig{});
  HostController& h = rig.connect();
  std::vector<uint8_t> old_data(8192, 0xaa), new_data(8192, 0x55), back(8192);
  rig.tap_->record(true);
  ASSERT_TRUE(h.write_sync(1, 100, 16, old_data.data()).ok());
  rig.tap_->record(false);
  auto captured = rig.tap_->take();
  ASSERT_FALSE(captured.empty());
  // The newer write goes to the same LBA, through every CID of the queues, so the replayed
  // command meets its slot both untouched (same generation) and reused (newer generation).
  for (int i = 0; i < 70; ++i) ASSERT_TRUE(h.write_sync(1, 100, 16, new_data.data()).ok());
  for (const auto& fr : captured) rig.tap_->inject(fr);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(h.read_sync(1, 100, 16, back.data()).ok());
  EXPECT_EQ(back, new_data);
  EXPECT_EQ(rig.backing(100 * 512, 8192), new_data);
}

TEST(FaultRecovery, LinkDownForAWhileThenBack) {
  Rig rig(FaultConfig{});
  HostController& h = rig.connect();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread io([&] {
    auto res = run_workload(h, 4, 16, 5);
    bad = res.errors + res.mismatches;
    stop = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  rig.fault_->set_blackhole(true);
  // Longer than KATO (2 s) without a frame: the target drops us. The protocol's clock jumps
  // instead of the test sleeping (common/clock.h); the loops then meet the new time.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  SteadyClock::advance(std::chrono::seconds(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rig.fault_->set_blackhole(false);
  io.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_TRUE(h.connected());
}

TEST(FaultRecovery, TargetRestartMidWorkload) {
  Rig rig(FaultConfig{});
  HostController& h = rig.connect();
  std::atomic<int> bad{0};
  std::thread io([&] {
    auto res = run_workload(h, 6, 16, 6);
    bad = res.errors + res.mismatches;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  rig.stop_target(false);  // killed: no goodbye
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rig.start_target();
  io.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GE(h.reconnects(), 1u);
  // Flushed data is on the backing file.
  std::vector<uint8_t> data(4096, 0x3c);
  ASSERT_TRUE(h.write_sync(1, 7, 8, data.data()).ok());
  ASSERT_TRUE(h.flush_sync(1).ok());
  EXPECT_EQ(rig.backing(7 * 512, 4096), data);
}

}  // namespace
}  // namespace nvmeoe
