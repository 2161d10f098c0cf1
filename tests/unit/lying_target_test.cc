// The host library against a target that lies (tests/unit/fake_target.h over a memory link):
// every value a target sends is checked before use, and a wrong one ends the connect (or the
// command) with an error naming the field, never a crash, a hang or a silent short read.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>

#include "cli/agent_server.h"
#include "cli/control.h"
#include "fake_target.h"
#include "nvmeoe/host.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 7, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 7, 0x02}};
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:77777777-2222-3333-4444-555555555555";

struct Rig {
  std::unique_ptr<FakeTarget> target;
  std::unique_ptr<Link> host_link;
  FakeScript script;

  explicit Rig(FakeScript s, bool batching = false) : script(s) {
    auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
    host_link = batching ? std::make_unique<BatchingLink>(std::move(pair.a)) : std::move(pair.a);
    target = std::make_unique<FakeTarget>(std::move(pair.b), std::move(s));
  }

  ConnectOptions options() const {
    ConnectOptions o;
    o.target_mac = kTargetMac.str();
    o.subnqn = script.subnqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = 1;
    o.queue_size = 16;
    o.kato_ms = 0;
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.io_timeout = std::chrono::milliseconds(3000);
    return o;
  }

  // Connects, bounded: a host that hangs on a lie fails the test instead of the run.
  Result<std::unique_ptr<HostController>> connect() {
    auto done = std::make_shared<std::promise<Result<std::unique_ptr<HostController>>>>();
    auto fut = done->get_future();
    std::thread([done, link = std::move(host_link), o = options()]() mutable {
      done->set_value(HostController::connect(std::move(link), o));
    }).detach();
    if (fut.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      std::fprintf(stderr, "connect to the lying target did not return within 20 s: the host hangs\n");
      std::abort();
    }
    return fut.get();
  }
};

// Connect must fail, and its message contain `what`.
void expect_refused(FakeScript s, const std::string& what) {
  Rig rig(std::move(s));
  auto host = rig.connect();
  ASSERT_FALSE(host.is_ok()) << "connect succeeded; expected an error about " << what;
  EXPECT_NE(host.status().message().find(what), std::string::npos) << host.status().message();
}

TEST(LyingTarget, AnHonestScriptConnects) {
  FakeScript s;
  Rig rig(s);
  auto host = rig.connect();
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  EXPECT_EQ((*host)->namespaces().size(), 1u);
  EXPECT_EQ((*host)->io_queue_count(), 1);
  std::vector<uint8_t> buf(4096);
  EXPECT_TRUE((*host)->read_sync(1, 0, 8, buf.data()).ok());
  EXPECT_EQ(buf[4095], 0xa5);
  (*host)->disconnect();
}

// Item 4: bytes that are not ASCII in SUBNQN (and the other text fields) end the connect.
TEST(LyingTarget, InvalidUtf8InSubnqnIsRefused) {
  FakeScript s;
  s.identify_controller = [](uint8_t* id) {
    id[idctl::kSubnqn + 6] = 0xc3;  // a lone UTF-8 lead byte
    id[idctl::kSubnqn + 7] = 0x28;
  };
  expect_refused(s, "Identify Controller: SUBNQN");
}

TEST(LyingTarget, ControlBytesInModelAreRefused) {
  FakeScript s;
  s.identify_controller = [](uint8_t* id) { id[idctl::kMn + 3] = 0x07; };
  expect_refused(s, "Identify Controller: MN");
}

TEST(LyingTarget, ADifferentSubnqnIsRefused) {
  FakeScript s;
  s.identify_controller = [](uint8_t* id) { std::memcpy(id + idctl::kSubnqn + 4, "evil", 4); };
  expect_refused(s, "is not the subsystem connected to");
}

// Item 5: MDTS 255 (an all-0xff Identify byte) is "very large", not an undefined shift.
TEST(LyingTarget, Mdts255IsBoundedByTheTransport) {
  FakeScript s;
  s.identify_controller = [](uint8_t* id) { id[idctl::kMdts] = 0xff; };
  Rig rig(s);
  auto host = rig.connect();
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  EXPECT_EQ((*host)->controller().max_transfer, 1u << 20);  // the Connect Response's max transfer
  (*host)->disconnect();
}

// Items 6 and 7: LBADS >= 32 (undefined shift) and LBADS < 9 (buffers sized from a block size
// the library does not use) are refused at connect, naming the namespace and the field.
TEST(LyingTarget, UnservableLbaFormatsAreRefused) {
  for (uint8_t lbads : {0, 7, 12, 32, 255}) {
    SCOPED_TRACE(int(lbads));
    FakeScript s;
    s.identify_namespace = [lbads](uint32_t, uint8_t* id) { put_le32(id + idns::kLbaf0, uint32_t(lbads) << 16); };
    expect_refused(s, "namespace 1: Identify Namespace: LBADS " + std::to_string(lbads));
  }
  FakeScript s;
  s.identify_namespace = [](uint32_t, uint8_t* id) { put_le32(id + idns::kLbaf0, (9u << 16) | 8); };
  expect_refused(s, "MS 8");
  s.identify_namespace = [](uint32_t, uint8_t* id) { id[idns::kFlbas] = 3; };  // NLBAF 0: one format
  expect_refused(s, "FLBAS selects LBA format 3");
}

// Item 8: a Retransmit Request for the Fabrics Connect's data in the same receive batch as the
// Connect's response: the data frames queued for sending must not outlive the connect data.
TEST(LyingTarget, ConnectDataResentInTheBatchOfTheResponse) {
  FakeScript s;
  s.retransmit_connect_data = true;
  Rig rig(s, /*batching=*/true);
  FakeTarget* target = rig.target.get();
  auto host = rig.connect();
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  // Whatever went out went out with the connect data's bytes (the host NQN at offset 512).
  auto resent = target->connect_data_resent();
  ASSERT_FALSE(resent.empty());
  std::string nqn(reinterpret_cast<const char*>(resent[0].data()) + 512, std::strlen(kHostNqn));
  EXPECT_EQ(nqn, kHostNqn);
  (*host)->disconnect();
}

// Item 9: a Connect Response granting 0 entries ends the connect at once, it does not wait.
TEST(LyingTarget, QueueOfZeroEntriesIsRefused) {
  FakeScript s;
  s.grant = [](uint16_t, ConnectResponse* r) { r->queue_size = 0; };
  auto start = std::chrono::steady_clock::now();
  expect_refused(s, "grants a queue of 0 entries");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  s.grant = [](uint16_t qid, ConnectResponse* r) {
    if (qid == 1) r->queue_size = 1;
  };
  expect_refused(s, "queue 1: Connect Response grants a queue of 1 entries");
}

// Item 10: a max payload of 0 (with a Retransmit Request that would make the host send data in
// frames of that size) is refused at the handshake, as is a payload larger than asked for.
TEST(LyingTarget, UnusableFrameSizesAreRefused) {
  FakeScript s;
  s.grant = [](uint16_t, ConnectResponse* r) { r->max_frame = 0; };
  s.retransmit_connect_data = true;
  expect_refused(s, "grants 0-byte frames (max frame");
  s.grant = [](uint16_t, ConnectResponse* r) { r->max_frame = 9000; };
  expect_refused(s, "grants 9000-byte frames");
  s.grant = [](uint16_t, ConnectResponse* r) { r->max_transfer = 0; };
  expect_refused(s, "max transfer");
  s.grant = [](uint16_t, ConnectResponse* r) { r->digests = 0x02; };  // a bit no host asks for
  expect_refused(s, "digests the host did not ask for");
}

// Item 11: a full page of 1024 namespaces is served, and the agent's info reply for it reaches
// the CLI; duplicates or a list out of order are refused.
TEST(LyingTarget, ThousandNamespacesReachTheCli) {
  FakeScript s;
  s.nsids.clear();
  for (uint32_t i = 1; i <= 1024; ++i) s.nsids.push_back(i);
  Rig rig(s);
  auto host = rig.connect();
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  ASSERT_EQ((*host)->namespaces().size(), 1024u);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  HostController* hc = host->get();
  std::thread agent([hc, fd = sv[0]] {
    cli::ControlStream stream(fd);
    cli::AgentServer server(hc, "nvmeoe0", 1, kDefaultEtherType);
    server.serve_connection(stream);
  });
  {
    cli::ControlStream client(sv[1]);
    client.set_timeout(std::chrono::seconds(10));
    auto reply = cli::control_call(client, cli::ControlRequest{cli::ControlOp::kInfo});
    ASSERT_TRUE(reply) << reply.status().message();
    ASSERT_TRUE(reply->has_info);
    EXPECT_EQ(reply->info.namespaces.size(), 1024u);
  }
  agent.join();
  (*host)->disconnect();
}

TEST(LyingTarget, DuplicateNamespacesAreRefused) {
  FakeScript s;
  s.nsids = {1, 2, 2, 3};
  expect_refused(s, "Active Namespace List: entry 2 (NSID 2) does not follow NSID 2");
  s.nsids = {3, 1};
  expect_refused(s, "Active Namespace List: entry 1");
}

// Item 12: Set Features granting "65536" queues (which a 16-bit count makes 0) is an error, not
// I/O on the admin queue.
TEST(LyingTarget, ZeroIoQueuesIsRefused) {
  FakeScript s;
  s.queues_dw0 = 0xffffffffu;
  expect_refused(s, "Set Features (Number of Queues)");
}

// Item 12: a read that returns less data than asked for is an error.
TEST(LyingTarget, ShortReadIsAnError) {
  FakeScript s;
  s.short_read_bytes = 2048;
  Rig rig(s);
  auto host = rig.connect();
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  std::vector<uint8_t> buf(4096);
  Completion r = (*host)->read_sync(1, 0, 8, buf.data());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status & 0x7ff, sc::kDataTransferError);
  (*host)->disconnect();
}

}  // namespace
}  // namespace nvmeoe
