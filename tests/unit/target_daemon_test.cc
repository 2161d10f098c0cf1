// The target daemon (src/target/daemon.h), as nvmeoe-target assembles it, over a memory link: a
// configuration's subsystems and port served, a port that hides a subsystem, the statistics
// socket, a reload from the file (a good one applied, a broken one changing nothing), and the
// errors of a configuration that cannot be served.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "borrowed_link.h"
#include "common/unix_stream.h"
#include "nvmeoe/host.h"
#include "target/daemon.h"
#include "test_util.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

const MacAddress kHostMac{{0x02, 0, 0, 0, 0x0d, 0x01}};
const MacAddress kTargetMac{{0x02, 0, 0, 0, 0x0d, 0x02}};
constexpr const char* kShown = "nqn.2026-12.io.nvmeoe:daemon-shown";
constexpr const char* kHidden = "nqn.2026-12.io.nvmeoe:daemon-hidden";
constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:0d0d0d0d-2222-3333-4444-555555555555";

TargetConfig two_subsystems_one_shown() {
  TargetConfig c;
  for (const char* nqn : {kShown, kHidden}) {
    SubsystemConfig s;
    s.nqn = nqn;
    s.allow_any_host = true;
    NamespaceConfig ns;
    ns.nsid = 1;
    ns.path = "mem:16M";
    s.namespaces.push_back(ns);
    c.subsystems.push_back(s);
  }
  PortConfig p;
  p.portid = 1;
  p.traddr = "memory0";
  p.subsystems = {kShown};
  c.ports.push_back(p);
  return c;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return bool(out);
}

Result<std::unique_ptr<HostController>> connect_to(Link* wire, const char* subnqn) {
  ConnectOptions o;
  o.target_mac = kTargetMac.str();
  o.subnqn = subnqn;
  o.hostnqn = kHostNqn;
  o.nr_io_queues = 1;
  o.queue_size = 16;
  o.connect_timeout = std::chrono::milliseconds(2000);
  return HostController::connect(std::make_unique<test::BorrowedLink>(wire), o);
}

nlohmann::json stats_totals(const std::string& socket) {
  auto s = connect_unix(socket, std::chrono::seconds(5), "no statistics socket");
  if (!s) return {{"error", s.status().message()}};
  if (!s->write_all("{\"op\":\"stats\",\"queues\":false}\n")) return {{"error", "send"}};
  std::string line;
  if (!s->read_line(&line)) return {{"error", "no reply"}};
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.contains("targets") || j["targets"].empty()) return {{"error", line}};
  return j["targets"][0]["totals"];
}

TEST(TargetDaemon, ServesReloadsAndReportsOverAMemoryLink) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir.path() + "/target.json";
  TargetConfig config = two_subsystems_one_shown();
  ASSERT_TRUE(write_file(file, dump_target_config(config)));

  auto pair = make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac);
  std::vector<std::unique_ptr<Link>> links;
  links.push_back(std::move(pair.b));
  DaemonOptions o;
  o.config_file = file;
  o.control_socket = dir.path() + "/target.sock";
  o.limit_flags["max_associations"] = 512;  // a flag wins over the file, at start and at reload
  auto daemon = TargetDaemon::create(config, std::move(links), o);
  ASSERT_TRUE(daemon) << daemon.status().message();
  TargetDaemon& d = **daemon;
  EXPECT_EQ(d.config().limits.at("max_associations"), 512u);
  std::thread thread([&] { EXPECT_TRUE(d.run().is_ok()); });

  // The shown subsystem serves I/O; the hidden one does not exist on this port.
  auto host = connect_to(pair.a.get(), kShown);
  ASSERT_TRUE(host) << host.status().message();
  std::vector<uint8_t> out(4096), in(4096, 0);
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(i * 7 + 3);
  ASSERT_TRUE((*host)->write_sync(1, 8, 8, out.data()).ok());
  ASSERT_TRUE((*host)->read_sync(1, 8, 8, in.data()).ok());
  EXPECT_EQ(in, out);
  auto hidden = connect_to(pair.a.get(), kHidden);
  EXPECT_FALSE(hidden) << "a subsystem the port does not list must not connect";

  // The statistics socket sees the controller (discovery aside, one).
  nlohmann::json totals = stats_totals(o.control_socket);
  ASSERT_FALSE(totals.contains("error")) << totals.dump();
  EXPECT_EQ(totals["controllers"], 1);
  EXPECT_GE(totals["commands"].get<uint64_t>(), 2u);

  // A broken file changes nothing: the live controller keeps working.
  ASSERT_TRUE(write_file(file, "{ not json"));
  d.request_reload();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE((*host)->read_sync(1, 8, 8, in.data()).ok());
  EXPECT_EQ(in, out);

  // The port lists the hidden subsystem now: after the reload it connects. One host at a time
  // on the memory link: two controllers reading one end would take each other's frames.
  config.ports[0].subsystems.push_back(kHidden);
  ASSERT_TRUE(write_file(file, dump_target_config(config)));
  d.request_reload();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE((*host)->read_sync(1, 8, 8, in.data()).ok()) << "a reload keeps live controllers";
  EXPECT_EQ(in, out);
  (*host)->disconnect();
  Result<std::unique_ptr<HostController>> second = Status::error("not tried");
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !second && std::chrono::steady_clock::now() < end;)
    second = connect_to(pair.a.get(), kHidden);
  ASSERT_TRUE(second) << second.status().message();
  ASSERT_TRUE((*second)->write_sync(1, 0, 8, out.data()).ok());
  // The first host's controller is gone (its Terminate may still be on the way), the second's is
  // there.
  nlohmann::json controllers;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5); std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(20)))
    if ((controllers = stats_totals(o.control_socket)["controllers"]) == 1) break;
  EXPECT_EQ(controllers, 1);

  (*second)->disconnect();
  d.request_stop();
  thread.join();
}

TEST(TargetDaemon, RefusesWhatItCannotServe) {
  auto links_for = [](size_t n) {
    std::vector<std::unique_ptr<Link>> links;
    for (size_t i = 0; i < n; ++i)
      links.push_back(make_memory_link_pair(1500, kDefaultEtherType, kHostMac, kTargetMac).b);
    return links;
  };
  DaemonOptions o;
  o.config_file = "lab.json";

  TargetConfig none = two_subsystems_one_shown();
  none.ports.clear();
  auto r = TargetDaemon::create(none, links_for(0), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message(), "lab.json: ports: no port to serve on");

  r = TargetDaemon::create(two_subsystems_one_shown(), links_for(2), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("1 ports, but 2 links"), std::string::npos) << r.status().message();

  TargetConfig missing = two_subsystems_one_shown();
  missing.subsystems[1].namespaces[0].path = "/nonexistent/nvmeoe-daemon-test.img";
  r = TargetDaemon::create(missing, links_for(1), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("'/nonexistent/nvmeoe-daemon-test.img' not found"), std::string::npos)
      << r.status().message();

  TargetConfig bad_limit = two_subsystems_one_shown();
  bad_limit.limits["no_such_limit"] = 1;
  r = TargetDaemon::create(bad_limit, links_for(1), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("no_such_limit"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace nvmeoe
