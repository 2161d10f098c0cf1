// `nvmeoe target-stats` against a target with 10,000 associations (item 17 of the hostile-peer
// work): totals by default, every association on request (in pages), and never a success that
// shows nothing when a target's answer is unusable.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "backend/backend.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "link/link.h"
#include "spoof_frames.h"
#include "target/control_server.h"
#include "target/core.h"
#include "target/target.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 10, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 10, 0x02}};

// Runs `nvmeoe target-stats ARGS`; returns its status, stdout and stderr.
struct CliRun {
  int rc = -1;
  std::string out, err;
};
CliRun target_stats(std::vector<std::string> args) {
  CliRun r;
  std::vector<std::string> argv_s = {"nvmeoe", "target-stats"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  char out_path[] = "/tmp/nvmeoe-ts-out.XXXXXX", err_path[] = "/tmp/nvmeoe-ts-err.XXXXXX";
  int out_fd = ::mkstemp(out_path), err_fd = ::mkstemp(err_path);
  std::fflush(stdout);
  std::fflush(stderr);
  int saved_out = ::dup(1), saved_err = ::dup(2);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  {
    CLI::App app{"test", "nvmeoe"};
    app.require_subcommand(1);
    cli::Subcommand cmd = cli::add_target_stats_command(app);
    int rc = cli::parse_command_line(app, int(argv.size()), argv.data());
    r.rc = rc >= 0 ? rc : cmd.run();
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
  auto slurp = [](const char* p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  ::close(out_fd);
  ::close(err_fd);
  ::unlink(out_path);
  ::unlink(err_path);
  return r;
}

class ManyAssociations : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvmeoe-ts.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
    wire_ = std::move(pair.a);
    core_ = std::make_unique<TargetCore>();
    auto sub = std::make_unique<Subsystem>();
    sub->nqn = "nqn.2026-11.io.nvmeoe:many";
    ASSERT_TRUE(core_->add_subsystem(std::move(sub)).is_ok());
    TargetOptions o;
    o.limits.max_associations = 12000;
    o.limits.max_unbound = 12000;
    o.limits.setup_timeout_ms = 600000;
    target_ = std::make_unique<TargetTransport>(core_.get(), std::move(pair.b), o);
    thread_ = std::thread([this] { EXPECT_TRUE(target_->run().is_ok()); });
    // 10,000 handshakes from 10,000 MACs.
    Spoofer spoof(kTargetMac, kDefaultEtherType);
    std::vector<std::vector<uint8_t>> frames;
    TxFrameList tx;
    for (uint32_t i = 0; i < 10000; ++i) {
      frames.push_back(spoof.connect_request(spoofed_mac(i, 0x11), 0, i + 1, 32));
      if (frames.size() == 256 || i == 9999) {
        tx.clear();
        for (const auto& f : frames) tx.add(f);
        ASSERT_TRUE(wire_->send(tx.frames()).is_ok());
        frames.clear();
        wire_->receive([](std::span<const uint8_t>) {}, 4096);  // the answers, unread
      }
    }
    for (int i = 0; i < 200; ++i) {
      auto snap = target_->snapshot(0);
      if (snap.is_ok() && snap->totals.associations == 10000) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      wire_->receive([](std::span<const uint8_t>) {}, 4096);
    }
    socket_ = dir_ + "/target-many.sock";
    auto server = TargetControlServer::start(socket_, {{"mem many", target_.get()}});
    ASSERT_TRUE(server) << server.status().message();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    server_.reset();
    if (target_) {
      target_->request_stop();
      thread_.join();
    }
    ::rmdir(dir_.c_str());
  }

  std::string dir_, socket_;
  std::unique_ptr<Link> wire_;
  std::unique_ptr<TargetCore> core_;
  std::unique_ptr<TargetTransport> target_;
  std::thread thread_;
  std::unique_ptr<TargetControlServer> server_;
};

TEST_F(ManyAssociations, TotalsByDefault) {
  CliRun r = target_stats({"--socket", socket_, "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& t = j["processes"][0]["targets"][0];
  EXPECT_EQ(t["totals"]["associations"], 10000);
  EXPECT_EQ(t["queue_count"], 10000);
  EXPECT_TRUE(t["queues"].empty());
  r = target_stats({"--socket", socket_});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("10000 associations, frames in"), std::string::npos) << r.out.substr(0, 400);
  EXPECT_NE(r.out.find("(10000 associations not listed: --associations lists them)"), std::string::npos);
}

TEST_F(ManyAssociations, EveryAssociationOnRequest) {
  CliRun r = target_stats({"--socket", socket_, "-o", "json", "--associations"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& queues = j["processes"][0]["targets"][0]["queues"];
  ASSERT_EQ(queues.size(), 10000u);
  std::set<std::string> macs;
  for (const auto& q : queues) macs.insert(q["host_mac"].get<std::string>());
  EXPECT_EQ(macs.size(), 10000u);  // each once: the pages come from one snapshot
}

TEST_F(ManyAssociations, EveryReplyLineIsBounded) {
  // An old client's request ({"op":"stats"}) gets a first page that fits its 64 KiB lines.
  std::string line = server_->handle("{\"op\":\"stats\"}\n");
  EXPECT_LT(line.size(), 64u * 1024);
  auto j = nlohmann::json::parse(line);
  EXPECT_GT(j["next"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["targets"][0]["queue_count"], 10000);
}

// Run directory with one socket that answers garbage: target-stats says so and fails.
TEST(TargetStatsErrors, AnUnusableAnswerIsAFailureNotAnEmptyList) {
  char tmpl[] = "/tmp/nvmeoe-ts-bad.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, path = dir + "/target-bad.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  std::thread server([fd] {
    int c = ::accept(fd, nullptr, nullptr);
    char buf[256];
    (void)!::recv(c, buf, sizeof buf, 0);
    (void)!::send(c, "this is not JSON\n", 17, MSG_NOSIGNAL);
    ::close(c);
  });
  const char* old = std::getenv("NVMEOE_RUN_DIR");
  std::string saved = old ? old : "";
  ::setenv("NVMEOE_RUN_DIR", dir.c_str(), 1);
  CliRun r = target_stats({"-o", "json"});
  if (old)
    ::setenv("NVMEOE_RUN_DIR", saved.c_str(), 1);
  else
    ::unsetenv("NVMEOE_RUN_DIR");
  server.join();
  ::close(fd);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.err.find("target-bad.sock"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nvmeoe
