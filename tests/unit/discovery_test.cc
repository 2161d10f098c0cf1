// Discovery: the Discovery Log Page encoding, the discovery controller in the target core (Connect
// to the discovery NQN, Identify, LID 70h filtered by host and port, partial reads, GENCTR),
// reconfiguration of a running core, and discovery frames and the log page end to end over the
// memory link.
#include "host/discovery.h"

#include <gtest/gtest.h>

#include <thread>

#include "backend/backend.h"
#include "common/bytes.h"
#include "common/log.h"
#include "fake_backend.h"
#include "link/link.h"
#include "nvme/discovery_log.h"
#include "nvme/identify.h"
#include "nvmeoe/host.h"
#include "target/core.h"
#include "target/target.h"

namespace nvmeoe {
namespace {

using test::FakeBackend;

constexpr char kHost[] = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
constexpr char kOther[] = "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555";
constexpr char kSubA[] = "nqn.2024-01.io.nvmeoe:a";
constexpr char kSubB[] = "nqn.2024-01.io.nvmeoe:b-other-only";

TEST(DiscoveryLogPage, EncodesSpecOffsets) {
  DiscoveryLogEntry e;
  e.portid = 7;
  e.asqsz = 128;
  e.trsvcid = "0x88b5";
  e.subnqn = kSubA;
  e.traddr = "02:00:00:00:00:02";
  std::vector<uint8_t> page = encode_discovery_log(42, {e, e});
  ASSERT_EQ(page.size(), 1024u * 3);
  EXPECT_EQ(get_le64(page.data()), 42u);      // GENCTR
  EXPECT_EQ(get_le64(page.data() + 8), 2u);   // NUMREC
  EXPECT_EQ(get_le16(page.data() + 16), 0u);  // RECFMT
  const uint8_t* p = page.data() + 1024;
  EXPECT_EQ(p[0], 0xfd);                                                         // TRTYPE eth
  EXPECT_EQ(p[1], 0xfd);                                                         // ADRFAM mac
  EXPECT_EQ(p[2], 2);                                                            // SUBTYPE NVM subsystem
  EXPECT_EQ(p[3], 0);                                                            // TREQ not specified
  EXPECT_EQ(get_le16(p + 4), 7u);                                                // PORTID
  EXPECT_EQ(get_le16(p + 6), 0xffffu);                                           // CNTLID: dynamic
  EXPECT_EQ(get_le16(p + 8), 128u);                                              // ASQSZ
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 32), 8), "0x88b5  ");  // TRSVCID, space-padded
  EXPECT_EQ(p[63], ' ');
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 256)), kSubA);  // SUBNQN, NUL-terminated
  EXPECT_EQ(p[256 + sizeof(kSubA) - 1], 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 512), 17), "02:00:00:00:00:02");  // TRADDR
  EXPECT_EQ(p[512 + 17], ' ');
  EXPECT_EQ(p[768], 0);  // TSAS unused

  DiscoveryLog log;
  ASSERT_TRUE(decode_discovery_log(page.data(), page.size(), &log));
  EXPECT_EQ(log.genctr, 42u);
  ASSERT_EQ(log.entries.size(), 2u);
  EXPECT_EQ(log.entries[1], e);
  // A part of the page: the header and whole entries only.
  ASSERT_TRUE(decode_discovery_log(page.data(), 2048 + 100, &log));
  EXPECT_EQ(log.numrec, 2u);
  EXPECT_EQ(log.entries.size(), 1u);
  EXPECT_FALSE(decode_discovery_log(page.data(), 1023, &log));
  EXPECT_STREQ(trtype_name(0xfd), "eth");
  EXPECT_STREQ(subtype_name(2), "nvme subsystem");
}

struct TestRequest {
  Request req;
  std::vector<uint8_t> buf;
  int completions = 0;
  TestRequest() {
    req.on_complete = [](Request* r) { ++static_cast<TestRequest*>(r->transport_ctx)->completions; };
    req.transport_ctx = this;
  }
};

class DiscoveryCoreTest : public ::testing::Test {
 protected:
  DiscoveryCoreTest() { set_log_level(LogLevel::kError); }

  void add(const std::string& nqn, std::vector<std::string> hosts, int namespaces = 1) {
    auto s = std::make_unique<Subsystem>();
    s->nqn = nqn;
    s->allow_any_host = hosts.empty();
    s->allowed_hosts.insert(hosts.begin(), hosts.end());
    for (int i = 0; i < namespaces; ++i) {
      auto ns = std::make_unique<Namespace>();
      ns->nsid = uint32_t(i + 1);
      ns->backend = std::make_unique<FakeBackend>(1 << 20);
      s->namespaces.push_back(std::move(ns));
    }
    ASSERT_TRUE(core_.add_subsystem(std::move(s)).is_ok());
  }

  NvmeStatus run(TestRequest& t) {
    core_.execute(&t.req);
    for (int i = 0; i < 8 && t.completions == 0; ++i) core_.reap_backends();
    EXPECT_EQ(t.completions, 1);
    return t.req.cqe.status;
  }

  std::shared_ptr<Controller> connect(const std::string& subnqn, const std::string& hostnqn, uint16_t qid = 0,
                                      uint16_t cntlid = 0xffff, NvmeStatus* status = nullptr) {
    TestRequest t;
    ConnectCommand cmd;
    cmd.qid = qid;
    cmd.sqsize = 31;
    encode_connect_command(cmd, t.req.sqe);
    ConnectData data;
    data.cntlid = cntlid;
    data.subnqn = subnqn;
    data.hostnqn = hostnqn;
    t.buf.assign(kConnectDataSize, 0);
    encode_connect_data(data, t.buf.data());
    t.req.data = std::span<uint8_t>(t.buf);
    t.req.qid = qid;
    NvmeStatus s = run(t);
    if (status) *status = s;
    return t.req.connected;
  }

  NvmeStatus admin(const std::shared_ptr<Controller>& ctrl, const Sqe& sqe, size_t bytes, std::vector<uint8_t>* out) {
    TestRequest t;
    t.req.sqe = sqe;
    t.req.ctrl = ctrl;
    t.buf.assign(bytes, 0xee);
    t.req.data = std::span<uint8_t>(t.buf);
    NvmeStatus s = run(t);
    *out = t.buf;
    return s;
  }

  static Sqe log_sqe(uint32_t bytes, uint64_t offset) {
    Sqe s;
    s.opcode = admin_opcode::kGetLogPage;
    uint32_t numd = bytes / 4 - 1;
    s.cdw10 = log_id::kDiscovery | (numd & 0xffff) << 16;
    s.cdw11 = numd >> 16;
    s.cdw12 = uint32_t(offset);
    s.cdw13 = uint32_t(offset >> 32);
    return s;
  }

  DiscoveryLog read_log(const std::shared_ptr<Controller>& ctrl) {
    std::vector<uint8_t> page;
    EXPECT_EQ(admin(ctrl, log_sqe(1024 * 8, 0), 1024 * 8, &page), sc::kSuccess);
    DiscoveryLog log;
    EXPECT_TRUE(decode_discovery_log(page.data(), page.size(), &log));
    return log;
  }

  void two_ports() {
    Port p1;
    p1.portid = 1;
    p1.traddr = "02:00:00:00:00:01";
    Port p2;
    p2.portid = 2;
    p2.traddr = "02:00:00:00:00:02";
    p2.ethertype = 0x88b6;
    p2.all_subsystems = false;
    p2.subsystems = {kSubB};
    core_.set_ports({p1, p2});
  }

  TargetCore core_;
};

TEST_F(DiscoveryCoreTest, DiscoveryControllerIdentifiesItselfAndHasNoIoQueues) {
  add(kSubA, {});
  auto ctrl = connect(kDiscoveryNqn, kHost);
  ASSERT_TRUE(ctrl);
  Sqe id;
  id.opcode = admin_opcode::kIdentify;
  id.cdw10 = cns::kController;
  std::vector<uint8_t> buf;
  ASSERT_EQ(admin(ctrl, id, kIdentifySize, &buf), sc::kSuccess);
  IdentifyController ic = decode_identify_controller(buf.data());
  EXPECT_EQ(ic.cntrltype, 2);
  EXPECT_EQ(ic.nn, 0u);
  EXPECT_EQ(ic.subnqn, kDiscoveryNqn);
  NvmeStatus status = 0;
  EXPECT_FALSE(connect(kDiscoveryNqn, kHost, 1, ctrl->cntlid(), &status));
  EXPECT_EQ(status & 0x7ff, sc::kConnectInvalidParameters);
  // The discovery NQN cannot name a served subsystem.
  auto s = std::make_unique<Subsystem>();
  s->nqn = kDiscoveryNqn;
  EXPECT_FALSE(core_.add_subsystem(std::move(s)).is_ok());
}

TEST_F(DiscoveryCoreTest, LogPageListsWhatTheHostMayUsePerPort) {
  add(kSubA, {});
  add(kSubB, {kOther});
  two_ports();
  DiscoveryLog mine = read_log(connect(kDiscoveryNqn, kHost));
  ASSERT_EQ(mine.numrec, 1u);  // A on port 1; B excludes this host
  EXPECT_EQ(mine.entries[0].subnqn, kSubA);
  EXPECT_EQ(mine.entries[0].portid, 1);
  EXPECT_EQ(mine.entries[0].traddr, "02:00:00:00:00:01");
  EXPECT_EQ(mine.entries[0].trsvcid, "0x88b5");
  EXPECT_EQ(mine.entries[0].trtype, kTrtypeEth);
  EXPECT_EQ(mine.entries[0].subtype, kSubtypeNvm);
  EXPECT_EQ(mine.entries[0].cntlid, 0xffff);

  DiscoveryLog theirs = read_log(connect(kDiscoveryNqn, kOther));
  ASSERT_EQ(theirs.numrec, 3u);  // A and B on port 1, B only on port 2
  EXPECT_EQ(theirs.entries[2].subnqn, kSubB);
  EXPECT_EQ(theirs.entries[2].portid, 2);
  EXPECT_EQ(theirs.entries[2].trsvcid, "0x88b6");
  EXPECT_EQ(theirs.genctr, mine.genctr);
}

TEST_F(DiscoveryCoreTest, PartialReadsByOffsetAndErrors) {
  add(kSubA, {});
  add(kSubB, {});
  two_ports();
  auto ctrl = connect(kDiscoveryNqn, kHost);
  std::vector<uint8_t> whole, part;
  ASSERT_EQ(admin(ctrl, log_sqe(4096, 0), 4096, &whole), sc::kSuccess);
  ASSERT_EQ(get_le64(whole.data() + 8), 3u);
  ASSERT_EQ(admin(ctrl, log_sqe(1024, 2048), 1024, &part), sc::kSuccess);
  EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + 2048));
  ASSERT_EQ(admin(ctrl, log_sqe(512, 1024 + 256), 512, &part), sc::kSuccess);  // inside an entry
  EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + 1024 + 256));
  ASSERT_EQ(admin(ctrl, log_sqe(1024, 4096), 1024, &part), sc::kSuccess);  // at the end: zeroes
  EXPECT_EQ(std::count(part.begin(), part.end(), 0), 1024);
  EXPECT_EQ(admin(ctrl, log_sqe(1024, 8192), 1024, &part) & 0x7ff, sc::kInvalidField);  // past the end
  EXPECT_EQ(admin(ctrl, log_sqe(1024, 2), 1024, &part) & 0x7ff, sc::kInvalidField);     // not dword aligned
  // An I/O controller has no discovery log.
  auto io = connect(kSubA, kHost);
  ASSERT_TRUE(io);
  EXPECT_EQ(admin(io, log_sqe(1024, 0), 1024, &part) & 0x7ff, sc::kInvalidLogPage);
}

TEST_F(DiscoveryCoreTest, GenerationCounterFollowsChanges) {
  add(kSubA, {});
  auto ctrl = connect(kDiscoveryNqn, kHost);
  uint64_t g0 = read_log(ctrl).genctr;
  add(kSubB, {});
  uint64_t g1 = read_log(ctrl).genctr;
  EXPECT_NE(g1, g0);
  EXPECT_EQ(read_log(ctrl).genctr, g1);  // unchanged while nothing changes
  core_.set_allowed_hosts(core_.find_subsystem(kSubB), false, {kOther});
  DiscoveryLog log = read_log(ctrl);
  EXPECT_NE(log.genctr, g1);
  EXPECT_EQ(log.numrec, 0u);  // no ports set: nothing to list (the target always sets them)
}

TEST_F(DiscoveryCoreTest, ReconfigurationRemovesNamespacesSubsystemsAndHosts) {
  add(kSubA, {}, 2);
  add(kSubB, {kHost, kOther});
  auto a = connect(kSubA, kHost);
  auto b_host = connect(kSubB, kHost);
  auto b_other = connect(kSubB, kOther);
  ASSERT_TRUE(a && b_host && b_other);

  Sqe idns;
  idns.opcode = admin_opcode::kIdentify;
  idns.cdw10 = cns::kNamespace;
  idns.nsid = 2;
  std::vector<uint8_t> buf;
  EXPECT_EQ(admin(a, idns, kIdentifySize, &buf), sc::kSuccess);
  core_.remove_namespace(core_.find_subsystem(kSubA), 2);
  EXPECT_EQ(admin(a, idns, kIdentifySize, &buf) & 0x7ff, sc::kInvalidNamespace);
  EXPECT_EQ(core_.collect_retired(), 0u);  // idle: freed at once

  auto ns = std::make_unique<Namespace>();
  ns->nsid = 5;
  ns->backend = std::make_unique<FakeBackend>(1 << 20);
  ASSERT_TRUE(core_.add_namespace(core_.find_subsystem(kSubA), std::move(ns)).is_ok());
  idns.nsid = 5;
  EXPECT_EQ(admin(a, idns, kIdentifySize, &buf), sc::kSuccess);
  auto dup = std::make_unique<Namespace>();
  dup->nsid = 5;
  dup->backend = std::make_unique<FakeBackend>(1 << 20);
  EXPECT_FALSE(core_.add_namespace(core_.find_subsystem(kSubA), std::move(dup)).is_ok());

  core_.set_allowed_hosts(core_.find_subsystem(kSubB), false, {kHost});
  EXPECT_FALSE(b_host->dead);
  EXPECT_TRUE(b_other->dead);
  NvmeStatus status = 0;
  EXPECT_FALSE(connect(kSubB, kOther, 0, 0xffff, &status));
  EXPECT_EQ(status & 0x7ff, sc::kConnectInvalidHost);

  core_.remove_subsystem(kSubB);
  EXPECT_TRUE(b_host->dead);
  EXPECT_FALSE(a->dead);
  EXPECT_EQ(core_.find_subsystem(kSubB), nullptr);
  EXPECT_FALSE(connect(kSubB, kHost, 0, 0xffff, &status));
  EXPECT_EQ(status & 0x7ff, sc::kConnectInvalidParameters);
}

TEST_F(DiscoveryCoreTest, NamespaceChangesPostNamespaceAttributeNotices) {
  add(kSubA, {}, 1);
  add(kSubB, {});
  auto a = connect(kSubA, kHost);
  auto b = connect(kSubB, kHost);
  ASSERT_TRUE(a && b);
  Sqe id;
  id.opcode = admin_opcode::kIdentify;
  id.cdw10 = cns::kController;
  std::vector<uint8_t> buf;
  ASSERT_EQ(admin(a, id, kIdentifySize, &buf), sc::kSuccess);
  EXPECT_EQ(decode_identify_controller(buf.data()).oaes & (1u << 8), 1u << 8);

  auto send_aer = [this](const std::shared_ptr<Controller>& ctrl, TestRequest& t) {
    t.req.sqe = Sqe{};
    t.req.sqe.opcode = admin_opcode::kAsyncEventRequest;
    t.req.ctrl = ctrl;
    core_.execute(&t.req);
  };
  auto add_ns = [this](uint32_t nsid) {
    auto ns = std::make_unique<Namespace>();
    ns->nsid = nsid;
    ns->backend = std::make_unique<FakeBackend>(1 << 20);
    ASSERT_TRUE(core_.add_namespace(core_.find_subsystem(kSubA), std::move(ns)).is_ok());
  };
  TestRequest aer_a, aer_b;
  send_aer(a, aer_a);
  send_aer(b, aer_b);
  EXPECT_EQ(aer_a.completions, 0);  // held: nothing happened yet
  add_ns(2);
  ASSERT_EQ(aer_a.completions, 1);
  EXPECT_EQ(aer_a.req.cqe.status, sc::kSuccess);
  EXPECT_EQ(aer_a.req.cqe.dw0, 0x00040002u);  // notice, namespace attribute changed, log page 04h
  EXPECT_EQ(aer_b.completions, 0);            // another subsystem: no event

  core_.remove_namespace(core_.find_subsystem(kSubA), 1);
  TestRequest aer_a2;
  send_aer(a, aer_a2);
  EXPECT_EQ(aer_a2.completions, 0);  // no second notice before the log page is read

  std::vector<uint8_t> page;
  Sqe log;
  log.opcode = admin_opcode::kGetLogPage;
  log.cdw10 = log_id::kChangedNamespaceList | (1023u << 16);
  ASSERT_EQ(admin(a, log, 4096, &page), sc::kSuccess);
  EXPECT_EQ(get_le32(page.data()), 1u);
  EXPECT_EQ(get_le32(page.data() + 4), 2u);
  EXPECT_EQ(get_le32(page.data() + 8), 0u);
  ASSERT_EQ(admin(a, log, 4096, &page), sc::kSuccess);
  EXPECT_EQ(get_le32(page.data()), 0u);  // read: cleared

  add_ns(3);
  ASSERT_EQ(aer_a2.completions, 1);  // re-armed by the read
  EXPECT_EQ(aer_a2.req.cqe.dw0, 0x00040002u);
}

// Host and target over the memory link: Discover Query/Reply frames and the discovery controller.
TEST(DiscoveryLoop, QueryAndLogPageOverMemoryLink) {
  set_log_level(LogLevel::kError);
  const MacAddress host_mac{{0x02, 0, 0, 0, 0, 0x01}};
  const MacAddress target_mac{{0x02, 0, 0, 0, 0, 0x02}};
  auto pair = make_memory_link_pair(1500, 0x88b5, host_mac, target_mac);
  TargetCore core;
  for (int i = 0; i < 40; ++i) {  // more than one reply frame holds
    auto s = std::make_unique<Subsystem>();
    s->nqn = "nqn.2024-01.io.nvmeoe:a-rather-long-subsystem-name-to-fill-frames-" + std::to_string(i);
    if (i == 3) {
      s->allow_any_host = false;
      s->allowed_hosts.insert(kOther);
    }
    auto ns = std::make_unique<Namespace>();
    ns->nsid = 1;
    ns->backend = std::make_unique<FakeBackend>(uint64_t(i + 1) << 20);
    s->namespaces.push_back(std::move(ns));
    ASSERT_TRUE(core.add_subsystem(std::move(s)).is_ok());
  }
  Port port;
  port.portid = 1;
  port.traddr = target_mac.str();
  core.set_ports({port});
  TargetTransport target(&core, std::move(pair.b));
  std::thread thread([&] { EXPECT_TRUE(target.run().is_ok()); });

  DiscoveryRequest req;
  req.hostnqn = kHost;
  req.timeout = std::chrono::milliseconds(500);
  auto found = discover_targets(*pair.a, req);
  ASSERT_TRUE(found.is_ok()) << found.status().message();
  ASSERT_EQ(found->size(), 1u);
  const DiscoveredTarget& t = (*found)[0];
  EXPECT_EQ(t.mac, target_mac);
  EXPECT_TRUE(t.complete);
  ASSERT_EQ(t.subsystems.size(), 39u);  // one excludes this host
  EXPECT_EQ(t.subsystems[0].capacity_bytes, 1u << 20);
  EXPECT_EQ(t.subsystems[3].capacity_bytes, 5u << 20);  // index 3 is the fifth subsystem
  EXPECT_EQ(t.subsystems[3].namespaces, 1);

  ConnectOptions o;
  o.target_mac = target_mac.str();
  o.subnqn = kDiscoveryNqn;
  o.hostnqn = kHost;
  o.kato_ms = 0;
  o.ctrl_loss_tmo = std::chrono::milliseconds(0);
  o.connect_timeout = std::chrono::milliseconds(2000);
  auto ctrl = HostController::connect(std::move(pair.a), o);
  ASSERT_TRUE(ctrl.is_ok()) << ctrl.status().message();
  EXPECT_EQ((*ctrl)->io_queue_count(), 0);
  EXPECT_TRUE((*ctrl)->namespaces().empty());
  auto log = read_discovery_log(**ctrl);
  ASSERT_TRUE(log.is_ok()) << log.status().message();
  ASSERT_EQ(log->entries.size(), 39u);
  EXPECT_EQ(log->numrec, 39u);
  EXPECT_EQ(log->entries[0].traddr, target_mac.str());
  EXPECT_EQ(log->entries[0].subnqn, t.subsystems[0].subnqn);
  (*ctrl)->disconnect();
  target.request_stop();
  thread.join();
}

}  // namespace
}  // namespace nvmeoe
