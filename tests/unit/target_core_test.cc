// Unit tests of the target core (src/target/*): Fabrics Connect and access control, properties,
// admin commands, I/O against a fake backend, keep-alive, and a random-command robustness test.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/log.h"
#include "fake_backend.h"
#include "nvme/identify.h"
#include "target/core.h"

namespace nvmeoe {
namespace {

using test::FakeBackend;

constexpr char kSubNqn[] = "nqn.2024-01.io.nvmeoe:test";
constexpr char kHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr char kOtherHostNqn[] = "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555";
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kCcEnabled = prop::kCcEnable | (6u << 16) | (4u << 20);  // EN, IOSQES 64, IOCQES 16

// A request as a transport would hold it: the Request, its data buffer and a completion count.
struct TestRequest {
  Request req;
  std::vector<uint8_t> buf;
  int completions = 0;

  TestRequest() {
    req.on_complete = &TestRequest::on_complete;
    req.transport_ctx = this;
  }
  TestRequest(const TestRequest&) = delete;
  TestRequest& operator=(const TestRequest&) = delete;
  static void on_complete(Request* r) { ++static_cast<TestRequest*>(r->transport_ctx)->completions; }
  void set_data(size_t n, uint8_t fill = 0) {
    buf.assign(n, fill);
    req.data = std::span<uint8_t>(buf);
  }
};

Sqe make_sqe(uint8_t opcode, uint32_t nsid = 0) {
  Sqe s;
  s.opcode = opcode;
  s.nsid = nsid;
  s.cid = 0x42;
  return s;
}

Sqe rw_sqe(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t blocks, bool fua = false) {
  Sqe s = make_sqe(opcode, nsid);
  s.cdw10 = uint32_t(slba);
  s.cdw11 = uint32_t(slba >> 32);
  s.cdw12 = ((blocks - 1) & 0xffff) | (fua ? 1u << 30 : 0);
  return s;
}

Sqe get_log_sqe(uint8_t lid, uint32_t bytes, uint64_t offset, uint32_t nsid = 0xffffffff) {
  Sqe s = make_sqe(admin_opcode::kGetLogPage, nsid);
  uint32_t numd = bytes / 4 - 1;
  s.cdw10 = lid | (numd & 0xffff) << 16;
  s.cdw11 = numd >> 16;
  s.cdw12 = uint32_t(offset);
  s.cdw13 = uint32_t(offset >> 32);
  return s;
}

Sqe property_sqe(uint8_t fctype, uint32_t offset, bool eight_bytes, uint64_t value = 0) {
  Sqe s = make_sqe(admin_opcode::kFabrics, fctype);
  s.cdw10 = eight_bytes ? 1 : 0;
  s.cdw11 = offset;
  s.cdw12 = uint32_t(value);
  s.cdw13 = uint32_t(value >> 32);
  return s;
}

class TargetCoreTest : public ::testing::Test {
 protected:
  explicit TargetCoreTest(TargetLimits limits = {}) : core_(limits) { set_log_level(LogLevel::kError); }

  // Adds a subsystem with one fake namespace per entry of `sizes` (NSIDs from `nsids`, or 1..n).
  std::vector<FakeBackend*> add_subsystem(const std::string& nqn, std::vector<uint64_t> sizes,
                                          std::vector<uint32_t> nsids = {}, bool read_only = false) {
    auto subsys = std::make_unique<Subsystem>();
    subsys->nqn = nqn;
    std::vector<FakeBackend*> fakes;
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto ns = std::make_unique<Namespace>();
      ns->nsid = nsids.empty() ? uint32_t(i + 1) : nsids[i];
      ns->read_only = read_only;
      auto fake = std::make_unique<FakeBackend>(sizes[i]);
      fakes.push_back(fake.get());
      ns->backend = std::move(fake);
      subsys->namespaces.push_back(std::move(ns));
    }
    EXPECT_TRUE(core_.add_subsystem(std::move(subsys)).is_ok());
    return fakes;
  }

  // Executes and reaps until the request completes (or the backends run dry).
  NvmeStatus run(TestRequest& t) {
    int before = t.completions;
    core_.execute(&t.req);
    for (int i = 0; i < 8 && t.completions == before; ++i) core_.reap_backends();
    EXPECT_EQ(t.completions, before + 1) << "command did not complete exactly once";
    return t.req.cqe.status;
  }

  NvmeStatus run_on(TestRequest& t, const std::shared_ptr<Controller>& ctrl, uint16_t qid, const Sqe& sqe) {
    t.req.sqe = sqe;
    t.req.ctrl = ctrl;
    t.req.qid = qid;
    return run(t);
  }

  NvmeStatus connect(TestRequest& t, uint16_t qid, const std::string& subnqn, const std::string& hostnqn,
                     uint16_t cntlid = 0xffff, uint16_t sqsize = 31, uint32_t kato_ms = 0) {
    ConnectCommand cmd;
    cmd.qid = qid;
    cmd.sqsize = sqsize;
    cmd.kato_ms = kato_ms;
    Sqe sqe;
    encode_connect_command(cmd, sqe);
    ConnectData data;
    data.cntlid = cntlid;
    data.subnqn = subnqn;
    data.hostnqn = hostnqn;
    t.set_data(kConnectDataSize);
    encode_connect_data(data, t.buf.data());
    return run_on(t, nullptr, qid, sqe);
  }

  std::shared_ptr<Controller> connect_admin(const std::string& hostnqn = kHostNqn, uint32_t kato_ms = 0) {
    TestRequest t;
    EXPECT_EQ(connect(t, 0, kSubNqn, hostnqn, 0xffff, 31, kato_ms), sc::kSuccess);
    EXPECT_TRUE(t.req.connected);
    if (t.req.connected) {
      EXPECT_EQ(t.req.cqe.dw0, t.req.connected->cntlid());
    }
    return t.req.connected;
  }

  NvmeStatus set_cc(const std::shared_ptr<Controller>& ctrl, uint32_t cc) {
    TestRequest t;
    return run_on(t, ctrl, 0, property_sqe(fabrics_type::kPropertySet, prop::kCc, false, cc));
  }

  NvmeStatus connect_io(const std::shared_ptr<Controller>& ctrl, uint16_t qid, TestRequest* out = nullptr) {
    TestRequest local;
    TestRequest& t = out ? *out : local;
    return connect(t, qid, kSubNqn, ctrl->hostnqn(), ctrl->cntlid());
  }

  // Subsystem with one 1 MiB namespace, an enabled controller and I/O queue 1.
  void setup_default(bool read_only = false) {
    fake_ = add_subsystem(kSubNqn, {kMiB}, {}, read_only)[0];
    ctrl_ = connect_admin();
    ASSERT_TRUE(ctrl_);
    ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
    ASSERT_EQ(connect_io(ctrl_, 1), sc::kSuccess);
  }

  NvmeStatus admin(TestRequest& t, const Sqe& sqe, size_t data_size = 0) {
    t.set_data(data_size);
    return run_on(t, ctrl_, 0, sqe);
  }

  NvmeStatus io(TestRequest& t, const Sqe& sqe, size_t data_size = 0, uint8_t fill = 0) {
    t.set_data(data_size, fill);
    return run_on(t, ctrl_, 1, sqe);
  }

  SmartLog smart(uint32_t nsid) {
    TestRequest t;
    EXPECT_EQ(admin(t, get_log_sqe(log_id::kSmartHealth, kSmartLogSize, 0, nsid), kSmartLogSize), sc::kSuccess);
    return decode_smart_log(t.buf.data());
  }

  TargetCore core_;
  FakeBackend* fake_ = nullptr;
  std::shared_ptr<Controller> ctrl_;
};

TEST_F(TargetCoreTest, ConnectEnableAndIdentifyController) {
  setup_default();
  TestRequest t;
  Sqe sqe = make_sqe(admin_opcode::kIdentify);
  sqe.cdw10 = cns::kController;
  ASSERT_EQ(admin(t, sqe, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(t.req.data_len, kIdentifySize);
  EXPECT_EQ(t.req.cqe.cid, 0x42);
  IdentifyController id = decode_identify_controller(t.buf.data());
  EXPECT_EQ(id.model, "nvmeoe");
  EXPECT_EQ(id.serial, serial_from_nqn(kSubNqn));
  EXPECT_EQ(id.firmware, NVMEOE_VERSION);
  EXPECT_EQ(id.cntlid, ctrl_->cntlid());
  EXPECT_EQ(id.mdts, 8);  // 1 MiB = 2^8 * 4 KiB
  EXPECT_EQ(id.nn, 1u);
  EXPECT_EQ(id.subnqn, kSubNqn);
  EXPECT_EQ(id.oncs, idctl::kOncsDsm | idctl::kOncsWriteZeroes);
  EXPECT_EQ(id.vwc, 1);
  EXPECT_EQ(id.maxcmd, 1024);
  EXPECT_EQ(id.elpe, 63);
  EXPECT_EQ(id.cntrltype, 1);

  TestRequest small;
  EXPECT_EQ(admin(small, sqe, 512), sc::kInvalidField | sc::kDnr);
  sqe.cdw10 = 0x10;  // a CNS we do not know
  TestRequest unknown;
  EXPECT_EQ(admin(unknown, sqe, kIdentifySize), sc::kInvalidField | sc::kDnr);
}

TEST_F(TargetCoreTest, WrongSubsystemNqnIsInvalidParameterAtOffset256) {
  add_subsystem(kSubNqn, {kMiB});
  TestRequest t;
  EXPECT_EQ(connect(t, 0, "nqn.2024-01.io.nvmeoe:nope", kHostNqn), sc::kConnectInvalidParameters | sc::kDnr);
  EXPECT_EQ(t.req.cqe.dw0 & 0xffff, 256u);  // IPO: SUBNQN
  EXPECT_EQ(t.req.cqe.dw0 >> 16, 1u);       // IATTR: connect data
  EXPECT_FALSE(t.req.connected);
  EXPECT_EQ(core_.controller_count(), 0u);
}

TEST_F(TargetCoreTest, AllowListRefusesOtherHosts) {
  auto subsys = std::make_unique<Subsystem>();
  subsys->nqn = kSubNqn;
  subsys->allow_any_host = false;
  subsys->allowed_hosts.insert(kHostNqn);
  ASSERT_TRUE(core_.add_subsystem(std::move(subsys)).is_ok());
  TestRequest refused, accepted;
  EXPECT_EQ(connect(refused, 0, kSubNqn, kOtherHostNqn), sc::kConnectInvalidHost | sc::kDnr);
  EXPECT_EQ(connect(accepted, 0, kSubNqn, kHostNqn), sc::kSuccess);
}

TEST_F(TargetCoreTest, IoQueueConnectBeforeEnableIsSequenceError) {
  add_subsystem(kSubNqn, {kMiB});
  ctrl_ = connect_admin();
  EXPECT_EQ(connect_io(ctrl_, 1), sc::kCommandSequenceError);
  ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
  TestRequest t;
  EXPECT_EQ(connect_io(ctrl_, 1, &t), sc::kSuccess);
  EXPECT_EQ(t.req.connected, ctrl_);
  EXPECT_EQ(connect_io(ctrl_, 1), sc::kConnectInvalidParameters | sc::kDnr);  // already connected
  TestRequest wrong_queue;                                                    // QID 3 in the command, sent on queue 2
  ConnectCommand cmd;
  cmd.qid = 3;
  cmd.sqsize = 31;
  Sqe sqe;
  encode_connect_command(cmd, sqe);
  ConnectData data;
  data.cntlid = ctrl_->cntlid();
  data.subnqn = kSubNqn;
  data.hostnqn = kHostNqn;
  wrong_queue.set_data(kConnectDataSize);
  encode_connect_data(data, wrong_queue.buf.data());
  EXPECT_EQ(run_on(wrong_queue, nullptr, 2, sqe), sc::kConnectInvalidParameters | sc::kDnr);
  EXPECT_EQ(wrong_queue.req.cqe.dw0, 42u);
}

// The core judges a Connect by the port it came through and the size of the transport's queue
// (Request::port, Request::queue_size), and takes back the QID of a queue the transport released.
TEST_F(TargetCoreTest, ConnectIsJudgedByPortQueueSizeAndReleasedQueues) {
  add_subsystem(kSubNqn, {kMiB});
  Port open_port, narrow_port;
  open_port.traddr = "02:00:00:00:00:01";
  narrow_port.traddr = "02:00:00:00:00:02";
  narrow_port.all_subsystems = false;
  narrow_port.subsystems = {"nqn.2026-12.io.nvmeoe:elsewhere"};
  core_.set_ports({open_port, narrow_port});
  EXPECT_TRUE(core_.port_offers(0, kSubNqn));
  EXPECT_FALSE(core_.port_offers(1, kSubNqn));
  EXPECT_TRUE(core_.port_offers(1, kDiscoveryNqn)) << "discovery is on every port";

  TestRequest hidden;
  hidden.req.port = 1;
  EXPECT_EQ(connect(hidden, 0, kSubNqn, kHostNqn), sc::kConnectInvalidParameters | sc::kDnr);
  EXPECT_EQ(hidden.req.cqe.dw0, 0x10100u) << "IATTR 1 (connect data), IPO 256 (SUBNQN): not on this port";
  EXPECT_EQ(core_.controller_count(), 0u);

  TestRequest too_big;
  too_big.req.queue_size = 16;  // SQSIZE 31 asks for 32 entries
  EXPECT_EQ(connect(too_big, 0, kSubNqn, kHostNqn), sc::kConnectInvalidParameters | sc::kDnr);
  EXPECT_EQ(too_big.req.cqe.dw0, 44u) << "IATTR 0, IPO 44 (SQSIZE)";

  TestRequest fits;
  fits.req.queue_size = 32;
  ASSERT_EQ(connect(fits, 0, kSubNqn, kHostNqn), sc::kSuccess);
  ctrl_ = fits.req.connected;
  ASSERT_TRUE(ctrl_);
  ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
  ASSERT_EQ(connect_io(ctrl_, 1), sc::kSuccess);
  EXPECT_EQ(connect_io(ctrl_, 1), sc::kConnectInvalidParameters | sc::kDnr) << "queue 1 is connected";
  core_.queue_released(*ctrl_, 1);
  EXPECT_FALSE(ctrl_->connected_io_queues.count(1));
  EXPECT_EQ(connect_io(ctrl_, 1), sc::kSuccess) << "a released queue connects again";

  TestRequest again;  // a second Connect on a bound queue
  again.req.ctrl = ctrl_;
  ConnectCommand cmd;
  cmd.qid = 0;
  cmd.sqsize = 31;
  Sqe sqe;
  encode_connect_command(cmd, sqe);
  again.req.sqe = sqe;
  again.set_data(kConnectDataSize);
  EXPECT_EQ(run(again), sc::kCommandSequenceError);
}

TEST_F(TargetCoreTest, CommandsBeforeConnectAreSequenceErrors) {
  add_subsystem(kSubNqn, {kMiB});
  TestRequest t;
  EXPECT_EQ(run_on(t, nullptr, 0, make_sqe(admin_opcode::kKeepAlive)), sc::kCommandSequenceError);
}

class TargetCoreQueueLimitTest : public TargetCoreTest {
 protected:
  static TargetLimits limits() {
    TargetLimits l;
    l.max_io_queues = 4;
    return l;
  }
  TargetCoreQueueLimitTest() : TargetCoreTest(limits()) {}
};

TEST_F(TargetCoreQueueLimitTest, SetFeaturesNumberOfQueuesGrantsAtMostTheLimit) {
  add_subsystem(kSubNqn, {kMiB});
  ctrl_ = connect_admin();
  Sqe sqe = make_sqe(admin_opcode::kSetFeatures);
  sqe.cdw10 = feature_id::kNumberOfQueues;
  sqe.cdw11 = 7 | 7u << 16;  // 8 submission and completion queues, 0-based
  TestRequest t;
  ASSERT_EQ(admin(t, sqe), sc::kSuccess);
  EXPECT_EQ(t.req.cqe.dw0, 3u | 3u << 16);
  EXPECT_EQ(ctrl_->io_queues_granted, 4);

  sqe.cdw11 = 1;  // 2 queues
  TestRequest two;
  ASSERT_EQ(admin(two, sqe), sc::kSuccess);
  EXPECT_EQ(two.req.cqe.dw0, 1u | 1u << 16);
  Sqe get = make_sqe(admin_opcode::kGetFeatures);
  get.cdw10 = feature_id::kNumberOfQueues;
  TestRequest got;
  ASSERT_EQ(admin(got, get), sc::kSuccess);
  EXPECT_EQ(got.req.cqe.dw0, 1u | 1u << 16);
  get.cdw10 |= 1u << 8;  // SEL: default
  TestRequest def;
  ASSERT_EQ(admin(def, get), sc::kSuccess);
  EXPECT_EQ(def.req.cqe.dw0, 3u | 3u << 16);

  ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
  EXPECT_EQ(connect_io(ctrl_, 2), sc::kSuccess);
  TestRequest over;
  EXPECT_EQ(connect_io(ctrl_, 3, &over), sc::kConnectInvalidParameters | sc::kDnr);
  EXPECT_EQ(over.req.cqe.dw0, 42u);  // IATTR 0 (command), IPO QID

  TestRequest late;
  EXPECT_EQ(admin(late, sqe), sc::kCommandSequenceError);  // I/O queues exist now
  sqe.cdw11 = 0xffff;
  TestRequest bad;
  EXPECT_EQ(admin(bad, sqe), sc::kInvalidField | sc::kDnr);
  sqe.cdw10 = feature_id::kNumberOfQueues | 1u << 31;  // SV
  TestRequest saved;
  EXPECT_EQ(admin(saved, sqe), sc::kFeatureNotSaveable | sc::kDnr);
}

TEST_F(TargetCoreTest, PropertyGetCapVsCsts) {
  add_subsystem(kSubNqn, {kMiB});
  ctrl_ = connect_admin();
  TestRequest cap;
  ASSERT_EQ(admin(cap, property_sqe(fabrics_type::kPropertyGet, prop::kCap, true)), sc::kSuccess);
  uint64_t v = cap.req.cqe.dw0 | uint64_t(cap.req.cqe.dw1) << 32;
  EXPECT_EQ(v & 0xffff, 1023u);      // MQES
  EXPECT_EQ((v >> 16) & 1, 1u);      // CQR
  EXPECT_EQ((v >> 24) & 0xff, 15u);  // TO
  EXPECT_EQ((v >> 37) & 1, 1u);      // CSS: NVM
  EXPECT_EQ((v >> 48) & 0xff, 0u);   // MPSMIN, MPSMAX
  TestRequest vs;
  ASSERT_EQ(admin(vs, property_sqe(fabrics_type::kPropertyGet, prop::kVs, false)), sc::kSuccess);
  EXPECT_EQ(vs.req.cqe.dw0, prop::kVersion20);
  TestRequest csts;
  ASSERT_EQ(admin(csts, property_sqe(fabrics_type::kPropertyGet, prop::kCsts, false)), sc::kSuccess);
  EXPECT_EQ(csts.req.cqe.dw0, 0u);
  ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
  TestRequest ready;
  ASSERT_EQ(admin(ready, property_sqe(fabrics_type::kPropertyGet, prop::kCsts, false)), sc::kSuccess);
  EXPECT_EQ(ready.req.cqe.dw0, prop::kCstsReady);

  TestRequest cap4, set_csts, unknown;
  EXPECT_EQ(admin(cap4, property_sqe(fabrics_type::kPropertyGet, prop::kCap, false)), sc::kInvalidField | sc::kDnr);
  EXPECT_EQ(admin(set_csts, property_sqe(fabrics_type::kPropertySet, prop::kCsts, false, 0)),
            sc::kInvalidField | sc::kDnr);
  EXPECT_EQ(admin(unknown, property_sqe(fabrics_type::kPropertyGet, 0x40, false)), sc::kInvalidField | sc::kDnr);
}

TEST_F(TargetCoreTest, ShutdownNotificationCompletesAfterFlush) {
  setup_default();
  fake_->hold = true;
  ASSERT_EQ(set_cc(ctrl_, kCcEnabled | 1u << 14), sc::kSuccess);  // SHN normal; completes at once
  EXPECT_EQ(ctrl_->csts & 0xc, 0x4u);                             // SHST: processing
  EXPECT_EQ(fake_->count(BackendOpKind::kFlush), 1u);
  fake_->hold = false;
  core_.reap_backends();
  EXPECT_EQ(ctrl_->csts & 0xc, prop::kCstsShstComplete);
}

TEST_F(TargetCoreTest, ResetTearsDownIoQueues) {
  setup_default();
  ASSERT_EQ(set_cc(ctrl_, 0), sc::kSuccess);
  EXPECT_EQ(ctrl_->csts & prop::kCstsReady, 0u);
  EXPECT_TRUE(ctrl_->connected_io_queues.empty());
  TestRequest t;
  EXPECT_EQ(io(t, rw_sqe(io_opcode::kRead, 1, 0, 1), 512), sc::kCommandSequenceError);
}

TEST_F(TargetCoreTest, IdentifyNamespaceOfTwentyGiB) {
  add_subsystem(kSubNqn, {20ull << 30});
  ctrl_ = connect_admin();
  Sqe sqe = make_sqe(admin_opcode::kIdentify, 1);
  sqe.cdw10 = cns::kNamespace;
  TestRequest t;
  ASSERT_EQ(admin(t, sqe, kIdentifySize), sc::kSuccess);
  IdentifyNamespace id = decode_identify_namespace(t.buf.data());
  EXPECT_EQ(id.nsze, 41943040u);
  EXPECT_EQ(id.ncap, 41943040u);
  EXPECT_EQ(id.nuse, 41943040u);
  EXPECT_EQ(id.lbads, 9);
  EXPECT_EQ(id.dlfeat, 0x09);
  EXPECT_EQ(id.nsfeat & 1, 1);
  EXPECT_FALSE(id.write_protected);
  EXPECT_NE(id.nguid, (std::array<uint8_t, 16>{}));

  Sqe desc = make_sqe(admin_opcode::kIdentify, 1);
  desc.cdw10 = cns::kNamespaceDescriptors;
  TestRequest d;
  ASSERT_EQ(admin(d, desc, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(d.buf[0], 2);  // NGUID descriptor
  EXPECT_TRUE(std::equal(id.nguid.begin(), id.nguid.end(), d.buf.begin() + 4));
}

TEST_F(TargetCoreTest, ActiveNamespaceList) {
  add_subsystem(kSubNqn, {kMiB, kMiB, kMiB}, {7, 1, 3});
  ctrl_ = connect_admin();
  Sqe sqe = make_sqe(admin_opcode::kIdentify, 0);
  sqe.cdw10 = cns::kActiveNamespaceList;
  TestRequest all;
  ASSERT_EQ(admin(all, sqe, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(decode_active_ns_list(all.buf.data()), (std::vector<uint32_t>{1, 3, 7}));
  sqe.nsid = 1;
  TestRequest after;
  ASSERT_EQ(admin(after, sqe, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(decode_active_ns_list(after.buf.data()), (std::vector<uint32_t>{3, 7}));
  sqe.nsid = 0xffffffff;
  TestRequest bad;
  EXPECT_EQ(admin(bad, sqe, kIdentifySize), sc::kInvalidNamespace | sc::kDnr);
}

TEST_F(TargetCoreTest, ControllerListsAndFeatureCapabilities) {
  add_subsystem(kSubNqn, {kMiB});
  ctrl_ = connect_admin();
  auto second = connect_admin();
  Sqe sqe = make_sqe(admin_opcode::kIdentify, 0);
  sqe.cdw10 = cns::kControllerList;
  TestRequest all;
  ASSERT_EQ(admin(all, sqe, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(get_le16(all.buf.data()), 2);
  EXPECT_EQ(get_le16(all.buf.data() + 2), ctrl_->cntlid());
  EXPECT_EQ(get_le16(all.buf.data() + 4), second->cntlid());
  sqe.cdw10 = cns::kControllerList | uint32_t(second->cntlid()) << 16;  // from CNTID on
  TestRequest from;
  ASSERT_EQ(admin(from, sqe, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(get_le16(from.buf.data()), 1);
  sqe.cdw10 = cns::kNsControllerList;
  sqe.nsid = 1;
  TestRequest attached;
  ASSERT_EQ(admin(attached, sqe, kIdentifySize), sc::kSuccess);
  EXPECT_EQ(get_le16(attached.buf.data()), 2);
  sqe.nsid = 9;
  TestRequest none;
  EXPECT_EQ(admin(none, sqe, kIdentifySize), sc::kInvalidNamespace | sc::kDnr);
  sqe.cdw10 = 0x11;  // still unsupported
  TestRequest other;
  EXPECT_EQ(admin(other, sqe, kIdentifySize), sc::kInvalidField | sc::kDnr);

  Sqe get = make_sqe(admin_opcode::kGetFeatures);
  get.cdw10 = feature_id::kKeepAliveTimer | 3u << 8;  // SEL: supported capabilities
  TestRequest caps;
  ASSERT_EQ(admin(caps, get), sc::kSuccess);
  EXPECT_EQ(caps.req.cqe.dw0, 0x4u) << "changeable, neither saveable nor per namespace";
  get.cdw10 = 0x06 | 3u << 8;
  TestRequest unknown;
  EXPECT_EQ(admin(unknown, get), sc::kInvalidField | sc::kDnr);
}

TEST_F(TargetCoreTest, AddSubsystemRejectsBadConfigurations) {
  EXPECT_FALSE(core_.add_subsystem(nullptr).is_ok());
  auto bad_nqn = std::make_unique<Subsystem>();
  bad_nqn->nqn = "not-an-nqn";
  EXPECT_FALSE(core_.add_subsystem(std::move(bad_nqn)).is_ok());
  add_subsystem(kSubNqn, {kMiB});
  auto dup = std::make_unique<Subsystem>();
  dup->nqn = kSubNqn;
  EXPECT_FALSE(core_.add_subsystem(std::move(dup)).is_ok());
  auto dup_ns = std::make_unique<Subsystem>();
  dup_ns->nqn = "nqn.2024-01.io.nvmeoe:other";
  for (int i = 0; i < 2; ++i) {
    auto ns = std::make_unique<Namespace>();
    ns->nsid = 5;
    ns->backend = std::make_unique<FakeBackend>(kMiB);
    dup_ns->namespaces.push_back(std::move(ns));
  }
  EXPECT_FALSE(core_.add_subsystem(std::move(dup_ns)).is_ok());
}

TEST_F(TargetCoreTest, WriteThenReadBack) {
  setup_default();
  TestRequest w;
  ASSERT_EQ(io(w, rw_sqe(io_opcode::kWrite, 1, 10, 8), 4096, 0xab), sc::kSuccess);
  TestRequest r;
  ASSERT_EQ(io(r, rw_sqe(io_opcode::kRead, 1, 10, 8), 4096), sc::kSuccess);
  EXPECT_EQ(r.req.data_len, 4096u);
  EXPECT_EQ(r.req.cqe.sq_id, 1);
  EXPECT_EQ(r.buf, std::vector<uint8_t>(4096, 0xab));
  TestRequest mismatch;
  EXPECT_EQ(io(mismatch, rw_sqe(io_opcode::kRead, 1, 10, 8), 512), sc::kDataSglLengthInvalid | sc::kDnr);
}

TEST_F(TargetCoreTest, HeldCompletionsArriveOnlyWhenReaped) {
  setup_default();
  fake_->hold = true;
  TestRequest t;
  t.set_data(512);
  t.req.sqe = rw_sqe(io_opcode::kRead, 1, 0, 1);
  t.req.ctrl = ctrl_;
  t.req.qid = 1;
  core_.execute(&t.req);
  core_.reap_backends();
  EXPECT_EQ(t.completions, 0);
  EXPECT_EQ(core_.backend_in_flight(), 1u);
  fake_->hold = false;
  core_.reap_backends();
  EXPECT_EQ(t.completions, 1);
  EXPECT_EQ(t.req.cqe.status, sc::kSuccess);
}

TEST_F(TargetCoreTest, LbaOutOfRange) {
  setup_default();
  const uint64_t nsze = kMiB / 512;
  TestRequest edge, past, wrap, wz;
  EXPECT_EQ(io(edge, rw_sqe(io_opcode::kRead, 1, nsze - 1, 1), 512), sc::kSuccess);
  EXPECT_EQ(io(past, rw_sqe(io_opcode::kRead, 1, nsze - 1, 2), 1024), sc::kLbaOutOfRange | sc::kDnr);
  EXPECT_EQ(io(wrap, rw_sqe(io_opcode::kWrite, 1, ~0ull, 2), 1024), sc::kLbaOutOfRange | sc::kDnr);
  EXPECT_EQ(io(wz, rw_sqe(io_opcode::kWriteZeroes, 1, nsze, 1)), sc::kLbaOutOfRange | sc::kDnr);
}

TEST_F(TargetCoreTest, InvalidNamespace) {
  setup_default();
  TestRequest r, idns;
  EXPECT_EQ(io(r, rw_sqe(io_opcode::kRead, 9, 0, 1), 512), sc::kInvalidNamespace | sc::kDnr);
  Sqe sqe = make_sqe(admin_opcode::kIdentify, 9);
  sqe.cdw10 = cns::kNamespace;
  EXPECT_EQ(admin(idns, sqe, kIdentifySize), sc::kInvalidNamespace | sc::kDnr);
}

TEST_F(TargetCoreTest, ReadOnlyNamespaceRefusesWrites) {
  setup_default(/*read_only=*/true);
  TestRequest w, wz, dsm, r;
  EXPECT_EQ(io(w, rw_sqe(io_opcode::kWrite, 1, 0, 1), 512), sc::kNsWriteProtected | sc::kDnr);
  EXPECT_EQ(io(wz, rw_sqe(io_opcode::kWriteZeroes, 1, 0, 1)), sc::kNsWriteProtected | sc::kDnr);
  EXPECT_EQ(io(dsm, make_sqe(io_opcode::kDatasetManagement, 1), 16), sc::kNsWriteProtected | sc::kDnr);
  EXPECT_EQ(io(r, rw_sqe(io_opcode::kRead, 1, 0, 1), 512), sc::kSuccess);
  EXPECT_EQ(fake_->count(BackendOpKind::kWrite), 0u);
}

TEST_F(TargetCoreTest, UnknownOpcodesAreInvalidOpcode) {
  setup_default();
  TestRequest a, i, f, fio;
  EXPECT_EQ(admin(a, make_sqe(0xc1)), sc::kInvalidOpcode | sc::kDnr);
  EXPECT_EQ(io(i, make_sqe(0x7e, 1)), sc::kInvalidOpcode | sc::kDnr);
  EXPECT_EQ(admin(f, make_sqe(admin_opcode::kFabrics, 0x33)), sc::kInvalidOpcode | sc::kDnr);
  EXPECT_EQ(io(fio, property_sqe(fabrics_type::kPropertyGet, prop::kVs, false)), sc::kInvalidOpcode | sc::kDnr);
}

TEST_F(TargetCoreTest, WriteZeroesAndDeallocateReadBackZeroes) {
  setup_default();
  TestRequest w;
  ASSERT_EQ(io(w, rw_sqe(io_opcode::kWrite, 1, 0, 32), 32 * 512, 0x5a), sc::kSuccess);
  TestRequest wz;
  ASSERT_EQ(io(wz, rw_sqe(io_opcode::kWriteZeroes, 1, 0, 8)), sc::kSuccess);
  EXPECT_EQ(fake_->count(BackendOpKind::kWriteZeroes), 1u);

  // Two ranges: LBAs 8..15 and 24..31; a zero-length range in between is skipped.
  TestRequest dsm;
  dsm.set_data(3 * 16);
  put_le32(dsm.buf.data() + 4, 8);
  put_le64(dsm.buf.data() + 8, 8);
  put_le64(dsm.buf.data() + 16 + 8, 500);
  put_le32(dsm.buf.data() + 32 + 4, 8);
  put_le64(dsm.buf.data() + 32 + 8, 24);
  Sqe sqe = make_sqe(io_opcode::kDatasetManagement, 1);
  sqe.cdw10 = 2;        // three ranges, 0-based
  sqe.cdw11 = 1u << 2;  // AD
  ASSERT_EQ(run_on(dsm, ctrl_, 1, sqe), sc::kSuccess);
  EXPECT_EQ(fake_->count(BackendOpKind::kDeallocate), 2u);

  TestRequest r;
  ASSERT_EQ(io(r, rw_sqe(io_opcode::kRead, 1, 0, 32), 32 * 512), sc::kSuccess);
  for (size_t lba = 0; lba < 32; ++lba) {
    uint8_t want = (lba < 16 || lba >= 24) ? 0 : 0x5a;
    EXPECT_EQ(r.buf[lba * 512], want) << "LBA " << lba;
    EXPECT_EQ(r.buf[lba * 512 + 511], want) << "LBA " << lba;
  }
}

TEST_F(TargetCoreTest, DatasetManagementChecksEveryRangeFirst) {
  setup_default();
  TestRequest dsm;
  dsm.set_data(2 * 16);
  put_le32(dsm.buf.data() + 4, 8);
  put_le64(dsm.buf.data() + 8, 0);
  put_le32(dsm.buf.data() + 16 + 4, 8);
  put_le64(dsm.buf.data() + 16 + 8, kMiB / 512 - 4);  // runs past the end
  Sqe sqe = make_sqe(io_opcode::kDatasetManagement, 1);
  sqe.cdw10 = 1;
  sqe.cdw11 = 1u << 2;
  EXPECT_EQ(run_on(dsm, ctrl_, 1, sqe), sc::kLbaOutOfRange | sc::kDnr);
  EXPECT_EQ(fake_->count(BackendOpKind::kDeallocate), 0u);
  TestRequest wrong_len;
  wrong_len.set_data(16);
  EXPECT_EQ(run_on(wrong_len, ctrl_, 1, sqe), sc::kDataSglLengthInvalid | sc::kDnr);
  TestRequest hint;
  hint.set_data(32);
  sqe.cdw11 = 0;  // no AD: attributes only, nothing to do
  EXPECT_EQ(run_on(hint, ctrl_, 1, sqe), sc::kSuccess);
}

TEST_F(TargetCoreTest, SmartCountersPerNamespaceAndTotal) {
  fake_ = add_subsystem(kSubNqn, {kMiB, kMiB})[0];
  ctrl_ = connect_admin();
  ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
  ASSERT_EQ(connect_io(ctrl_, 1), sc::kSuccess);
  TestRequest w1, w2, w3, r1;
  ASSERT_EQ(io(w1, rw_sqe(io_opcode::kWrite, 1, 0, 1000), 1000 * 512), sc::kSuccess);  // 1 data unit
  ASSERT_EQ(io(w2, rw_sqe(io_opcode::kWrite, 1, 1000, 1), 512), sc::kSuccess);         // 1001: 2 units
  ASSERT_EQ(io(w3, rw_sqe(io_opcode::kWrite, 2, 0, 1), 512), sc::kSuccess);
  ASSERT_EQ(io(r1, rw_sqe(io_opcode::kRead, 2, 0, 4), 2048), sc::kSuccess);
  SmartLog ns1 = smart(1);
  EXPECT_EQ(ns1.host_writes, 2u);
  EXPECT_EQ(ns1.data_units_written, 2u);
  EXPECT_EQ(ns1.host_reads, 0u);
  SmartLog ns2 = smart(2);
  EXPECT_EQ(ns2.host_writes, 1u);
  EXPECT_EQ(ns2.host_reads, 1u);
  EXPECT_EQ(ns2.data_units_read, 1u);
  SmartLog total = smart(0xffffffff);
  EXPECT_EQ(total.host_writes, 3u);
  EXPECT_EQ(total.data_units_written, 2u);  // 1001 + 1 blocks: still 2 thousand-block units
  TestRequest bad;
  EXPECT_EQ(admin(bad, get_log_sqe(log_id::kSmartHealth, kSmartLogSize, 0, 5), kSmartLogSize),
            sc::kInvalidNamespace | sc::kDnr);
}

TEST_F(TargetCoreTest, GetLogPageOffsetsAndLimits) {
  setup_default();
  // Two errors, so the error log has two entries, newest first.
  TestRequest e1, e2;
  io(e1, rw_sqe(io_opcode::kRead, 9, 0, 1), 512);
  io(e2, rw_sqe(io_opcode::kRead, 1, ~0ull, 1), 512);
  TestRequest second;
  ASSERT_EQ(admin(second, get_log_sqe(log_id::kErrorInformation, 64, 64), 64), sc::kSuccess);
  EXPECT_EQ(second.req.data_len, 64u);
  ErrorLogEntry older = decode_error_log_entry(second.buf.data());
  EXPECT_EQ(older.error_count, 1u);
  EXPECT_EQ(older.status, sc::kInvalidNamespace | sc::kDnr);
  TestRequest first;
  ASSERT_EQ(admin(first, get_log_sqe(log_id::kErrorInformation, 64, 0), 64), sc::kSuccess);
  ErrorLogEntry newer = decode_error_log_entry(first.buf.data());
  EXPECT_EQ(newer.error_count, 2u);
  EXPECT_EQ(newer.lba, ~0ull);

  // Firmware slot log: revision at byte 8; reading past the 512-byte page gives zeroes.
  TestRequest fw;
  ASSERT_EQ(admin(fw, get_log_sqe(log_id::kFirmwareSlot, 1024, 8), 1024), sc::kSuccess);
  EXPECT_EQ(std::string(fw.buf.begin(), fw.buf.begin() + 5), std::string(NVMEOE_VERSION).substr(0, 5));
  EXPECT_EQ(fw.buf[1000], 0);

  TestRequest past, unaligned, too_big, unknown;
  EXPECT_EQ(admin(past, get_log_sqe(log_id::kFirmwareSlot, 64, 4096), 64), sc::kInvalidField | sc::kDnr);
  EXPECT_EQ(admin(unaligned, get_log_sqe(log_id::kFirmwareSlot, 64, 2), 64), sc::kInvalidField | sc::kDnr);
  EXPECT_EQ(admin(too_big, get_log_sqe(log_id::kFirmwareSlot, 1024, 0), 512), sc::kInvalidField | sc::kDnr);
  EXPECT_EQ(admin(unknown, get_log_sqe(0x42, 64, 0), 64), sc::kInvalidLogPage | sc::kDnr);
}

TEST_F(TargetCoreTest, KeepAliveExpiry) {
  add_subsystem(kSubNqn, {kMiB});
  ctrl_ = connect_admin(kHostNqn, 1000);
  uint16_t cntlid = ctrl_->cntlid();
  Clock::time_point now = Clock::now();
  EXPECT_TRUE(core_.expire_keep_alive(now + std::chrono::milliseconds(1200)).empty());  // within grace
  TestRequest ka;
  ASSERT_EQ(admin(ka, make_sqe(admin_opcode::kKeepAlive)), sc::kSuccess);
  std::vector<uint16_t> expired = core_.expire_keep_alive(Clock::now() + std::chrono::seconds(3));
  EXPECT_EQ(expired, std::vector<uint16_t>{cntlid});
  EXPECT_TRUE(ctrl_->dead);
  EXPECT_EQ(core_.controller_count(), 0u);
  TestRequest after;
  EXPECT_EQ(admin(after, make_sqe(admin_opcode::kKeepAlive)), sc::kCommandSequenceError);
}

TEST_F(TargetCoreTest, AsyncEventRequestAbortedOnRemoval) {
  setup_default();
  TestRequest aer;
  aer.req.sqe = make_sqe(admin_opcode::kAsyncEventRequest);
  aer.req.ctrl = ctrl_;
  core_.execute(&aer.req);
  core_.reap_backends();
  EXPECT_EQ(aer.completions, 0);
  TestRequest second;
  EXPECT_EQ(admin(second, make_sqe(admin_opcode::kAsyncEventRequest)), sc::kAsyncEventLimitExceeded | sc::kDnr);
  TestRequest abort;
  EXPECT_EQ(admin(abort, make_sqe(admin_opcode::kAbort)), sc::kSuccess);
  EXPECT_EQ(abort.req.cqe.dw0 & 1, 1u);
  core_.remove_controller(ctrl_->cntlid());
  EXPECT_EQ(aer.completions, 1);
  EXPECT_EQ(aer.req.cqe.status, sc::kAbortRequested);
}

TEST_F(TargetCoreTest, BackendErrnoMapsToMediaErrors) {
  setup_default();
  fake_->fail_errno = EIO;
  TestRequest w, r;
  EXPECT_EQ(io(w, rw_sqe(io_opcode::kWrite, 1, 0, 1), 512), sc::kWriteFault);
  EXPECT_EQ(io(r, rw_sqe(io_opcode::kRead, 1, 0, 1), 512), sc::kUnrecoveredReadError);
  fake_->fail_errno = ENOSPC;
  TestRequest full;
  EXPECT_EQ(io(full, rw_sqe(io_opcode::kWrite, 1, 0, 1), 512), sc::kCapacityExceeded | sc::kDnr);
  fake_->fail_errno = 0;
  fake_->refuse_submit = true;
  TestRequest refused;
  EXPECT_EQ(io(refused, rw_sqe(io_opcode::kWrite, 1, 0, 1), 512), sc::kInternalError);
  fake_->refuse_submit = false;
  EXPECT_EQ(ctrl_->error_count, 4u);
  EXPECT_EQ(ctrl_->error_log.front().status, sc::kInternalError);
  EXPECT_EQ(smart(1).media_errors, 2u);
}

TEST_F(TargetCoreTest, FuaWriteIsFollowedByFlush) {
  setup_default();
  fake_->hold = true;
  TestRequest t;
  t.set_data(512, 1);
  t.req.sqe = rw_sqe(io_opcode::kWrite, 1, 0, 1, /*fua=*/true);
  t.req.ctrl = ctrl_;
  t.req.qid = 1;
  core_.execute(&t.req);
  ASSERT_EQ(fake_->ops.size(), 1u);
  EXPECT_EQ(fake_->ops[0].kind, BackendOpKind::kWrite);
  fake_->hold = false;
  core_.reap_backends();  // the write completes; the flush goes out
  EXPECT_EQ(t.completions, 0);
  ASSERT_EQ(fake_->ops.size(), 2u);
  EXPECT_EQ(fake_->ops[1].kind, BackendOpKind::kFlush);
  core_.reap_backends();
  EXPECT_EQ(t.completions, 1);
  EXPECT_EQ(t.req.cqe.status, sc::kSuccess);
}

TEST_F(TargetCoreTest, FlushAllNamespaces) {
  auto fakes = add_subsystem(kSubNqn, {kMiB, kMiB});
  ctrl_ = connect_admin();
  ASSERT_EQ(set_cc(ctrl_, kCcEnabled), sc::kSuccess);
  ASSERT_EQ(connect_io(ctrl_, 1), sc::kSuccess);
  TestRequest f;
  EXPECT_EQ(io(f, make_sqe(io_opcode::kFlush, 0xffffffff)), sc::kSuccess);
  EXPECT_EQ(fakes[0]->count(BackendOpKind::kFlush), 1u);
  EXPECT_EQ(fakes[1]->count(BackendOpKind::kFlush), 1u);

  int done = 0;
  fakes[1]->hold = true;
  core_.flush_all([](void* arg) { ++*static_cast<int*>(arg); }, &done);
  core_.reap_backends();
  EXPECT_EQ(done, 0);
  fakes[1]->hold = false;
  core_.reap_backends();
  EXPECT_EQ(done, 1);
  TargetCore empty;
  empty.flush_all([](void* arg) { ++*static_cast<int*>(arg); }, &done);
  EXPECT_EQ(done, 2);
}

// Random SQEs on admin, I/O and unconnected queues: every command completes exactly once and
// nothing crashes (run under ASan/UBSan in CI).
TEST_F(TargetCoreTest, RandomCommandsCompleteExactlyOnce) {
  fake_ = add_subsystem(kSubNqn, {kMiB, 64 * kMiB})[0];
  ctrl_ = connect_admin(kHostNqn, 0);
  std::mt19937_64 rng(12345);
  auto pick = [&rng](uint64_t n) { return rng() % n; };
  const uint8_t admin_ops[] = {0x02, 0x06, 0x08, 0x09, 0x0a, 0x0c, 0x18, 0x7f, 0x01, 0x05};
  const uint8_t io_ops[] = {0x00, 0x01, 0x02, 0x08, 0x09, 0x7f, 0x04, 0x11};
  std::vector<std::unique_ptr<TestRequest>> reqs;
  for (int i = 0; i < 10000; ++i) {
    if (i % 50 == 0) {  // keep the controller usable so the I/O paths get exercised too
      if (!(ctrl_->csts & prop::kCstsReady) || (ctrl_->cc & (3u << 14))) {
        set_cc(ctrl_, 0);
        set_cc(ctrl_, kCcEnabled);
      }
      if (!ctrl_->connected_io_queues.count(1)) connect_io(ctrl_, 1);
      fake_->hold = pick(4) == 0;
      fake_->fail_errno = pick(8) == 0 ? EIO : 0;
    }
    auto t = std::make_unique<TestRequest>();
    Sqe& s = t->req.sqe;
    int queue = int(pick(3));  // 0 admin, 1 I/O, 2 unconnected
    s.opcode = queue == 0 ? admin_ops[pick(sizeof admin_ops)] : io_ops[pick(sizeof io_ops)];
    if (pick(10) == 0) s.opcode = uint8_t(rng());
    s.cid = uint16_t(i);
    uint32_t nsids[] = {0, 1, 2, 3, 0xffffffff, uint32_t(rng())};
    s.nsid = nsids[pick(6)];
    uint32_t* cdw[] = {&s.cdw10, &s.cdw11, &s.cdw12, &s.cdw13, &s.cdw14, &s.cdw15};
    for (uint32_t* d : cdw) *d = pick(3) == 0 ? uint32_t(rng()) : uint32_t(pick(16));
    if (s.opcode == admin_opcode::kFabrics) s.nsid = uint32_t(pick(10));
    if (s.opcode == admin_opcode::kSetFeatures && pick(2)) s.cdw10 = feature_id::kKeepAliveTimer;
    if (s.opcode == admin_opcode::kFabrics && s.fctype() == fabrics_type::kPropertySet) s.cdw12 &= ~3u << 14;
    size_t len = pick(8193);
    if (pick(3) == 0) {  // consistent Read/Write lengths
      len = (pick(16) + 1) * 512;
      s.cdw12 = (s.cdw12 & ~0xffffu) | uint32_t(len / 512 - 1);
      s.cdw11 = 0;
      s.cdw10 = uint32_t(pick(4096));
    }
    t->set_data(len, uint8_t(i));
    if (queue != 2) t->req.ctrl = ctrl_;
    t->req.qid = queue == 0 ? 0 : queue == 1 ? 1 : uint16_t(pick(5));
    if (s.opcode == admin_opcode::kFabrics && s.fctype() == fabrics_type::kConnect && pick(2)) {
      // Well-formed connect data with plausible values, so the checks past decoding run too.
      s.cdw10 = uint32_t(pick(4) ? t->req.qid : pick(5)) << 16;  // RECFMT 0, mostly the right QID
      ConnectData data;
      data.cntlid = pick(2) ? 0xffff : uint16_t(pick(4));
      data.subnqn = pick(4) ? kSubNqn : "nqn.2024-01.io.nvmeoe:other";
      data.hostnqn = pick(4) ? kHostNqn : "";
      t->set_data(kConnectDataSize);
      encode_connect_data(data, t->buf.data());
    }
    core_.execute(&t->req);
    core_.flush_backends();
    core_.reap_backends();
    EXPECT_LE(t->completions, 1) << "opcode " << int(s.opcode);
    if (t->completions == 1) {
      t->buf.clear();  // the core is done with it; keep memory flat over 10000 requests
      t->buf.shrink_to_fit();
    }
    reqs.push_back(std::move(t));
  }
  for (const auto& s : core_.subsystems())
    for (const auto& ns : s->namespaces) static_cast<FakeBackend*>(ns->backend.get())->hold = false;
  for (int i = 0; i < 10 && core_.backend_in_flight() > 0; ++i) core_.reap_backends();
  EXPECT_EQ(core_.backend_in_flight(), 0u);
  // Pending AERs (one per controller) complete when their controllers go away.
  std::vector<uint16_t> cntlids;
  for (uint16_t id = 1; id < 0xfff0 && cntlids.size() < core_.controller_count(); ++id)
    if (core_.find_controller(id)) cntlids.push_back(id);
  for (uint16_t id : cntlids) core_.remove_controller(id);
  for (size_t i = 0; i < reqs.size(); ++i)
    ASSERT_EQ(reqs[i]->completions, 1) << "request " << i << " opcode " << int(reqs[i]->req.sqe.opcode);
}

}  // namespace
}  // namespace nvmeoe
