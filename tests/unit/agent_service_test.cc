// The agent's serving part (tools/cli/agent_service.h) in front of a real target over a memory
// link: the info file and the 0600 socket, I/O and statistics through the control protocol, a
// disconnect request and a stop ending the loop, and the files gone afterwards.
#include "cli/agent_service.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/control.h"
#include "common/unix_stream.h"
#include "link/link.h"
#include "target/core.h"
#include "target/target.h"
#include "test_util.h"
#include "wire/frame.h"

namespace nvmeoe::cli {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 0x0a, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 0x0a, 0x02}};
constexpr const char* kNqn = "nqn.2026-12.io.nvmeoe:agent-service";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:0a0a0a0a-2222-3333-4444-555555555555";

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
    ASSERT_TRUE(core_.add_subsystem(test::ram_subsystem(kNqn)).is_ok());
    target_ = std::make_unique<TargetTransport>(&core_, std::move(pair.b));
    target_thread_ = std::thread([this] { EXPECT_TRUE(target_->run().is_ok()); });
    ConnectOptions o;
    o.target_mac = kTargetMac.str();
    o.subnqn = kNqn;
    o.hostnqn = kHostNqn;
    o.nr_io_queues = 1;
    o.queue_size = 16;
    auto hc = HostController::connect(std::move(pair.a), o);
    ASSERT_TRUE(hc) << hc.status().message();
    hc_ = std::move(hc).value();
  }
  void TearDown() override {
    if (hc_) hc_->disconnect();
    if (target_) target_->request_stop();
    if (target_thread_.joinable()) target_thread_.join();
  }

  AgentService::Params params() const {
    AgentService::Params p;
    p.hc = hc_.get();
    p.name = "nvmeoe7";
    p.pid = int(::getpid());
    p.ethertype = kDefaultEtherType;
    p.socket_path = dir_.path() + "/nvmeoe7.sock";
    p.info_path = dir_.path() + "/nvmeoe7.json";
    p.alive_poll = std::chrono::milliseconds(100);
    return p;
  }

  test::TempDir dir_;
  TargetCore core_;
  std::unique_ptr<TargetTransport> target_;
  std::thread target_thread_;
  std::unique_ptr<HostController> hc_;
};

TEST_F(AgentServiceTest, ServesIoAndStatsUntilADisconnectRequest) {
  ASSERT_TRUE(hc_);
  AgentService::Params p = params();
  auto service = AgentService::start(p);
  ASSERT_TRUE(service) << service.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(p.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << "the socket is the owner's alone";
  std::ifstream info_in(p.info_path);
  nlohmann::json info = nlohmann::json::parse(info_in, nullptr, false);
  ASSERT_FALSE(info.is_discarded());
  EXPECT_EQ(info["name"], "nvmeoe7");
  EXPECT_EQ(info["subnqn"], kNqn);
  EXPECT_EQ(info["socket"], p.socket_path);

  AgentService::End end = AgentService::End::kStopped;
  std::thread loop([&] { end = (*service)->run(nullptr); });

  auto stream = connect_unix(p.socket_path, std::chrono::seconds(5), "no agent");
  ASSERT_TRUE(stream) << stream.status().message();
  auto who = control_call(*stream, ControlRequest{ControlOp::kInfo});
  ASSERT_TRUE(who) << who.status().message();
  ASSERT_TRUE(who->has_info);
  EXPECT_EQ(who->info.subnqn, kNqn);
  ASSERT_EQ(who->info.namespaces.size(), 1u);

  std::vector<uint8_t> out(4096), in;
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(i * 13 + 1);
  ControlRequest w{ControlOp::kWrite, 1, 16, 8};
  w.bytes = out.size();
  auto wr = control_call(*stream, w, out);
  ASSERT_TRUE(wr) << wr.status().message();
  EXPECT_EQ(wr->kind, ControlReply::Kind::kOk) << wr->error;
  auto rd = control_call(*stream, ControlRequest{ControlOp::kRead, 1, 16, 8}, {}, &in);
  ASSERT_TRUE(rd) << rd.status().message();
  EXPECT_EQ(rd->kind, ControlReply::Kind::kOk) << rd->error;
  EXPECT_EQ(in, out);
  auto past_end = control_call(*stream, ControlRequest{ControlOp::kRead, 1, 32768, 8}, {}, &in);
  ASSERT_TRUE(past_end);
  EXPECT_EQ(past_end->kind, ControlReply::Kind::kNvmeStatus) << "LBA out of range is the target's answer";

  auto stats = control_call(*stream, ControlRequest{ControlOp::kStats});
  ASSERT_TRUE(stats) << stats.status().message();
  ASSERT_TRUE(stats->has_stats);
  uint64_t io_commands = 0;
  for (const auto& q : stats->stats.queues)
    if (q.qid != 0) io_commands += q.commands;
  EXPECT_GE(io_commands, 3u);

  auto bye = control_call(*stream, ControlRequest{ControlOp::kDisconnect});
  ASSERT_TRUE(bye);
  loop.join();
  EXPECT_EQ(end, AgentService::End::kDisconnectRequested);
  (*service)->close_files();
  EXPECT_FALSE(exists(p.socket_path));
  EXPECT_FALSE(exists(p.info_path));
  hc_->disconnect();
  (*service)->stop_clients();
}

TEST_F(AgentServiceTest, StopsOnRequestWithAClientConnected) {
  ASSERT_TRUE(hc_);
  AgentService::Params p = params();
  auto service = AgentService::start(p);
  ASSERT_TRUE(service) << service.status().message();
  std::atomic<bool> flag{false};
  AgentService::End end = AgentService::End::kDisconnectRequested;
  std::thread loop([&] { end = (*service)->run([&] { return flag.load(); }); });
  auto idle = connect_unix(p.socket_path, std::chrono::seconds(5), "no agent");
  ASSERT_TRUE(idle);
  flag = true;  // seen at the next poll (100 ms here)
  loop.join();
  EXPECT_EQ(end, AgentService::End::kStopped);
  EXPECT_STREQ(agent_end_name(end), "stopped by signal");

  // A second run ends at once through request_stop() from another thread.
  flag = false;
  std::thread again([&] { end = (*service)->run(nullptr); });
  (*service)->request_stop();
  again.join();
  EXPECT_EQ(end, AgentService::End::kStopped);
  service->reset();  // closes the files and ends the idle client's thread
  EXPECT_FALSE(exists(p.socket_path));
  std::string line;
  bool eof = false;
  EXPECT_FALSE(idle->read_line(&line, &eof));
}

}  // namespace
}  // namespace nvmeoe::cli
