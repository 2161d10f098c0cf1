// A peer of protocol version 1 gets a clear answer at connect, not silence (PROTOCOL.md §16): the
// target answers a version 1 Connect Request with a version 1 "Unsupported Version", and a host
// whose Connect Requests go unanswered finds out, with a version 1 probe, that the target speaks
// version 1, fails with that reason and ends the probe's association.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backend/backend.h"
#include "common/bytes.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/frame.h"
#include "wire/v1_compat.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr const char* kNqn = "nqn.2026-11.io.nvmeoe:version";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";

void send_one(Link& l, const std::vector<uint8_t>& frame) {
  TxFrameList one;
  one.add(frame);
  ASSERT_TRUE(l.send(one.frames()).is_ok());
}

// Collects what arrives on `l` for `ms`.
std::vector<std::vector<uint8_t>> collect(Link& l, int ms) {
  std::vector<std::vector<uint8_t>> got;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    l.receive([&](std::span<const uint8_t> f) { got.emplace_back(f.begin(), f.end()); }, 64);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return got;
}

TEST(VersionCheck, TargetAnswersAVersion1ConnectWithUnsupportedVersion) {
  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
  TargetCore core;
  auto sub = std::make_unique<Subsystem>();
  sub->nqn = kNqn;
  sub->allow_any_host = true;
  ASSERT_TRUE(core.add_subsystem(std::move(sub)).is_ok());
  TargetTransport target(&core, std::move(pair.b));
  std::thread t([&] { EXPECT_TRUE(target.run().is_ok()); });
  Link& host = *pair.a;
  send_one(host, v1::connect_request(kTargetMac, kHostMac, kDefaultEtherType, 0, 0xabcdef01, 32, 1500));
  // Other version 1 frames and other versions get nothing.
  std::vector<uint8_t> v1_cmd = v1::connect_request(kTargetMac, kHostMac, kDefaultEtherType, 1, 7, 32, 1500);
  v1_cmd[kEthHeaderSize + 1] = 3;  // a v1 Command
  send_one(host, v1_cmd);
  auto got = collect(host, 200);
  target.request_stop();
  t.join();
  ASSERT_EQ(got.size(), 1u);
  auto h = v1::peek(got[0], kDefaultEtherType);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->kind, v1::kConnectResponse);
  EXPECT_EQ(h->nonce, 0xabcdef01u);
  EXPECT_EQ(h->qid, 0);
  EXPECT_EQ(v1::connect_result(got[0]), v1::kResultUnsupportedVersion);
  EXPECT_EQ(MacAddress::from_bytes(got[0].data()), kHostMac);
  EXPECT_EQ(target.stats().associations, 0u);
}

TEST(VersionCheck, HostFindsAVersion1TargetAndSaysSo) {
  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
  Link& target_end = *pair.b;
  // A version 1 target: drops version 2 frames, accepts version 1 Connect Requests.
  std::atomic<bool> stop{false};
  std::atomic<int> v2_seen{0}, v1_connects{0}, v1_terminates{0};
  std::atomic<uint32_t> probe_nonce{0}, terminated_nonce{0};
  std::thread fake([&] {
    while (!stop) {
      target_end.receive(
          [&](std::span<const uint8_t> f) {
            auto h = v1::peek(f, kDefaultEtherType);
            if (!h) {
              ++v2_seen;
              return;
            }
            if (h->kind == v1::kConnectRequest) {
              ++v1_connects;
              probe_nonce = h->nonce;
              std::vector<uint8_t> accept = v1::connect_response(kHostMac, kTargetMac, kDefaultEtherType, *h, 0);
              TxFrameList one;
              one.add(accept);
              (void)target_end.send(one.frames());
            } else if (h->kind == v1::kTerminate) {
              ++v1_terminates;
              terminated_nonce = h->nonce;
            }
          },
          64);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  ConnectOptions o;
  o.target_mac = kTargetMac.str();
  o.subnqn = kNqn;
  o.hostnqn = kHostNqn;
  o.connect_timeout = std::chrono::milliseconds(3000);
  auto start = std::chrono::steady_clock::now();
  auto host = HostController::connect(std::move(pair.a), o);
  auto took = std::chrono::steady_clock::now() - start;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  fake.join();
  ASSERT_FALSE(host.is_ok());
  EXPECT_NE(host.status().message().find("speaks nvmeoe protocol version 1"), std::string::npos)
      << host.status().message();
  EXPECT_LT(took, std::chrono::milliseconds(2500)) << "the reason must come before the connect timeout";
  EXPECT_GT(v2_seen.load(), 0);
  EXPECT_GE(v1_connects.load(), 1);
  EXPECT_EQ(v1_terminates.load(), 1) << "the probe's association must be ended";
  EXPECT_EQ(terminated_nonce.load(), probe_nonce.load());
}

TEST(VersionCheck, SilentTargetStillTimesOutWithTheUsualMessage) {
  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
  ConnectOptions o;
  o.target_mac = kTargetMac.str();
  o.subnqn = kNqn;
  o.hostnqn = kHostNqn;
  o.connect_timeout = std::chrono::milliseconds(1500);
  auto host = HostController::connect(std::move(pair.a), o);
  ASSERT_FALSE(host.is_ok());
  EXPECT_NE(host.status().message().find("no answer"), std::string::npos) << host.status().message();
  // The probes are version 1 Connect Requests; everything else the host sent is version 2.
  int v1 = 0, v2 = 0;
  pair.b->receive([&](std::span<const uint8_t> f) { v1::peek(f, kDefaultEtherType) ? ++v1 : ++v2; }, 1000);
  EXPECT_GT(v1, 0);
  EXPECT_GT(v2, v1);
}

}  // namespace
}  // namespace nvmeoe
