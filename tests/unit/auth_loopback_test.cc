// DH-HMAC-CHAP end to end in one process: the host library and the target over the memory link,
// keys on both sides. Key right (both directions, hashes, DH groups), no key, wrong key, wrong
// controller key, a target that does not authenticate, and authentication again on reconnect.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "auth/secret.h"
#include "backend/backend.h"
#include "borrowed_link.h"
#include "common/bytes.h"
#include "common/log.h"
#include "link/fault_link.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "spoof_frames.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/crc32c.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

using auth::DhGroup;
using auth::HashId;

const MacAddress kHostMac{{0x02, 0, 0, 0, 2, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 2, 0x02}};
constexpr char kNqn[] = "nqn.2026-12.io.nvmeoe:auth-loop";
constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-777777777777";
constexpr char kHostKey[] = "DHHC-1:01:bOHk6jHoMxpP5YJr/eF6XNOGuPAzh0iRniebpsVb9ydqVuR5:";
constexpr char kOtherKey[] = "DHHC-1:02:JzgkyQ7IBRNgZgoVJQTRqDZ62Hnj5/kZ+vrrqjiE4TzoZZv5ycVS5cOLCiZ1bQfVVxJqow==:";
constexpr char kCtrlKey[] = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";

struct TargetKeys {
  const char* host_key = kHostKey;  // nullptr: the host needs no key
  const char* ctrl_key = nullptr;
  HashId hash = HashId::kSha256;
  DhGroup group = DhGroup::kNull;
};

class AuthRig {
 public:
  explicit AuthRig(TargetKeys keys) {
    set_log_level(LogLevel::kError);
    auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
    host_link_ = std::move(pair.a);
    target_end_ = std::move(pair.b);
    start_target(keys);
  }
  ~AuthRig() {
    host_.reset();
    stop_target();
  }

  void start_target(TargetKeys keys) {
    core_ = std::make_unique<TargetCore>();
    auto sub = std::make_unique<Subsystem>();
    sub->nqn = kNqn;
    auto ns = std::make_unique<Namespace>();
    ns->nsid = 1;
    auto be = open_backend("mem:16M", false);
    EXPECT_TRUE(be.is_ok());
    ns->backend = std::move(be.value());
    sub->namespaces.push_back(std::move(ns));
    sub->allow_any_host = false;
    sub->allowed_hosts.insert(kHostNqn);
    EXPECT_TRUE(core_->add_subsystem(std::move(sub)).is_ok());
    if (keys.host_key) {
      auto a = std::make_shared<HostAuth>();
      a->host_key = *auth::parse_secret(keys.host_key);
      if (keys.ctrl_key) a->ctrl_key = *auth::parse_secret(keys.ctrl_key);
      a->hash = keys.hash;
      a->dhgroup = keys.group;
      core_->set_host_auth({{kHostNqn, a}});
    }
    target_ = std::make_unique<TargetTransport>(core_.get(), std::make_unique<test::BorrowedLink>(target_end_.get()));
    thread_ = std::thread([this] { target_->run(); });
  }
  void stop_target() {
    if (!target_) return;
    target_->request_stop();
    thread_.join();
    target_.reset();
    core_.reset();
  }

  ConnectOptions options(const char* secret, const char* ctrl_secret = nullptr) const {
    ConnectOptions o;
    o.target_mac = kTargetMac.str();
    o.subnqn = kNqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = 2;
    o.queue_size = 32;
    o.connect_timeout = std::chrono::milliseconds(2000);
    if (secret) o.dhchap_secret = secret;
    if (ctrl_secret) o.dhchap_ctrl_secret = ctrl_secret;
    return o;
  }
  Result<std::unique_ptr<HostController>> connect(const ConnectOptions& o) {
    return HostController::connect(std::make_unique<test::BorrowedLink>(host_link_.get()), o);
  }
  // The same through a FaultLink on the host's side (both directions).
  Result<std::unique_ptr<HostController>> connect_with_faults(const ConnectOptions& o, FaultConfig faults) {
    auto fl = FaultLink::create(std::make_unique<test::BorrowedLink>(host_link_.get()), std::move(faults));
    if (!fl) return fl.status();
    return HostController::connect(std::move(fl).value(), o);
  }

  std::unique_ptr<HostController> host_;

  Result<TargetSnapshot> snapshot() const { return target_->snapshot(0); }
  // Sends a frame into the link as a third station on the host's side would.
  void inject(const std::vector<uint8_t>& frame) {
    TxFrameList one;
    one.add(frame);
    EXPECT_TRUE(host_link_->send(one.frames()).is_ok());
  }

 private:
  std::unique_ptr<Link> host_link_, target_end_;
  std::unique_ptr<TargetCore> core_;
  std::unique_ptr<TargetTransport> target_;
  std::thread thread_;
};

void expect_io_works(HostController& h) {
  std::vector<uint8_t> data(8192, 0x5c), back(8192, 0);
  // Each I/O queue authenticated on its own: a command on each.
  for (uint16_t q = 1; q <= h.io_queue_count(); ++q) {
    std::promise<Completion> done;
    h.write(
        1, 16 * q, 16, data.data(), [&done](const Completion& c) { done.set_value(c); }, q);
    EXPECT_TRUE(done.get_future().get().ok()) << "queue " << q;
  }
  ASSERT_TRUE(h.write_sync(1, 64, 16, data.data()).ok());
  ASSERT_TRUE(h.read_sync(1, 64, 16, back.data()).ok());
  EXPECT_EQ(back, data);
}

TEST(AuthLoopback, RightKeyConnectsAndServesIo) {
  AuthRig rig({});
  auto h = rig.connect(rig.options(kHostKey));
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ((*h)->io_queue_count(), 2);
  expect_io_works(**h);
}

struct Combo {
  HashId hash;
  DhGroup group;
  bool bidirectional;
};

class AuthLoopbackCombos : public ::testing::TestWithParam<Combo> {};

TEST_P(AuthLoopbackCombos, Authenticates) {
  const Combo c = GetParam();
  TargetKeys keys;
  keys.hash = c.hash;
  keys.group = c.group;
  keys.ctrl_key = c.bidirectional ? kCtrlKey : nullptr;
  AuthRig rig(keys);
  auto h = rig.connect(rig.options(kHostKey, c.bidirectional ? kCtrlKey : nullptr));
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  expect_io_works(**h);
}

// Every hash; FFDHE 2048 and 4096 (8192 is tested once in the e2e test: it costs ~0.1 s a queue).
INSTANTIATE_TEST_SUITE_P(HashesGroupsDirections, AuthLoopbackCombos,
                         ::testing::Values(Combo{HashId::kSha256, DhGroup::kNull, false},
                                           Combo{HashId::kSha384, DhGroup::kNull, true},
                                           Combo{HashId::kSha512, DhGroup::kNull, false},
                                           Combo{HashId::kSha256, DhGroup::kFfdhe2048, true},
                                           Combo{HashId::kSha512, DhGroup::kFfdhe4096, true},
                                           Combo{HashId::kSha384, DhGroup::kFfdhe3072, false}));

TEST(AuthLoopback, NoKeyIsRefusedWithTheReason) {
  AuthRig rig({});
  auto h = rig.connect(rig.options(nullptr));
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().err(), EACCES);
  EXPECT_NE(h.status().message().find("requires DH-HMAC-CHAP authentication"), std::string::npos)
      << h.status().message();
  EXPECT_NE(h.status().message().find("--dhchap-secret"), std::string::npos);
}

TEST(AuthLoopback, WrongKeyIsRefusedWithTheReason) {
  AuthRig rig({});
  auto h = rig.connect(rig.options(kOtherKey));
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().err(), EACCES);
  EXPECT_NE(h.status().message().find("refused the host's response (authentication failed)"), std::string::npos)
      << h.status().message();
}

TEST(AuthLoopback, WrongControllerKeyIsRefused) {
  TargetKeys keys;
  keys.ctrl_key = kCtrlKey;
  keys.group = DhGroup::kFfdhe2048;
  AuthRig rig(keys);
  auto h = rig.connect(rig.options(kHostKey, kOtherKey));
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().err(), EACCES);
  EXPECT_NE(h.status().message().find("does not match --dhchap-ctrl-secret"), std::string::npos)
      << h.status().message();
}

TEST(AuthLoopback, BidirectionalAgainstATargetWithoutControllerKey) {
  AuthRig rig({});
  auto h = rig.connect(rig.options(kHostKey, kCtrlKey));
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().err(), EACCES);
  EXPECT_NE(h.status().message().find("authentication failed"), std::string::npos) << h.status().message();
}

TEST(AuthLoopback, ControllerKeyAgainstATargetThatDoesNotAuthenticate) {
  TargetKeys none;
  none.host_key = nullptr;
  AuthRig rig(none);
  // A host secret alone is fine: the target does not ask for it.
  auto ok = rig.connect(rig.options(kHostKey));
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  (*ok)->disconnect();
  // A controller key demands proof the target cannot give.
  auto h = rig.connect(rig.options(kHostKey, kCtrlKey));
  ASSERT_FALSE(h.is_ok());
  EXPECT_NE(h.status().message().find("does not authenticate"), std::string::npos) << h.status().message();
}

TEST(AuthLoopback, BadSecretsAreRefusedBeforeConnecting) {
  AuthRig rig({});
  auto bad = rig.connect(rig.options("DHHC-1:01:bOHk6jHoMxpP5YJr/eF6XNOGuPAzh0iRniebpsVb9ydqVuR6:"));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("--dhchap-secret: DH-HMAC-CHAP secret: CRC mismatch"), std::string::npos)
      << bad.status().message();
  auto ctrl_only = rig.connect(rig.options(nullptr, kCtrlKey));
  ASSERT_FALSE(ctrl_only.is_ok());
  EXPECT_NE(ctrl_only.status().message().find("needs --dhchap-secret"), std::string::npos);
}

TEST(AuthLoopback, ReconnectAuthenticatesAgain) {
  AuthRig rig({});
  ConnectOptions o = rig.options(kHostKey);
  o.reconnect_delay = std::chrono::milliseconds(100);
  o.ctrl_loss_tmo = std::chrono::milliseconds(20000);
  auto h = rig.connect(o);
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  HostController& host = **h;
  // The target comes back holding another key for this host: reconnects fail authentication.
  rig.stop_target();
  TargetKeys other;
  other.host_key = kOtherKey;
  rig.start_target(other);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (host.reconnects() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(host.reconnects(), 2u);
  EXPECT_FALSE(host.connected());
  // With the right key again, the next attempt authenticates and I/O goes on.
  rig.stop_target();
  rig.start_target({});
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!host.connected() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(host.connected());
  expect_io_works(host);
}

std::vector<uint8_t> with_made_up_tag(std::vector<uint8_t> f) {
  uint8_t tag[kFrameTagSize];
  for (size_t i = 0; i < kFrameTagSize; ++i) tag[i] = uint8_t(i * 31);
  return nvmeoe::with_made_up_tag(std::move(f), kDefaultEtherType, 1000, tag);
}

// A station that copies an authenticated association's MACs, queue ids, controller id and nonce
// sends a Write and Terminates, untagged and with made-up tags: nothing of them is applied, the
// host's I/O goes on, and the target counts them.
TEST(AuthLoopback, ForgedFramesIntoAnAuthenticatedAssociationAreDropped) {
  AuthRig rig({});
  auto h = rig.connect(rig.options(kHostKey));
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  HostController& host = **h;
  std::vector<uint8_t> data(4096, 0x3c), back(4096, 0);
  ASSERT_TRUE(host.write_sync(1, 100, 8, data.data()).ok());

  auto snap = rig.snapshot();
  ASSERT_TRUE(snap.is_ok());
  uint32_t admin_nonce = 0, io_nonce = 0;
  uint16_t cntlid = 0;
  for (const TargetQueueStats& q : snap->queues) {
    if (q.qid == 0) admin_nonce = q.nonce;
    if (q.qid == 1) io_nonce = q.nonce;
    cntlid = q.cntlid;
  }
  ASSERT_NE(admin_nonce, 0u);
  ASSERT_NE(io_nonce, 0u);
  const uint64_t before = snap->totals.auth_errors;

  Spoofer spoof(kTargetMac, kDefaultEtherType);
  Sqe w;
  w.opcode = io_opcode::kWrite;
  w.nsid = 1;
  w.cid = 30;
  w.cdw10 = 100;  // SLBA: the block the host just wrote
  w.cdw12 = 0;    // one block, in the capsule
  std::vector<uint8_t> evil(512, 0xee);
  std::vector<uint8_t> write = spoof.command(kHostMac, 1, io_nonce, cntlid, w, 77, evil, uint32_t(evil.size()));
  rig.inject(write);
  rig.inject(with_made_up_tag(write));
  SegmentHeader t;
  t.kind = FrameKind::kTerminate;
  uint8_t reason[kTerminateMetaSize] = {uint8_t(TerminateReason::kHostDisconnect), 0, 0, 0};
  std::vector<uint8_t> term =
      build_frame(kTargetMac, kHostMac, kDefaultEtherType, FrameAddress{0, cntlid, admin_nonce}, t, reason);
  rig.inject(term);
  rig.inject(with_made_up_tag(term));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  ASSERT_TRUE(host.connected());
  ASSERT_TRUE(host.read_sync(1, 100, 8, back.data()).ok());
  EXPECT_EQ(back, data) << "a forged Write was applied";
  expect_io_works(host);
  snap = rig.snapshot();
  ASSERT_TRUE(snap.is_ok());
  EXPECT_EQ(snap->totals.auth_errors - before, 4u);
  bool admin_there = false;
  for (const TargetQueueStats& q : snap->queues) admin_there = admin_there || (q.qid == 0 && q.nonce == admin_nonce);
  EXPECT_TRUE(admin_there) << "a forged Terminate ended the controller";
  EXPECT_EQ(host.frame_counters().auth_errors, 0u);
}

// Loss, duplication, reordering and bit errors on an authenticated association: duplicates and
// corrupted frames are refused by the frame tags (counted), the rest is recovered like any loss,
// and every block reads back as written.
TEST(AuthLoopback, TaggedFramesRecoverFromLossDuplicationReorderingAndCorruption) {
  AuthRig rig({});
  FaultConfig faults;
  faults.drop = 0.01;
  faults.duplicate = 0.02;
  faults.reorder = 0.02;
  faults.corrupt = 0.01;
  faults.seed = 11;
  ConnectOptions o = rig.options(kHostKey);
  o.connect_timeout = std::chrono::milliseconds(5000);
  auto h = rig.connect_with_faults(o, faults);
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  HostController& host = **h;
  std::vector<uint8_t> data(65536), back(65536);
  for (uint32_t round = 0; round < 40; ++round) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 3 + round);
    const uint64_t lba = 128 * round;
    ASSERT_TRUE(host.write_sync(1, lba, 128, data.data()).ok()) << "round " << round;
    std::fill(back.begin(), back.end(), 0);
    ASSERT_TRUE(host.read_sync(1, lba, 128, back.data()).ok()) << "round " << round;
    ASSERT_EQ(back, data) << "round " << round;
  }
  EXPECT_TRUE(host.connected());
  EXPECT_EQ(host.reconnects(), 0u);
  auto snap = rig.snapshot();
  ASSERT_TRUE(snap.is_ok());
  // Duplicates reach the target as replays; corrupted frames fail the header CRC or the tag.
  EXPECT_GT(snap->totals.auth_errors + host.frame_counters().auth_errors, 0u);
}

}  // namespace
}  // namespace nvmeoe
