// The target's DH-HMAC-CHAP state machine (src/target/auth_cmd.cc) driven message by message, with
// the host's computations done here from src/auth: AUTHREQ in the Connect response, Authentication
// Required before success, every hash, DH groups, both directions, wrong keys, replayed messages,
// messages out of order and malformed commands.
#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "auth/dhchap.h"
#include "auth/secret.h"
#include "common/log.h"
#include "fake_backend.h"
#include "nvme/auth_msg.h"
#include "target/core.h"

namespace nvmeoe {
namespace {

namespace am = authmsg;
using auth::DhGroup;
using auth::HashId;

constexpr char kSubNqn[] = "nqn.2024-01.io.nvmeoe:auth";
constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr char kOpenHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555";
constexpr char kHostKey[] = "DHHC-1:01:bOHk6jHoMxpP5YJr/eF6XNOGuPAzh0iRniebpsVb9ydqVuR5:";
constexpr char kCtrlKey[] = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";
constexpr uint32_t kCcEnabled = prop::kCcEnable | (6u << 16) | (4u << 20);
constexpr NvmeStatus kRequired = sc::kAuthRequired | sc::kDnr;

struct TestRequest {
  Request req;
  std::vector<uint8_t> buf;
  int completions = 0;
  TestRequest() {
    req.on_complete = [](Request* r) { ++static_cast<TestRequest*>(r->transport_ctx)->completions; };
    req.transport_ctx = this;
  }
};

auth::Secret secret(const char* text) {
  auto s = auth::parse_secret(text);
  EXPECT_TRUE(s.is_ok());
  return s.is_ok() ? *s : auth::Secret{};
}

// What a host computes for a Challenge: its Reply, and what it needs to check Success1.
struct HostSide {
  std::string key = kHostKey;
  std::string ctrl_key;  // non-empty: ask the controller to prove itself
  std::vector<uint8_t> session, c2;
  uint32_t s2 = 0;
  HashId hash = HashId::kSha256;

  am::Reply reply(const am::Challenge& ch, const std::string& subnqn = kSubNqn) {
    hash = HashId(ch.hashid);
    size_t hl = auth::hash_len(hash);
    am::Reply r;
    r.tid = ch.tid;
    if (ch.dhgid != 0) {
      auto k = auth::DhKey::generate(DhGroup(ch.dhgid));
      EXPECT_TRUE(k.is_ok());
      r.dh = *(*k)->public_value();
      auto sh = (*k)->shared_secret(ch.dh);
      EXPECT_TRUE(sh.is_ok()) << sh.status().message();
      session = *sh;
    }
    auto kh = auth::transformed_key(secret(key.c_str()), kHostNqn);
    auth::ResponseInput in;
    in.hash = hash;
    in.key = *kh;
    in.challenge = ch.c1;
    in.session_key = session;
    in.seqnum = ch.seqnum;
    in.tid = ch.tid;
    r.response.assign(hl, 0);
    EXPECT_TRUE(auth::host_response(in, kHostNqn, subnqn, r.response.data()).is_ok());
    c2.assign(hl, 0);
    if (!ctrl_key.empty()) {
      EXPECT_TRUE(auth::random_bytes(c2).is_ok());
      s2 = auth::next_seqnum();
      r.cvalid = true;
      r.seqnum = s2;
    }
    r.c2 = c2;
    return r;
  }
  std::vector<uint8_t> expected_ctrl_response(uint16_t tid) {
    auto kc = auth::transformed_key(secret(ctrl_key.c_str()), kSubNqn);
    auth::ResponseInput in;
    in.hash = hash;
    in.key = *kc;
    in.challenge = c2;
    in.session_key = session;
    in.seqnum = s2;
    in.tid = tid;
    std::vector<uint8_t> out(auth::hash_len(hash));
    EXPECT_TRUE(auth::controller_response(in, kHostNqn, kSubNqn, out.data()).is_ok());
    return out;
  }
};

am::Negotiate offer(uint16_t tid, std::vector<uint8_t> hashes = {1, 2, 3},
                    std::vector<uint8_t> groups = {0, 1, 2, 3, 4, 5}) {
  am::Negotiate n;
  n.tid = tid;
  n.hashes = std::move(hashes);
  n.dhgroups = std::move(groups);
  return n;
}

class TargetAuthTest : public ::testing::Test {
 protected:
  TargetAuthTest() {
    set_log_level(LogLevel::kError);
    auto sub = std::make_unique<Subsystem>();
    sub->nqn = kSubNqn;
    auto ns = std::make_unique<Namespace>();
    ns->nsid = 1;
    ns->backend = std::make_unique<test::FakeBackend>(1 << 20);
    sub->namespaces.push_back(std::move(ns));
    EXPECT_TRUE(core_.add_subsystem(std::move(sub)).is_ok());
    set_keys(HashId::kSha256, DhGroup::kNull, false);
  }

  void set_keys(HashId hash, DhGroup group, bool with_ctrl_key) {
    auto a = std::make_shared<HostAuth>();
    a->host_key = secret(kHostKey);
    if (with_ctrl_key) a->ctrl_key = secret(kCtrlKey);
    a->hash = hash;
    a->dhgroup = group;
    core_.set_host_auth({{kHostNqn, a}});
  }

  NvmeStatus run(TestRequest& t, const std::shared_ptr<Controller>& ctrl, uint16_t qid, const Sqe& sqe) {
    t.req.sqe = sqe;
    t.req.ctrl = ctrl;
    t.req.qid = qid;
    t.req.data = std::span<uint8_t>(t.buf);
    int before = t.completions;
    core_.execute(&t.req);
    for (int i = 0; i < 8 && t.completions == before; ++i) core_.reap_backends();
    EXPECT_EQ(t.completions, before + 1);
    return t.req.cqe.status;
  }

  // Fabrics Connect; `dw0` receives the response's DW0.
  std::shared_ptr<Controller> connect(uint16_t qid, const std::string& hostnqn, uint32_t* dw0,
                                      const std::shared_ptr<Controller>& admin = nullptr,
                                      const std::string& subnqn = kSubNqn) {
    ConnectCommand cmd;
    cmd.qid = qid;
    cmd.sqsize = 31;
    Sqe sqe;
    encode_connect_command(cmd, sqe);
    ConnectData data;
    data.cntlid = admin ? admin->cntlid() : 0xffff;
    data.subnqn = subnqn;
    data.hostnqn = hostnqn;
    TestRequest t;
    t.buf.assign(kConnectDataSize, 0);
    encode_connect_data(data, t.buf.data());
    EXPECT_EQ(run(t, nullptr, qid, sqe), sc::kSuccess);
    *dw0 = t.req.cqe.dw0;
    return t.req.connected;
  }

  NvmeStatus send(const std::shared_ptr<Controller>& ctrl, uint16_t qid, const std::vector<uint8_t>& msg) {
    am::AuthCommand c;
    c.length = uint32_t(msg.size());
    Sqe s;
    am::encode_auth_command(true, c, s);
    TestRequest t;
    t.buf = msg;
    return run(t, ctrl, qid, s);
  }
  NvmeStatus receive(const std::shared_ptr<Controller>& ctrl, uint16_t qid, std::vector<uint8_t>* out,
                     uint32_t al = 1104) {
    am::AuthCommand c;
    c.length = al;
    Sqe s;
    am::encode_auth_command(false, c, s);
    TestRequest t;
    t.buf.assign(al, 0xee);
    NvmeStatus st = run(t, ctrl, qid, s);
    if (status_ok(st)) {
      EXPECT_EQ(t.req.data_len, al);
    }
    *out = t.buf;
    return st;
  }

  NvmeStatus property_get(const std::shared_ptr<Controller>& ctrl) {
    Sqe s;
    s.opcode = admin_opcode::kFabrics;
    s.nsid = fabrics_type::kPropertyGet;
    s.cdw10 = 1;
    s.cdw11 = prop::kCap;
    TestRequest t;
    return run(t, ctrl, 0, s);
  }
  NvmeStatus admin(const std::shared_ptr<Controller>& ctrl, uint8_t opcode, size_t data = 0) {
    Sqe s;
    s.opcode = opcode;
    if (opcode == admin_opcode::kIdentify) s.cdw10 = cns::kController;
    TestRequest t;
    t.buf.assign(data, 0);
    return run(t, ctrl, 0, s);
  }

  am::Challenge challenge(const std::shared_ptr<Controller>& ctrl, uint16_t qid) {
    std::vector<uint8_t> m;
    EXPECT_EQ(receive(ctrl, qid, &m), sc::kSuccess);
    am::Challenge ch;
    EXPECT_EQ(m[1], am::kChallenge) << "got message " << int(m[1]);
    EXPECT_TRUE(am::decode_challenge(m, &ch));
    return ch;
  }
  // The message fetched after a Reply: Success1 or Failure1.
  std::vector<uint8_t> after_reply(const std::shared_ptr<Controller>& ctrl, uint16_t qid) {
    std::vector<uint8_t> m;
    EXPECT_EQ(receive(ctrl, qid, &m, 80), sc::kSuccess);
    return m;
  }
  static uint8_t failure_of(const std::vector<uint8_t>& m) {
    am::Failure f;
    return am::decode_failure(m, &f) && !f.host ? f.explanation : 0;
  }

  // A whole unidirectional exchange on `qid`; returns the message after the Reply.
  std::vector<uint8_t> authenticate(const std::shared_ptr<Controller>& ctrl, uint16_t qid, HostSide& host, uint16_t tid,
                                    am::Negotiate n = offer(0)) {
    n.tid = tid;
    EXPECT_EQ(send(ctrl, qid, am::encode_negotiate(n)), sc::kSuccess);
    am::Challenge ch = challenge(ctrl, qid);
    EXPECT_EQ(ch.tid, tid);
    EXPECT_EQ(send(ctrl, qid, am::encode_reply(host.reply(ch))), sc::kSuccess);
    return after_reply(ctrl, qid);
  }

  TargetCore core_;
};

TEST_F(TargetAuthTest, HostWithoutKeysConnectsAsBefore) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kOpenHostNqn, &dw0);
  ASSERT_TRUE(ctrl);
  EXPECT_EQ(dw0 & am::kConnectAuthreqAtr, 0u);
  EXPECT_EQ(dw0 & 0xffff, ctrl->cntlid());
  EXPECT_EQ(property_get(ctrl), sc::kSuccess);
}

TEST_F(TargetAuthTest, KeyedHostIsRefusedEverythingUntilAuthenticated) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  ASSERT_TRUE(ctrl);
  EXPECT_NE(dw0 & am::kConnectAuthreqAtr, 0u);  // AUTHREQ ATR, bit 17
  EXPECT_EQ(dw0 & am::kConnectAuthreqAscr, 0u);
  EXPECT_EQ(dw0 & 0xffff, ctrl->cntlid());
  EXPECT_EQ(property_get(ctrl), kRequired);
  EXPECT_EQ(admin(ctrl, admin_opcode::kIdentify, kIdentifySize), kRequired);
  EXPECT_EQ(admin(ctrl, admin_opcode::kKeepAlive), kRequired);
  EXPECT_EQ(status_name(kRequired), "Authentication Required (sct 0x1 sc 0x91 dnr)");
  HostSide host;
  std::vector<uint8_t> m = authenticate(ctrl, 0, host, 1);
  am::Success1 s1;
  ASSERT_TRUE(am::decode_success1(m, &s1)) << "message " << int(m[1]);
  EXPECT_FALSE(s1.rvalid);
  EXPECT_EQ(s1.hl, 32);
  EXPECT_EQ(property_get(ctrl), sc::kSuccess);
  EXPECT_EQ(admin(ctrl, admin_opcode::kIdentify, kIdentifySize), sc::kSuccess);
}

TEST_F(TargetAuthTest, EveryHashWithAndWithoutDh) {
  for (HashId hash : {HashId::kSha256, HashId::kSha384, HashId::kSha512})
    for (DhGroup group : {DhGroup::kNull, DhGroup::kFfdhe2048}) {
      set_keys(hash, group, true);
      uint32_t dw0 = 0;
      auto ctrl = connect(0, kHostNqn, &dw0);
      ASSERT_TRUE(ctrl);
      HostSide host;
      host.ctrl_key = kCtrlKey;
      EXPECT_EQ(send(ctrl, 0, am::encode_negotiate(offer(5))), sc::kSuccess);
      am::Challenge ch = challenge(ctrl, 0);
      EXPECT_EQ(ch.hashid, uint8_t(hash));
      EXPECT_EQ(ch.dhgid, uint8_t(group));
      EXPECT_EQ(ch.c1.size(), auth::hash_len(hash));
      EXPECT_EQ(ch.dh.size(), auth::dh_value_len(group));
      EXPECT_NE(ch.seqnum, 0u);
      EXPECT_EQ(send(ctrl, 0, am::encode_reply(host.reply(ch))), sc::kSuccess);
      std::vector<uint8_t> m = after_reply(ctrl, 0);
      am::Success1 s1;
      ASSERT_TRUE(am::decode_success1(m, &s1)) << auth::hash_name(hash) << " " << auth::dhgroup_name(group);
      ASSERT_TRUE(s1.rvalid);
      EXPECT_EQ(s1.response, host.expected_ctrl_response(5));
      // Bidirectional: not yet authenticated before Success2.
      EXPECT_EQ(property_get(ctrl), kRequired);
      EXPECT_EQ(send(ctrl, 0, am::encode_success2(5)), sc::kSuccess);
      EXPECT_EQ(property_get(ctrl), sc::kSuccess);
    }
}

TEST_F(TargetAuthTest, WrongHostKeyIsRefused) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  HostSide host;
  host.key = kCtrlKey;  // a valid secret, not this host's
  std::vector<uint8_t> m = authenticate(ctrl, 0, host, 1);
  EXPECT_EQ(m[1], am::kFailure1);
  EXPECT_EQ(m[6], am::kReasonFailed);
  EXPECT_EQ(failure_of(m), am::reason::kFailed);
  EXPECT_EQ(property_get(ctrl), kRequired);
  EXPECT_EQ(ctrl->queue_auth.at(0)->failures, 1u);
}

TEST_F(TargetAuthTest, ReplayedExchangeIsRefused) {
  // A host authenticates; its Negotiate and Reply are captured.
  uint32_t dw0 = 0;
  auto good = connect(0, kHostNqn, &dw0);
  HostSide host;
  am::Negotiate n = offer(9);
  std::vector<uint8_t> negotiate = am::encode_negotiate(n);
  ASSERT_EQ(send(good, 0, negotiate), sc::kSuccess);
  am::Challenge ch = challenge(good, 0);
  std::vector<uint8_t> reply = am::encode_reply(host.reply(ch));
  ASSERT_EQ(send(good, 0, reply), sc::kSuccess);
  ASSERT_EQ(after_reply(good, 0)[1], am::kSuccess1);
  ASSERT_EQ(property_get(good), sc::kSuccess);

  // Another station connects as that host and replays both: the challenge is new, the reply is not.
  auto evil = connect(0, kHostNqn, &dw0);
  ASSERT_TRUE(evil);
  ASSERT_NE(evil->cntlid(), good->cntlid());
  ASSERT_EQ(send(evil, 0, negotiate), sc::kSuccess);
  am::Challenge fresh = challenge(evil, 0);
  EXPECT_NE(fresh.c1, ch.c1);
  EXPECT_NE(fresh.seqnum, ch.seqnum);
  ASSERT_EQ(send(evil, 0, reply), sc::kSuccess);
  std::vector<uint8_t> m = after_reply(evil, 0);
  EXPECT_EQ(failure_of(m), am::reason::kFailed);
  EXPECT_EQ(property_get(evil), kRequired);

  // The same replay on the good queue (a new transaction) fails it too, and takes its trust away.
  ASSERT_EQ(send(good, 0, negotiate), sc::kSuccess);
  challenge(good, 0);
  ASSERT_EQ(send(good, 0, reply), sc::kSuccess);
  EXPECT_EQ(failure_of(after_reply(good, 0)), am::reason::kFailed);
  EXPECT_EQ(property_get(good), kRequired);
}

TEST_F(TargetAuthTest, BidirectionalWithoutControllerKeyFails) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  HostSide host;
  host.ctrl_key = kCtrlKey;  // the host asks, the target has no controller key
  std::vector<uint8_t> m = authenticate(ctrl, 0, host, 2);
  EXPECT_EQ(failure_of(m), am::reason::kFailed);
  EXPECT_EQ(property_get(ctrl), kRequired);
}

TEST_F(TargetAuthTest, IoQueuesAuthenticateOnTheirOwn) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  HostSide host;
  ASSERT_EQ(authenticate(ctrl, 0, host, 1)[1], am::kSuccess1);
  TestRequest t;
  Sqe cc;
  cc.opcode = admin_opcode::kFabrics;
  cc.nsid = fabrics_type::kPropertySet;
  cc.cdw11 = prop::kCc;
  cc.cdw12 = kCcEnabled;
  ASSERT_EQ(run(t, ctrl, 0, cc), sc::kSuccess);
  ASSERT_TRUE(connect(1, kHostNqn, &dw0, ctrl));
  EXPECT_NE(dw0 & am::kConnectAuthreqAtr, 0u);
  Sqe rd;
  rd.opcode = io_opcode::kRead;
  rd.nsid = 1;
  TestRequest r;
  r.buf.assign(512, 0);
  EXPECT_EQ(run(r, ctrl, 1, rd), kRequired);
  ASSERT_EQ(authenticate(ctrl, 1, host, 2)[1], am::kSuccess1);
  EXPECT_EQ(run(r, ctrl, 1, rd), sc::kSuccess);
}

TEST_F(TargetAuthTest, ConfiguredGroupIsRequiredAndHashFallsBack) {
  set_keys(HashId::kSha512, DhGroup::kFfdhe3072, false);
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  // A host that offers only the null group cannot talk the target down.
  ASSERT_EQ(send(ctrl, 0, am::encode_negotiate(offer(1, {1, 2, 3}, {0}))), sc::kSuccess);
  std::vector<uint8_t> m;
  ASSERT_EQ(receive(ctrl, 0, &m), sc::kSuccess);
  EXPECT_EQ(failure_of(m), am::reason::kDhgroupUnusable);
  // Only SHA-256 offered: the target uses it instead of its preferred SHA-512.
  HostSide host;
  m = authenticate(ctrl, 0, host, 2, offer(0, {1}, {2}));
  am::Success1 s1;
  ASSERT_TRUE(am::decode_success1(m, &s1));
  EXPECT_EQ(host.hash, HashId::kSha256);
  EXPECT_EQ(property_get(ctrl), sc::kSuccess);
  // No SHA-2 at all.
  auto other = connect(0, kHostNqn, &dw0);
  ASSERT_EQ(send(other, 0, am::encode_negotiate(offer(3, {7}, {2}))), sc::kSuccess);
  ASSERT_EQ(receive(other, 0, &m), sc::kSuccess);
  EXPECT_EQ(failure_of(m), am::reason::kHashUnusable);
}

TEST_F(TargetAuthTest, MessagesOutOfOrderOrOfAnotherTransaction) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  std::vector<uint8_t> m;
  // A Receive before any Negotiate.
  ASSERT_EQ(receive(ctrl, 0, &m), sc::kSuccess);
  EXPECT_EQ(failure_of(m), am::reason::kIncorrectMessage);
  // A Reply with another transaction id.
  HostSide host;
  ASSERT_EQ(send(ctrl, 0, am::encode_negotiate(offer(4))), sc::kSuccess);
  am::Challenge ch = challenge(ctrl, 0);
  am::Reply r = host.reply(ch);
  r.tid = 5;
  ASSERT_EQ(send(ctrl, 0, am::encode_reply(r)), sc::kSuccess);
  EXPECT_EQ(failure_of(after_reply(ctrl, 0)), am::reason::kIncorrectPayload);
  // Success2 where a Reply is due.
  ASSERT_EQ(send(ctrl, 0, am::encode_negotiate(offer(6))), sc::kSuccess);
  challenge(ctrl, 0);
  ASSERT_EQ(send(ctrl, 0, am::encode_success2(6)), sc::kSuccess);
  EXPECT_EQ(failure_of(after_reply(ctrl, 0)), am::reason::kIncorrectMessage);
  // A host's Failure2 ends the transaction.
  ASSERT_EQ(send(ctrl, 0, am::encode_negotiate(offer(7))), sc::kSuccess);
  challenge(ctrl, 0);
  am::Failure f;
  f.host = true;
  f.tid = 7;
  ASSERT_EQ(send(ctrl, 0, am::encode_failure(f)), sc::kSuccess);
  EXPECT_EQ(property_get(ctrl), kRequired);
  // A broken DH value from the host.
  set_keys(HashId::kSha256, DhGroup::kFfdhe2048, false);
  auto dh = connect(0, kHostNqn, &dw0);
  ASSERT_EQ(send(dh, 0, am::encode_negotiate(offer(8))), sc::kSuccess);
  ch = challenge(dh, 0);
  r = host.reply(ch);
  std::fill(r.dh.begin(), r.dh.end(), 0);
  ASSERT_EQ(send(dh, 0, am::encode_reply(r)), sc::kSuccess);
  EXPECT_EQ(failure_of(after_reply(dh, 0)), am::reason::kDhgroupUnusable);
  EXPECT_EQ(property_get(dh), kRequired);
}

TEST_F(TargetAuthTest, MalformedCommandsGetNvmeStatus) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0);
  std::vector<uint8_t> neg = am::encode_negotiate(offer(1));
  auto with = [&](uint32_t cdw10, uint32_t tl, size_t data) {
    Sqe s;
    am::encode_auth_command(true, am::AuthCommand{}, s);
    s.cdw10 = cdw10;
    s.cdw11 = tl;
    TestRequest t;
    t.buf = neg;
    t.buf.resize(data);
    return run(t, ctrl, 0, s);
  };
  const uint32_t good = 0xe9010100;
  EXPECT_EQ(with(0xea010100, 72, 72), sc::kInvalidField | sc::kDnr);    // SECP
  EXPECT_EQ(with(0xe9010200, 72, 72), sc::kInvalidField | sc::kDnr);    // SPSP0
  EXPECT_EQ(with(0xe9020100, 72, 72), sc::kInvalidField | sc::kDnr);    // SPSP1
  EXPECT_EQ(with(good, 0, 0), sc::kInvalidField | sc::kDnr);            // TL 0
  EXPECT_EQ(with(good, 8192, 8192), sc::kInvalidField | sc::kDnr);      // beyond any message
  EXPECT_EQ(with(good, 72, 80), sc::kDataSglLengthInvalid | sc::kDnr);  // TL != data
  // An allocation length too small for the Challenge: refused, and the transaction waits.
  ASSERT_EQ(with(good, 72, 72), sc::kSuccess);
  std::vector<uint8_t> m;
  EXPECT_EQ(receive(ctrl, 0, &m, 40), sc::kInvalidField | sc::kDnr);
  am::Challenge ch = challenge(ctrl, 0);
  EXPECT_EQ(ch.tid, 1);
  // Truncated Reply.
  HostSide host;
  std::vector<uint8_t> reply = am::encode_reply(host.reply(ch));
  reply.resize(20);
  ASSERT_EQ(send(ctrl, 0, reply), sc::kSuccess);
  EXPECT_EQ(failure_of(after_reply(ctrl, 0)), am::reason::kIncorrectPayload);
}

TEST_F(TargetAuthTest, DiscoveryControllerNeedsNoAuthentication) {
  uint32_t dw0 = 0;
  auto ctrl = connect(0, kHostNqn, &dw0, nullptr, kDiscoveryNqn);
  ASSERT_TRUE(ctrl);
  EXPECT_EQ(dw0 & am::kConnectAuthreqAtr, 0u);
  EXPECT_EQ(property_get(ctrl), sc::kSuccess);
}

TEST_F(TargetAuthTest, NewKeysApplyToNewControllers) {
  uint32_t dw0 = 0;
  auto before = connect(0, kHostNqn, &dw0);
  HostSide host;
  ASSERT_EQ(authenticate(before, 0, host, 1)[1], am::kSuccess1);
  core_.set_host_auth({});  // keys removed: the next controller needs none
  auto after = connect(0, kHostNqn, &dw0);
  EXPECT_EQ(dw0 & am::kConnectAuthreqAtr, 0u);
  EXPECT_EQ(property_get(after), sc::kSuccess);
  EXPECT_EQ(property_get(before), sc::kSuccess);
}

}  // namespace
}  // namespace nvmeoe
