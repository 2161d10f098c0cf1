// Tests of FaultLink over the in-memory cable: each fault kind at probability 1 and 0.1, on the
// send side and on the receive side, reproducibility by seed, delay and its wake-ups through
// wait_fd(), the blackhole switch, the match predicate and receive()'s `max`.
#include "link/fault_link.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"

namespace nvmeoe {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kEtherType = 0x88B5;
const MacAddress kMacA{{0x02, 0, 0, 0, 0, 0x0a}};
const MacAddress kMacB{{0x02, 0, 0, 0, 0, 0x0b}};
constexpr size_t kHeaders = kEthHeaderSize + 32;  // Ethernet + nvmeoe header
constexpr size_t kFrameSize = 128;
constexpr uint8_t kKindData = 5, kKindCommand = 3;

// A frame: Ethernet header, a 32-byte "nvmeoe header" with a kind byte, and a payload starting with
// the sequence number followed by a pattern derived from it.
std::vector<uint8_t> make_frame(uint32_t seq, uint8_t kind = kKindCommand) {
  std::vector<uint8_t> f(kFrameSize, 0);
  std::memcpy(f.data(), kMacB.b.data(), 6);
  std::memcpy(f.data() + 6, kMacA.b.data(), 6);
  put_be16(f.data() + 12, kEtherType);
  f[kEthHeaderSize] = 1;
  f[kEthHeaderSize + 1] = kind;
  put_le32(f.data() + kHeaders, seq);
  for (size_t i = kHeaders + 4; i < f.size(); ++i) f[i] = uint8_t(seq * 13 + i);
  return f;
}

uint32_t seq_of(const std::vector<uint8_t>& f) {
  return get_le32(f.data() + kHeaders);
}

bool readable(int fd, int timeout_ms) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

// Number of differing bits and the lowest differing byte offset of two same-sized frames.
struct Diff {
  int bits = 0;
  size_t first = SIZE_MAX;
};
Diff diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  Diff d;
  for (size_t i = 0; i < a.size(); ++i) {
    int n = std::popcount(unsigned(a[i] ^ b[i]));
    if (n && d.first == SIZE_MAX) d.first = i;
    d.bits += n;
  }
  return d;
}

// Two memory links, one wrapped in a FaultLink: the sender's (faults on send) or the receiver's
// (faults on receive), so every test runs against both paths.
class Rig {
 public:
  Rig(FaultDirection side, FaultConfig config) : side_(side) {
    MemoryLinkPair pair = make_memory_link_pair(1500, kEtherType, kMacA, kMacB);
    config.direction = side;
    if (side == FaultDirection::kTx) {
      auto r = FaultLink::create(std::move(pair.a), std::move(config));
      EXPECT_TRUE(r.is_ok());
      fault_ = std::move(r.value());
      plain_ = std::move(pair.b);
      sender_ = fault_.get();
      receiver_ = plain_.get();
    } else {
      auto r = FaultLink::create(std::move(pair.b), std::move(config));
      EXPECT_TRUE(r.is_ok());
      fault_ = std::move(r.value());
      plain_ = std::move(pair.a);
      sender_ = plain_.get();
      receiver_ = fault_.get();
    }
  }

  FaultLink& fault() { return *fault_; }
  Link& sender() { return *sender_; }
  Link& receiver() { return *receiver_; }

  // Sends frames first..first+count in batches, each split in two pieces (head and body) so the
  // send side sees real multi-piece frames.
  void send(uint32_t first, uint32_t count, uint8_t kind = kKindCommand) {
    for (uint32_t i = first; i < first + count;) {
      std::vector<std::vector<uint8_t>> frames;
      std::vector<TxFrame> tx;
      std::vector<std::array<std::span<const uint8_t>, 2>> pieces;
      for (uint32_t n = 0; n < 64 && i < first + count; ++n, ++i) frames.push_back(make_frame(i, kind));
      pieces.reserve(frames.size());
      for (const auto& f : frames) {
        std::span<const uint8_t> all(f);
        pieces.push_back({all.first(kHeaders), all.subspan(kHeaders)});
        tx.push_back(TxFrame{pieces.back().data(), 2, uint32_t(f.size())});
      }
      ASSERT_TRUE(sender_->send(tx).is_ok());
    }
  }

  // Receives until nothing has arrived for `quiet`, servicing the send side's held frames the way
  // an event loop would (wait on wait_fd(), then call receive()).
  std::vector<std::vector<uint8_t>> collect(std::chrono::milliseconds quiet = 30ms) {
    std::vector<std::vector<uint8_t>> got;
    auto last = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - last < quiet) {
      pollfd fds[2] = {{sender_->wait_fd(), POLLIN, 0}, {receiver_->wait_fd(), POLLIN, 0}};
      ::poll(fds, 2, 5);
      if (side_ == FaultDirection::kTx) sender_->receive([](std::span<const uint8_t>) {}, 64);
      size_t n = receiver_->receive([&](std::span<const uint8_t> f) { got.emplace_back(f.begin(), f.end()); }, 64);
      if (n) last = std::chrono::steady_clock::now();
    }
    return got;
  }

 private:
  FaultDirection side_;
  std::unique_ptr<FaultLink> fault_;
  std::unique_ptr<Link> plain_;
  Link* sender_ = nullptr;
  Link* receiver_ = nullptr;
};

FaultCounts counts(Rig& rig, FaultDirection side) {
  FaultCounters c = rig.fault().fault_counters();
  return side == FaultDirection::kTx ? c.tx : c.rx;
}

std::string side_name(const testing::TestParamInfo<FaultDirection>& info) {
  return info.param == FaultDirection::kTx ? "Send" : "Receive";
}

constexpr uint32_t kMany = 10000;
// Binomial(10000, 0.1): mean 1000, standard deviation 30. Seeds are fixed, so this never flakes;
// the margin only keeps the test honest about what it claims.
constexpr int kTolerance = 150;

class FaultLinkTest : public testing::TestWithParam<FaultDirection> {};

TEST_P(FaultLinkTest, NoFaultsPassEverythingInOrder) {
  Rig rig(GetParam(), FaultConfig{});
  rig.send(0, kMany);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), kMany);
  for (uint32_t i = 0; i < kMany; ++i) ASSERT_EQ(got[i], make_frame(i)) << i;
  FaultCounts c = counts(rig, GetParam());
  EXPECT_EQ(c.frames, kMany);
  EXPECT_EQ(c.dropped + c.duplicated + c.reordered + c.delayed + c.corrupted, 0u);
}

TEST_P(FaultLinkTest, DropAll) {
  FaultConfig config;
  config.drop = 1;
  Rig rig(GetParam(), config);
  rig.send(0, 1000);
  EXPECT_TRUE(rig.collect().empty());
  EXPECT_EQ(counts(rig, GetParam()).dropped, 1000u);
}

TEST_P(FaultLinkTest, DropATenth) {
  FaultConfig config;
  config.drop = 0.1;
  config.seed = 42;
  Rig rig(GetParam(), config);
  rig.send(0, kMany);
  auto got = rig.collect();
  FaultCounts c = counts(rig, GetParam());
  EXPECT_NEAR(double(c.dropped), 1000, kTolerance);
  EXPECT_EQ(got.size() + c.dropped, kMany);
  // The survivors are intact and in order.
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(seq_of(got[i - 1]), seq_of(got[i]));
  for (const auto& f : got) ASSERT_EQ(f, make_frame(seq_of(f)));
}

TEST_P(FaultLinkTest, DuplicateAll) {
  FaultConfig config;
  config.duplicate = 1;
  Rig rig(GetParam(), config);
  rig.send(0, 1000);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), 2000u);
  for (uint32_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(got[2 * i], make_frame(i));
    ASSERT_EQ(got[2 * i + 1], make_frame(i));
  }
  EXPECT_EQ(counts(rig, GetParam()).duplicated, 1000u);
}

TEST_P(FaultLinkTest, DuplicateATenth) {
  FaultConfig config;
  config.duplicate = 0.1;
  config.seed = 7;
  Rig rig(GetParam(), config);
  rig.send(0, kMany);
  auto got = rig.collect();
  FaultCounts c = counts(rig, GetParam());
  EXPECT_NEAR(double(c.duplicated), 1000, kTolerance);
  EXPECT_EQ(got.size(), kMany + c.duplicated);
  std::map<uint32_t, int> seen;
  for (const auto& f : got) ++seen[seq_of(f)];
  EXPECT_EQ(seen.size(), kMany);
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LE(seq_of(got[i - 1]), seq_of(got[i]));
}

TEST_P(FaultLinkTest, ReorderAll) {
  FaultConfig config;
  config.reorder = 1;
  Rig rig(GetParam(), config);
  rig.send(0, 1000);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), 1000u);  // the last ones leave on the reorder timeout
  std::vector<uint32_t> seqs;
  for (const auto& f : got) seqs.push_back(seq_of(f));
  EXPECT_FALSE(std::is_sorted(seqs.begin(), seqs.end()));
  std::sort(seqs.begin(), seqs.end());
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(seqs[i], i);
  EXPECT_EQ(counts(rig, GetParam()).reordered, 1000u);
}

TEST_P(FaultLinkTest, ReorderATenth) {
  FaultConfig config;
  config.reorder = 0.1;
  config.seed = 99;
  Rig rig(GetParam(), config);
  rig.send(0, kMany);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), kMany);
  FaultCounts c = counts(rig, GetParam());
  EXPECT_NEAR(double(c.reordered), 1000, kTolerance);
  // A held frame comes out after 1-3 later ones: never far from its place, and every frame once.
  std::vector<bool> seen(kMany);
  size_t late = 0;
  for (size_t pos = 0; pos < got.size(); ++pos) {
    uint32_t s = seq_of(got[pos]);
    ASSERT_FALSE(seen[s]);
    seen[s] = true;
    EXPECT_LE(std::abs(int64_t(pos) - int64_t(s)), 6) << "seq " << s << " at " << pos;
    if (pos > s) ++late;
    ASSERT_EQ(got[pos], make_frame(s));
  }
  EXPECT_GT(late, 0u);
}

TEST_P(FaultLinkTest, CorruptAllTouchesOnlyBytesFromCorruptFrom) {
  FaultConfig config;
  config.corrupt = 1;
  config.corrupt_from = kHeaders;
  Rig rig(GetParam(), config);
  rig.send(0, 1000);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), 1000u);
  for (uint32_t i = 0; i < 1000; ++i) {
    Diff d = diff(got[i], make_frame(i));
    ASSERT_GE(d.bits, 1);
    ASSERT_LE(d.bits, 3);
    ASSERT_GE(d.first, kHeaders);
  }
  EXPECT_EQ(counts(rig, GetParam()).corrupted, 1000u);
}

TEST_P(FaultLinkTest, CorruptATenthAndHeadersWhenAsked) {
  FaultConfig config;
  config.corrupt = 0.1;
  config.corrupt_from = kEthHeaderSize;
  config.seed = 5;
  Rig rig(GetParam(), config);
  rig.send(0, kMany);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), kMany);
  size_t damaged = 0, in_header = 0;
  for (uint32_t i = 0; i < kMany; ++i) {
    // The sequence number itself may be hit, so compare by position (order is kept).
    Diff d = diff(got[i], make_frame(i));
    if (d.bits == 0) continue;
    ++damaged;
    ASSERT_LE(d.bits, 3);
    ASSERT_GE(d.first, kEthHeaderSize);
    if (d.first < kHeaders) ++in_header;
  }
  FaultCounts c = counts(rig, GetParam());
  EXPECT_EQ(damaged, c.corrupted);
  EXPECT_NEAR(double(c.corrupted), 1000, kTolerance);
  EXPECT_GT(in_header, 0u);
}

TEST_P(FaultLinkTest, SameSeedSameFaultsOtherSeedOthers) {
  auto run = [&](uint64_t seed) {
    FaultConfig config;
    config.drop = 0.2;
    config.duplicate = 0.2;
    config.reorder = 0.2;
    config.corrupt = 0.2;
    config.reorder_timeout = 50ms;  // a slow machine must not change which frame overtakes which
    config.seed = seed;
    Rig rig(GetParam(), config);
    rig.send(0, 2000);
    return rig.collect(80ms);
  };
  auto first = run(1234);
  EXPECT_EQ(first, run(1234));
  EXPECT_NE(first, run(4321));
}

TEST_P(FaultLinkTest, DelayHoldsFramesAndKeepsTheirOrder) {
  FaultConfig config;
  config.delay = 30ms;
  Rig rig(GetParam(), config);
  auto start = std::chrono::steady_clock::now();
  rig.send(0, 50);
  std::this_thread::sleep_for(10ms);
  rig.send(50, 50);

  // Nothing is due yet: a receive returns nothing.
  rig.sender().receive([](std::span<const uint8_t>) {}, 64);
  std::vector<std::vector<uint8_t>> got;
  auto sink = [&](std::span<const uint8_t> f) { got.emplace_back(f.begin(), f.end()); };
  EXPECT_EQ(rig.receiver().receive(sink, 64), 0u);

  // The side holding the frames wakes its poller when the first batch is due (its inner fd is
  // quiet: only the timer can wake it).
  Link& holder = GetParam() == FaultDirection::kTx ? rig.sender() : rig.receiver();
  ASSERT_TRUE(readable(holder.wait_fd(), 2000));
  auto woke = std::chrono::steady_clock::now() - start;
  EXPECT_GE(woke, 30ms);
  got = rig.collect();
  ASSERT_EQ(got.size(), 100u);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(got[i], make_frame(i));
  EXPECT_EQ(counts(rig, GetParam()).delayed, 100u);
  // All released: the timer is disarmed and the fd quiet again.
  EXPECT_FALSE(readable(holder.wait_fd(), 50));
}

TEST_P(FaultLinkTest, BlackholeToggles) {
  Rig rig(GetParam(), FaultConfig{});
  rig.send(0, 100);
  EXPECT_EQ(rig.collect().size(), 100u);
  rig.fault().set_blackhole(true);
  rig.send(100, 100);
  EXPECT_TRUE(rig.collect().empty());
  rig.fault().set_blackhole(false);
  rig.send(200, 100);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(seq_of(got[0]), 200u);
  EXPECT_EQ(counts(rig, GetParam()).dropped, 100u);
}

TEST_P(FaultLinkTest, BlackholeSwallowsHeldFramesToo) {
  FaultConfig config;
  config.delay = 20ms;
  Rig rig(GetParam(), config);
  rig.send(0, 10);
  rig.fault().set_blackhole(true);
  EXPECT_TRUE(rig.collect(60ms).empty());
  EXPECT_EQ(counts(rig, GetParam()).dropped, 10u);
}

TEST_P(FaultLinkTest, MatchLimitsFaultsToMatchingFrames) {
  FaultConfig config;
  config.drop = 1;
  config.match = [](std::span<const uint8_t> f) {
    return f.size() > kEthHeaderSize + 1 && f[kEthHeaderSize + 1] == kKindData;
  };
  Rig rig(GetParam(), config);
  for (uint32_t i = 0; i < 100; ++i) rig.send(i, 1, i % 2 ? kKindData : kKindCommand);
  auto got = rig.collect();
  ASSERT_EQ(got.size(), 50u);
  for (const auto& f : got) EXPECT_EQ(f[kEthHeaderSize + 1], kKindCommand);
  EXPECT_EQ(counts(rig, GetParam()).dropped, 50u);

  // The predicate can be replaced at run time; blackhole ignores it.
  rig.fault().set_match(nullptr);
  rig.fault().set_drop(0);
  rig.fault().set_blackhole(true);
  rig.send(100, 10, kKindCommand);
  EXPECT_TRUE(rig.collect().empty());
}

TEST_P(FaultLinkTest, OtherDirectionIsUntouched) {
  FaultConfig config;
  config.drop = 1;
  MemoryLinkPair pair = make_memory_link_pair(1500, kEtherType, kMacA, kMacB);
  // Faults on the side this test is not about: frames through the other side pass.
  config.direction = GetParam() == FaultDirection::kTx ? FaultDirection::kRx : FaultDirection::kTx;
  auto r = FaultLink::create(std::move(pair.a), config);
  ASSERT_TRUE(r.is_ok());
  FaultLink& a = **r;
  std::vector<uint8_t> f = make_frame(1);
  std::span<const uint8_t> piece(f);
  TxFrame tx{&piece, 1, uint32_t(f.size())};
  if (GetParam() == FaultDirection::kTx) {
    ASSERT_TRUE(a.send({&tx, 1}).is_ok());
    EXPECT_EQ(pair.b->receive([](std::span<const uint8_t>) {}, 8), 1u);
  } else {
    ASSERT_TRUE(pair.b->send({&tx, 1}).is_ok());
    EXPECT_EQ(a.receive([](std::span<const uint8_t>) {}, 8), 1u);
  }
  FaultCounters c = a.fault_counters();
  EXPECT_EQ(c.tx.dropped + c.rx.dropped, 0u);
}

INSTANTIATE_TEST_SUITE_P(FaultLink, FaultLinkTest, testing::Values(FaultDirection::kTx, FaultDirection::kRx),
                         side_name);

TEST(FaultLinkReceiveTest, MaxIsRespectedAndTheRestWaitsReadable) {
  MemoryLinkPair pair = make_memory_link_pair(1500, kEtherType, kMacA, kMacB);
  FaultConfig config;
  config.duplicate = 1;
  config.direction = FaultDirection::kRx;
  auto r = FaultLink::create(std::move(pair.b), config);
  ASSERT_TRUE(r.is_ok());
  FaultLink& b = **r;
  std::vector<std::vector<uint8_t>> frames;
  TxFrameList tx;
  for (uint32_t i = 0; i < 5; ++i) frames.push_back(make_frame(i));
  for (const auto& f : frames) tx.add(f);
  ASSERT_TRUE(pair.a->send(tx.frames()).is_ok());

  std::vector<uint32_t> seqs;
  auto sink = [&](std::span<const uint8_t> f) { seqs.push_back(get_le32(f.data() + kHeaders)); };
  for (int call = 0; call < 10; ++call) {
    ASSERT_TRUE(readable(b.wait_fd(), 1000)) << "call " << call;
    ASSERT_EQ(b.receive(sink, 1), 1u);
  }
  EXPECT_EQ(seqs, (std::vector<uint32_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(b.receive(sink, 1), 0u);
  EXPECT_FALSE(readable(b.wait_fd(), 20));
}

TEST(FaultLinkReceiveTest, SinkMaySendOnTheSameLink) {
  // The receive callback runs without the send side's lock: an echo server works.
  MemoryLinkPair pair = make_memory_link_pair(1500, kEtherType, kMacA, kMacB);
  FaultConfig config;
  config.duplicate = 1;
  auto r = FaultLink::create(std::move(pair.b), config);
  ASSERT_TRUE(r.is_ok());
  FaultLink& b = **r;
  std::vector<uint8_t> f = make_frame(3);
  std::span<const uint8_t> piece(f);
  TxFrame tx{&piece, 1, uint32_t(f.size())};
  ASSERT_TRUE(pair.a->send({&tx, 1}).is_ok());
  size_t n = b.receive(
      [&](std::span<const uint8_t> frame) {
        TxFrame echo{&frame, 1, uint32_t(frame.size())};
        EXPECT_TRUE(b.send({&echo, 1}).is_ok());
      },
      8);
  EXPECT_EQ(n, 2u);
  // Two received copies, each sent twice.
  EXPECT_EQ(pair.a->receive([](std::span<const uint8_t>) {}, 8), 4u);
}

TEST(FaultLinkReceiveTest, ConfigChangesFromAnotherThread) {
  MemoryLinkPair pair = make_memory_link_pair(1500, kEtherType, kMacA, kMacB);
  auto r = FaultLink::create(std::move(pair.b), FaultConfig{});
  ASSERT_TRUE(r.is_ok());
  FaultLink& b = **r;
  std::atomic<bool> stop{false};
  std::thread toggler([&] {
    for (int i = 0; !stop; ++i) {
      b.set_blackhole(i % 2);
      b.set_drop(i % 3 ? 0.5 : 0);
      std::this_thread::yield();
    }
  });
  std::vector<uint8_t> f = make_frame(0);
  std::span<const uint8_t> piece(f);
  TxFrame tx{&piece, 1, uint32_t(f.size())};
  uint64_t received = 0;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(pair.a->send({&tx, 1}).is_ok());
    received += b.receive([](std::span<const uint8_t>) {}, 8);
  }
  stop = true;
  toggler.join();
  FaultCounters c = b.fault_counters();
  EXPECT_EQ(c.rx.frames, 20000u);
  EXPECT_EQ(received + c.rx.dropped, 20000u);
}

}  // namespace
}  // namespace nvmeoe
