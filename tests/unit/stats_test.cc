// Statistics: host per-queue counters and latency, the target's per-association snapshot taken
// across threads, its control socket, and the JSON encodings and printers of `nvmeoe stats` and
// `nvmeoe target-stats` -- host and target joined by the in-memory link.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "backend/backend.h"
#include "cli/control.h"
#include "cli/stats_print.h"
#include "link/link.h"
#include "nvmeoe/host.h"
#include "target/control_server.h"
#include "target/core.h"
#include "target/target.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 0, 0x11}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 0, 0x12}};
constexpr const char* kNqn = "nqn.2026-11.io.nvmeoe:stats";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-000000000005";

struct StatsLoop {
  std::unique_ptr<TargetCore> core = std::make_unique<TargetCore>();
  std::unique_ptr<TargetTransport> target;
  std::thread target_thread;
  std::unique_ptr<HostController> host;

  StatsLoop() {
    auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
    auto sub = std::make_unique<Subsystem>();
    sub->nqn = kNqn;
    auto ns = std::make_unique<Namespace>();
    ns->nsid = 1;
    auto be = open_backend("mem:16M", false);
    EXPECT_TRUE(be.is_ok());
    ns->backend = std::move(be.value());
    sub->namespaces.push_back(std::move(ns));
    EXPECT_TRUE(core->add_subsystem(std::move(sub)).is_ok());
    target = std::make_unique<TargetTransport>(core.get(), std::move(pair.b));
    target_thread = std::thread([this] { EXPECT_TRUE(target->run().is_ok()); });
    ConnectOptions o;
    o.target_mac = kTargetMac.str();
    o.subnqn = kNqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = 1;
    o.queue_size = 32;
    auto hc = HostController::connect(std::move(pair.a), o);
    EXPECT_TRUE(hc.is_ok());
    if (hc) host = std::move(hc.value());
  }
  ~StatsLoop() {
    if (host) host->disconnect();
    target->request_stop();
    target_thread.join();
  }
};

const QueueStats* host_queue(const std::vector<QueueStats>& v, uint16_t qid) {
  for (const auto& q : v)
    if (q.qid == qid) return &q;
  return nullptr;
}

const TargetQueueStats* target_queue(const TargetSnapshot& s, uint16_t qid) {
  for (const auto& q : s.queues)
    if (q.qid == qid) return &q;
  return nullptr;
}

// Issues 5 writes of 4 KiB and 3 reads of 8 KiB on queue 1.
void issue_known_io(HostController& hc) {
  std::vector<uint8_t> buf(8192, 0xab);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(hc.write_sync(1, uint64_t(i) * 8, 8, buf.data()).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hc.read_sync(1, uint64_t(i) * 16, 16, buf.data()).ok());
}

TEST(StatsTest, HostCountsReadsWritesBytesAndLatency) {
  StatsLoop loop;
  ASSERT_TRUE(loop.host);
  issue_known_io(*loop.host);
  auto stats = loop.host->stats();
  const QueueStats* q1 = host_queue(stats, 1);
  ASSERT_NE(q1, nullptr);
  EXPECT_EQ(q1->reads, 3u);
  EXPECT_EQ(q1->writes, 5u);
  EXPECT_EQ(q1->other, 1u);  // the queue's Fabrics Connect
  EXPECT_EQ(q1->commands, 9u);
  EXPECT_EQ(q1->bytes_written, 5u * 4096 + 1024);
  EXPECT_EQ(q1->bytes_read, 3u * 8192);
  EXPECT_EQ(q1->latency_count, 9u);
  EXPECT_GT(q1->latency_p50_us, 0);
  EXPECT_LE(q1->latency_p50_us, q1->latency_p99_us);
  EXPECT_LE(q1->latency_p99_us, q1->latency_p999_us);
  EXPECT_LE(q1->latency_p999_us, q1->latency_max_us);
  const QueueStats* q0 = host_queue(stats, 0);
  ASSERT_NE(q0, nullptr);
  EXPECT_EQ(q0->reads + q0->writes, 0u);
  EXPECT_EQ(q0->other, q0->commands);
}

TEST(StatsTest, TargetSnapshotMatchesTheHost) {
  StatsLoop loop;
  ASSERT_TRUE(loop.host);
  issue_known_io(*loop.host);
  auto snap = loop.target->snapshot();
  ASSERT_TRUE(snap) << snap.status().message();
  EXPECT_EQ(snap->mac, kTargetMac.str());
  EXPECT_EQ(snap->totals.associations, 2u);
  const TargetQueueStats* q1 = target_queue(*snap, 1);
  ASSERT_NE(q1, nullptr);
  EXPECT_EQ(q1->host_mac, kHostMac.str());
  EXPECT_EQ(q1->hostnqn, kHostNqn);
  EXPECT_EQ(q1->subnqn, kNqn);
  EXPECT_EQ(q1->cntlid, loop.host->controller().cntlid);
  EXPECT_EQ(q1->counters.commands, 9u);
  EXPECT_EQ(q1->counters.reads, 3u);
  EXPECT_EQ(q1->counters.writes, 5u);
  EXPECT_EQ(q1->counters.bytes_in, 5u * 4096 + 1024);
  EXPECT_EQ(q1->counters.bytes_out, 3u * 8192);
  EXPECT_EQ(q1->in_flight, 0u);
  EXPECT_EQ(q1->service_time.count, 9u);
  EXPECT_LE(q1->service_time.p50_us, q1->service_time.p99_us);
}

TEST(StatsTest, SnapshotOfAStoppedTransportFails) {
  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
  TargetCore core;
  TargetTransport t(&core, std::move(pair.b));
  auto snap = t.snapshot(0, std::chrono::milliseconds(100));
  ASSERT_FALSE(snap);
  EXPECT_NE(snap.status().message().find("not running"), std::string::npos);
}

std::string ask(const std::string& path, const std::string& request) {
  auto stream = connect_unix(path, std::chrono::seconds(5), "no server");
  if (!stream) return "connect failed";
  UnixStream& s = *stream;
  if (!s.write_all(request)) return "send failed";
  std::string line;
  if (!s.read_line(&line)) return "no reply";
  return line;
}

TEST(StatsTest, ControlServerAnswersOverItsSocket) {
  StatsLoop loop;
  ASSERT_TRUE(loop.host);
  issue_known_io(*loop.host);
  char dir[] = "/tmp/nvmeoe-stats-test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = target_socket_path(std::string(dir) + "/target-x.lock");
  EXPECT_EQ(path, std::string(dir) + "/target-x.sock");
  {
    auto server = TargetControlServer::start(path, {{"mem " + std::string(kNqn), loop.target.get()}});
    ASSERT_TRUE(server) << server.status().message();
    std::string line = ask(path, "{\"op\":\"stats\"}\n");
    auto parsed = cli::decode_target_stats_reply(path, line);
    ASSERT_TRUE(parsed) << parsed.status().message() << ": " << line;
    EXPECT_EQ(parsed->pid, int(::getpid()));
    ASSERT_EQ(parsed->targets.size(), 1u);
    EXPECT_EQ(parsed->targets[0].name, "mem " + std::string(kNqn));
    const TargetQueueStats* q1 = target_queue(parsed->targets[0], 1);
    ASSERT_NE(q1, nullptr);
    EXPECT_EQ(q1->counters.writes, 5u);
    EXPECT_EQ(q1->counters.bytes_out, 3u * 8192);
    EXPECT_NE(ask(path, "{\"op\":\"reboot\"}\n").find("unknown op"), std::string::npos);
    EXPECT_NE(ask(path, "not json\n").find("error"), std::string::npos);
    EXPECT_NE((*server)->handle("[1,2]").find("not a JSON object"), std::string::npos);
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed with the server
  ::rmdir(dir);
}

TEST(StatsTest, LongLockPathsGetAHashedSocketName) {
  std::string lock = "/tmp/" + std::string(200, 'a') + "/target-eth0-" + std::string(90, 'n') + ".lock";
  std::string sock = target_socket_path(lock);
  EXPECT_LT(sock.size(), sizeof(sockaddr_un{}.sun_path) + 200);  // lives in the same directory
  EXPECT_EQ(sock.rfind("/tmp/" + std::string(200, 'a') + "/target-", 0), 0u);
  EXPECT_EQ(sock.substr(sock.size() - 5), ".sock");
  EXPECT_EQ(target_socket_path(lock), sock);  // stable
}

TEST(StatsJsonTest, TargetSnapshotRoundTrip) {
  TargetSnapshot s;
  s.name = "eth1 nqn.x";
  s.mac = "02:00:00:00:00:02";
  s.totals.frames_in = 10;
  s.totals.digest_errors = 2;
  s.totals.associations = 1;
  TargetQueueStats q;
  q.host_mac = "02:00:00:00:00:01";
  q.hostnqn = "nqn.h";
  q.subnqn = "nqn.s";
  q.qid = 3;
  q.cntlid = 7;
  q.nonce = 0xdeadbeef;
  q.size = 64;
  q.in_flight = 4;
  q.counters.commands = 100;
  q.counters.reads = 60;
  q.counters.writes = 39;
  q.counters.other = 1;
  q.counters.bytes_in = 1ull << 40;
  q.counters.bytes_out = 12345;
  q.counters.retransmit_requests = 5;
  q.counters.duplicates = 6;
  q.counters.stale = 7;
  q.counters.digest_errors = 8;
  q.service_time = LatencySummary{100, 12.5, 99.0, 10.0, 50.0, 90.0};
  s.queues.push_back(q);
  nlohmann::json j = s;
  EXPECT_EQ(j["queues"][0]["retransmit_requests"], 5);
  EXPECT_EQ(j["queues"][0]["service_p99_us"], 50.0);
  EXPECT_EQ(j["totals"]["digest_errors"], 2);
  TargetSnapshot back = j.get<TargetSnapshot>();
  EXPECT_EQ(back.name, s.name);
  EXPECT_EQ(back.totals.frames_in, 10u);
  ASSERT_EQ(back.queues.size(), 1u);
  const TargetQueueStats& b = back.queues[0];
  EXPECT_EQ(b.nonce, 0xdeadbeefu);
  EXPECT_EQ(b.counters.bytes_in, 1ull << 40);
  EXPECT_EQ(b.counters.stale, 7u);
  EXPECT_EQ(b.service_time.count, 100u);
  EXPECT_EQ(b.service_time.p999_us, 90.0);
  EXPECT_FALSE(cli::decode_target_stats_reply("s", R"({"ok":true})"));
  EXPECT_FALSE(cli::decode_target_stats_reply("s", R"({"ok":true,"targets":[{"queues":[]}]})"));  // no totals
  auto err = cli::decode_target_stats_reply("s", R"({"error":"boom"})");
  ASSERT_FALSE(err);
  EXPECT_NE(err.status().message().find("boom"), std::string::npos);
}

cli::ControllerModel sample_controller(uint64_t commands, uint64_t bytes_read, const LatencyHistogram& lat = {}) {
  cli::ControllerModel c;
  c.name = "nvmeoe0";
  c.subnqn = kNqn;
  c.target_mac = kTargetMac.str();
  c.state = "live";
  cli::QueueModel q;
  q.qid = 1;
  q.commands = commands;
  q.reads = commands;
  q.bytes_read = bytes_read;
  q.latency_count = commands;
  q.latency_p50_us = 80;
  q.latency_p99_us = 200;
  q.latency_p999_us = 400;
  q.latency_buckets = to_buckets(lat);
  c.queues.push_back(q);
  return c;
}

TEST(StatsJsonTest, StatsReplyRoundTripWithoutNamespaces) {
  cli::ControlReply r = cli::ControlReply::ok();
  r.has_stats = true;
  r.stats = sample_controller(42, 4096);
  r.stats.namespaces.push_back(cli::NamespaceModel{1, 100, 50, 512});
  std::string line = cli::encode_reply(r);
  EXPECT_EQ(line.find("namespaces"), std::string::npos);
  auto back = cli::decode_reply(line);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->has_stats);
  ASSERT_EQ(back->stats.queues.size(), 1u);
  EXPECT_EQ(back->stats.queues[0].reads, 42u);
  EXPECT_EQ(back->stats.queues[0].latency_p999_us, 400.0);
  auto req = cli::decode_request(cli::encode_request(cli::ControlRequest{cli::ControlOp::kStats}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->op, cli::ControlOp::kStats);
}

TEST(StatsJsonTest, WatchSamplesBecomeRates) {
  LatencyHistogram lat;
  for (int i = 0; i < 100; ++i) lat.record(80'000);
  std::vector<cli::ControllerModel> before{sample_controller(100, 1 << 20, lat)};
  for (int i = 0; i < 200; ++i) lat.record(3'000'000);  // the interval's commands took 3 ms
  std::vector<cli::ControllerModel> after{sample_controller(300, 5 << 20, lat)};
  auto totals = cli::host_stats_json(after, nullptr, 0);
  EXPECT_FALSE(totals.contains("interval_s"));
  EXPECT_FALSE(totals["controllers"][0]["queues"][0].contains("rates"));
  auto rates = cli::host_stats_json(after, &before, 2.0);
  EXPECT_EQ(rates["interval_s"], 2.0);
  EXPECT_EQ(rates["controllers"][0]["queues"][0]["rates"]["commands_per_s"], 100.0);
  EXPECT_EQ(rates["controllers"][0]["queues"][0]["rates"]["bytes_read_per_s"], double(2 << 20));
  EXPECT_EQ(rates["controllers"][0]["queues"][0]["rates"]["latency_count"], 200u);
  EXPECT_NEAR(rates["controllers"][0]["queues"][0]["rates"]["latency_p50_us"].get<double>(), 3000.0, 3000.0 * 0.02);
  EXPECT_EQ(totals["controllers"][0]["queues"][0]["latency_p50_us"], 80.0);  // since connect, as reported
  std::string table = cli::format_host_stats(after, &before, 2.0);
  EXPECT_NE(table.find("cmd/s"), std::string::npos);
  EXPECT_NE(table.find("100.0"), std::string::npos);
  EXPECT_NE(table.find(" 2981.9 "), std::string::npos) << table;  // the interval's p50 (3 ms), not 80
  std::string plain = cli::format_host_stats(after, nullptr, 0);
  EXPECT_NE(plain.find("totals since connect"), std::string::npos);
  EXPECT_NE(plain.find("300"), std::string::npos);
  EXPECT_EQ(cli::format_host_stats({}, nullptr, 0), "No nvmeoe controllers.\n");
}

}  // namespace
}  // namespace nvmeoe
