// Host library and target in one process over the in-memory link: the whole protocol without a
// network (the nvme-loop idea). The same behaviours are checked again across veth by tests/e2e.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>

#include "backend/backend.h"
#include "link/link.h"
#include "nvme/identify.h"
#include "nvmeoe/host.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr const char* kNqn = "nqn.2026-11.io.nvmeoe:loop";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";

struct Loop {
  std::unique_ptr<TargetCore> core;
  std::unique_ptr<TargetTransport> target;
  std::thread target_thread;
  std::unique_ptr<Link> host_link;

  explicit Loop(uint32_t mtu = 1500, std::vector<std::string> allowed = {}, TargetOptions target_options = {}) {
    auto pair = make_memory_link_pair(mtu, kDefaultEtherType, kHostMac, kTargetMac);
    host_link = std::move(pair.a);
    core = std::make_unique<TargetCore>();
    auto sub = std::make_unique<Subsystem>();
    sub->nqn = kNqn;
    for (uint32_t i = 0; i < 2; ++i) {
      auto ns = std::make_unique<Namespace>();
      ns->nsid = i + 1;
      auto be = open_backend(i == 0 ? "mem:64M" : "mem:20G", false);
      EXPECT_TRUE(be.is_ok());
      ns->backend = std::move(be.value());
      sub->namespaces.push_back(std::move(ns));
    }
    for (auto& h : allowed) sub->allowed_hosts.insert(h);
    sub->allow_any_host = allowed.empty();
    EXPECT_TRUE(core->add_subsystem(std::move(sub)).is_ok());
    target = std::make_unique<TargetTransport>(core.get(), std::move(pair.b), target_options);
    target_thread = std::thread([this] { EXPECT_TRUE(target->run().is_ok()); });
  }
  ~Loop() {
    target->request_stop();
    target_thread.join();
  }
  ConnectOptions options(uint16_t queues = 2) const {
    ConnectOptions o;
    o.target_mac = kTargetMac.str();
    o.subnqn = kNqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = queues;
    o.queue_size = 64;
    o.connect_timeout = std::chrono::milliseconds(2000);
    return o;
  }
  Result<std::unique_ptr<HostController>> connect(const ConnectOptions& o) {
    return HostController::connect(std::move(host_link), o);
  }
};

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

TEST(Loopback, ConnectIdentifiesControllerAndNamespaces) {
  Loop loop;
  auto host = loop.connect(loop.options());
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  auto& h = *host.value();
  EXPECT_EQ(h.controller().model, "nvmeoe");
  EXPECT_EQ(h.controller().subnqn, kNqn);
  EXPECT_EQ(h.controller().serial, serial_from_nqn(kNqn));
  EXPECT_EQ(h.controller().firmware, NVMEOE_VERSION);
  EXPECT_EQ(h.io_queue_count(), 2);
  ASSERT_EQ(h.namespaces().size(), 2u);
  EXPECT_EQ(h.namespaces()[0].blocks, (64ull << 20) / 512);
  EXPECT_EQ(h.namespaces()[1].blocks, (20ull << 30) / 512);
  EXPECT_EQ(h.namespaces()[1].block_size, 512u);
  EXPECT_GE(h.controller().max_transfer, 128u * 1024);
  h.disconnect();
  EXPECT_FALSE(h.alive());
}

class LoopbackMtu : public ::testing::TestWithParam<uint32_t> {};

TEST_P(LoopbackMtu, WriteReadVerifyAllSizes) {
  Loop loop(GetParam());
  auto host = loop.connect(loop.options());
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  auto& h = *host.value();
  uint64_t lba = 8;
  for (uint32_t bytes : {512u, 4096u, 128u * 1024, 1024u * 1024}) {
    auto data = random_bytes(bytes, bytes);
    auto back = std::vector<uint8_t>(bytes, 0xee);
    ASSERT_TRUE(h.write_sync(1, lba, bytes / 512, data.data()).ok()) << bytes;
    Completion r = h.read_sync(1, lba, bytes / 512, back.data());
    ASSERT_TRUE(r.ok()) << status_name(r.status);
    EXPECT_EQ(data, back) << bytes;
    lba += bytes / 512 + 3;
  }
  EXPECT_TRUE(h.flush_sync(1).ok());
}

INSTANTIATE_TEST_SUITE_P(Mtus, LoopbackMtu, ::testing::Values(1500u, 9000u));

TEST(Loopback, ManyConcurrentCommandsOnTwoQueues) {
  Loop loop;
  auto host = loop.connect(loop.options(2));
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  auto& h = *host.value();
  constexpr int kIos = 400;  // more than both queues hold: exercises the wait list
  std::vector<std::vector<uint8_t>> bufs;
  for (int i = 0; i < kIos; ++i) bufs.push_back(random_bytes(8192, 1000 + i));
  std::atomic<int> done{0}, failed{0};
  for (int i = 0; i < kIos; ++i)
    h.write(
        1, uint64_t(i) * 16, 16, bufs[i].data(),
        [&](const Completion& r) {
          if (!r.ok()) ++failed;
          ++done;
        },
        uint16_t(1 + i % 2));
  while (done.load() < kIos) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(failed.load(), 0);
  std::vector<uint8_t> back(8192);
  for (int i = 0; i < kIos; i += 37) {
    ASSERT_TRUE(h.read_sync(1, uint64_t(i) * 16, 16, back.data()).ok());
    EXPECT_EQ(back, bufs[i]);
  }
  auto stats = h.stats();
  ASSERT_EQ(stats.size(), 3u);
}

// Busy polling on both ends (--poll-us): commands posted from other threads while the host loop
// spins still go out, every completion arrives once, and the data is right.
TEST(Loopback, BusyPollingBothEndsLosesNothing) {
  TargetOptions to;
  to.poll_us = 200;
  Loop loop(1500, {}, to);
  ConnectOptions o = loop.options(2);
  o.poll_us = 200;
  auto host = loop.connect(o);
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  auto& h = *host.value();
  constexpr int kIos = 300;
  std::vector<std::vector<uint8_t>> bufs;
  for (int i = 0; i < kIos; ++i) bufs.push_back(random_bytes(4096, 7000 + i));
  std::atomic<int> done{0}, failed{0};
  std::thread other([&] {
    for (int i = kIos / 2; i < kIos; ++i)
      h.write(
          1, uint64_t(i) * 8, 8, bufs[i].data(),
          [&](const Completion& r) {
            if (!r.ok()) ++failed;
            ++done;
          },
          2);
  });
  for (int i = 0; i < kIos / 2; ++i)
    h.write(
        1, uint64_t(i) * 8, 8, bufs[i].data(),
        [&](const Completion& r) {
          if (!r.ok()) ++failed;
          ++done;
        },
        1);
  other.join();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done.load() < kIos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(done.load(), kIos);
  EXPECT_EQ(failed.load(), 0);
  std::vector<uint8_t> back(4096);
  for (int i = 0; i < kIos; ++i) {  // one at a time: the poll starts and ends with each command
    ASSERT_TRUE(h.read_sync(1, uint64_t(i) * 8, 8, back.data()).ok()) << i;
    ASSERT_EQ(back, bufs[i]) << i;
  }
  uint64_t reads = 0, writes = 0, in_flight = 0;
  for (const auto& q : h.stats()) {
    reads += q.reads;
    writes += q.writes;
    in_flight += q.in_flight;
  }
  EXPECT_EQ(writes, uint64_t(kIos));
  EXPECT_EQ(reads, uint64_t(kIos));
  EXPECT_EQ(in_flight, 0u);
}

// The target's send thread (--tx-thread): large reads and writes on two queues at once, with the
// batches going out from the second thread; every byte must come back as written.
TEST(Loopback, SendThreadKeepsDataIntact) {
  TargetOptions to;
  to.tx_thread = true;
  to.tx_thread_min_frames = 2;  // nearly every batch goes through the thread
  Loop loop(1500, {}, to);
  auto host = loop.connect(loop.options(2));
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  auto& h = *host.value();
  constexpr int kIos = 64;
  constexpr uint32_t kBytes = 128 * 1024;
  std::vector<std::vector<uint8_t>> bufs;
  for (int i = 0; i < kIos; ++i) bufs.push_back(random_bytes(kBytes, 9100 + i));
  std::atomic<int> done{0}, failed{0};
  for (int i = 0; i < kIos; ++i)
    h.write(
        1, uint64_t(i) * (kBytes / 512), kBytes / 512, bufs[i].data(),
        [&](const Completion& r) {
          if (!r.ok()) ++failed;
          ++done;
        },
        uint16_t(1 + i % 2));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done.load() < kIos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(done.load(), kIos);
  EXPECT_EQ(failed.load(), 0);
  std::vector<std::vector<uint8_t>> back(kIos, std::vector<uint8_t>(kBytes, 0xee));
  done = 0;
  for (int i = 0; i < kIos; ++i)
    h.read(
        1, uint64_t(i) * (kBytes / 512), kBytes / 512, back[i].data(),
        [&](const Completion& r) {
          if (!r.ok()) ++failed;
          ++done;
        },
        uint16_t(1 + i % 2));
  while (done.load() < kIos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(done.load(), kIos);
  EXPECT_EQ(failed.load(), 0);
  for (int i = 0; i < kIos; ++i) EXPECT_EQ(back[i], bufs[i]) << i;
}

TEST(Loopback, WriteZeroesAndDeallocateReadBackZeroes) {
  Loop loop;
  auto host = loop.connect(loop.options(1));
  ASSERT_TRUE(host.is_ok());
  auto& h = *host.value();
  auto data = random_bytes(65536, 7);
  std::vector<uint8_t> back(65536), zero(65536, 0);
  ASSERT_TRUE(h.write_sync(1, 0, 128, data.data()).ok());
  ASSERT_TRUE(h.write_sync(1, 1000, 128, data.data()).ok());
  ASSERT_TRUE(h.write_zeroes_sync(1, 0, 128).ok());
  ASSERT_TRUE(h.read_sync(1, 0, 128, back.data()).ok());
  EXPECT_EQ(back, zero);
  ASSERT_TRUE(h.deallocate_sync(1, {{1000, 128}}).ok());
  ASSERT_TRUE(h.read_sync(1, 1000, 128, back.data()).ok());
  EXPECT_EQ(back, zero);
}

TEST(Loopback, OutOfRangeAndBadNamespaceGetNvmeStatus) {
  Loop loop;
  auto host = loop.connect(loop.options(1));
  ASSERT_TRUE(host.is_ok());
  auto& h = *host.value();
  std::vector<uint8_t> buf(4096);
  uint64_t blocks = h.namespaces()[0].blocks;
  Completion r = h.read_sync(1, blocks - 4, 8, buf.data());
  EXPECT_EQ(r.status & 0x7ff, sc::kLbaOutOfRange);
  r = h.read_sync(9, 0, 8, buf.data());
  EXPECT_EQ(r.status & 0x7ff, sc::kInvalidNamespace);
  // Unknown admin opcode.
  Sqe s;
  s.opcode = 0xc3;
  uint8_t raw[kSqeSize];
  encode_sqe(s, raw);
  r = h.admin_sync(raw, {});
  EXPECT_EQ(r.status & 0x7ff, sc::kInvalidOpcode);
}

TEST(Loopback, AllowListRefusesOtherHost) {
  Loop loop(1500, {"nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"});
  auto host = loop.connect(loop.options(1));
  ASSERT_FALSE(host.is_ok());
  EXPECT_NE(host.status().message().find("Connect Invalid Host"), std::string::npos) << host.status().message();
}

TEST(Loopback, WrongSubsystemNqnIsRefused) {
  Loop loop;
  auto o = loop.options(1);
  o.subnqn = "nqn.2026-11.io.nvmeoe:nope";
  auto host = loop.connect(o);
  ASSERT_FALSE(host.is_ok());
  EXPECT_NE(host.status().message().find("no subsystem"), std::string::npos) << host.status().message();
}

TEST(Loopback, DigestsNegotiatedAndUsed) {
  Loop loop;
  auto o = loop.options(1);
  o.data_digest = true;
  auto host = loop.connect(o);
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  auto& h = *host.value();
  auto data = random_bytes(256 * 1024, 3);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(h.write_sync(2, 12345, 512, data.data()).ok());
  ASSERT_TRUE(h.read_sync(2, 12345, 512, back.data()).ok());
  EXPECT_EQ(data, back);
}

TEST(Loopback, UnreachableTargetGivesUpWithinTimeout) {
  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);  // nobody serves b
  ConnectOptions o;
  o.target_mac = kTargetMac.str();
  o.subnqn = kNqn;
  o.hostnqn = kHostNqn;
  o.connect_timeout = std::chrono::milliseconds(600);
  auto t0 = std::chrono::steady_clock::now();
  auto host = HostController::connect(std::move(pair.a), o);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(host.is_ok());
  EXPECT_NE(host.status().message().find("no answer"), std::string::npos) << host.status().message();
  EXPECT_LT(took, std::chrono::seconds(3));
}

}  // namespace
}  // namespace nvmeoe
