// Tests of the nvmeoe command-line value checks and of the exit-status policy of the CLI11 glue.
#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli/args.h"

namespace nvmeoe::cli {
namespace {

TEST(ArgsTest, MacAddresses) {
  EXPECT_TRUE(check_unicast_mac("02:00:00:00:00:01"));
  EXPECT_TRUE(check_unicast_mac("02-AB-cd-00-00-01"));
  EXPECT_FALSE(check_unicast_mac("02:00:00:00:00"));
  EXPECT_FALSE(check_unicast_mac("zz:00:00:00:00:01"));
  EXPECT_FALSE(check_unicast_mac("ff:ff:ff:ff:ff:ff"));
  EXPECT_FALSE(check_unicast_mac("01:00:5e:00:00:01"));
  Status zero = check_unicast_mac("00:00:00:00:00:00");
  EXPECT_FALSE(zero);
  EXPECT_NE(zero.message().find("all zeroes"), std::string::npos);
}

TEST(ArgsTest, Nqns) {
  EXPECT_TRUE(check_nqn("nqn.2024-01.io.nvmeoe:disk1"));
  Status s = check_nqn("disk1");
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("must start with \"nqn.\""), std::string::npos);
  EXPECT_FALSE(check_nqn("nqn.with space"));
  EXPECT_FALSE(check_nqn("nqn." + std::string(220, 'a')));
  EXPECT_TRUE(check_nqn("nqn." + std::string(219, 'a')));
}

TEST(ArgsTest, HostIds) {
  EXPECT_TRUE(check_hostid("4c4c4544-0034-5a10-8052-b4c04f333232"));
  EXPECT_FALSE(check_hostid("4c4c4544-0034-5a10-8052-b4c04f33323"));
  EXPECT_FALSE(check_hostid("4c4c4544x0034-5a10-8052-b4c04f333232"));
  EXPECT_FALSE(check_hostid("gc4c4544-0034-5a10-8052-b4c04f333232"));
}

TEST(ArgsTest, EtherTypes) {
  EXPECT_EQ(*parse_ethertype("0x88b5"), 0x88b5);
  EXPECT_EQ(*parse_ethertype("0x88B5"), 0x88b5);
  EXPECT_EQ(*parse_ethertype("34997"), 0x88b5);
  EXPECT_FALSE(parse_ethertype("0x05ff"));
  EXPECT_FALSE(parse_ethertype("0x10000"));
  EXPECT_FALSE(parse_ethertype("88b5"));
  EXPECT_FALSE(parse_ethertype(""));
}

TEST(ArgsTest, ByteSizes) {
  EXPECT_EQ(*parse_byte_size("4096"), 4096u);
  EXPECT_EQ(*parse_byte_size("4k"), 4096u);
  EXPECT_EQ(*parse_byte_size("64M"), 64u << 20);
  EXPECT_EQ(*parse_byte_size("20G"), 20ull << 30);
  EXPECT_EQ(*parse_byte_size("1TiB"), 1ull << 40);
  EXPECT_EQ(*parse_byte_size(" 2GB "), 2ull << 30);
  EXPECT_FALSE(parse_byte_size("0"));
  EXPECT_FALSE(parse_byte_size("-1"));
  EXPECT_FALSE(parse_byte_size("12Q"));
  EXPECT_FALSE(parse_byte_size("G"));
  EXPECT_FALSE(parse_byte_size("99999999999999999999"));
  EXPECT_FALSE(parse_byte_size("17179869184T"));
}

TEST(ArgsTest, NumbersAndLists) {
  EXPECT_EQ(*parse_u64("0"), 0u);
  EXPECT_EQ(*parse_u64("0x10"), 16u);
  EXPECT_FALSE(parse_u64("0x"));
  EXPECT_FALSE(parse_u64("12a"));
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  auto list = parse_u64_list("0,8,0x10");
  ASSERT_TRUE(list);
  EXPECT_EQ(*list, (std::vector<uint64_t>{0, 8, 16}));
  EXPECT_FALSE(parse_u64_list("0,,8"));
  EXPECT_FALSE(parse_u64_list(""));
}

TEST(ArgsTest, Workloads) {
  EXPECT_EQ(*parse_workload("randread"), Workload::kRandRead);
  EXPECT_EQ(*parse_workload("rw"), Workload::kRw);
  EXPECT_STREQ(workload_name(Workload::kRandWrite), "randwrite");
  Status bad = parse_workload("randomread").status();
  EXPECT_FALSE(bad);
  EXPECT_NE(bad.message().find("unknown workload 'randomread'"), std::string::npos);
  EXPECT_TRUE(workload_random(Workload::kRandRw));
  EXPECT_FALSE(workload_random(Workload::kRw));
  EXPECT_TRUE(workload_mixed(Workload::kRw));
}

TEST(ArgsTest, NodeNames) {
  auto ctrl = parse_node_name("nvmeoe3");
  ASSERT_TRUE(ctrl);
  EXPECT_EQ(ctrl->controller, "nvmeoe3");
  EXPECT_EQ(ctrl->index, 3u);
  EXPECT_FALSE(ctrl->nsid.has_value());
  auto ns = parse_node_name("/dev/nvmeoe12n7");
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->controller, "nvmeoe12");
  EXPECT_EQ(*ns->nsid, 7u);
  EXPECT_FALSE(parse_node_name("nvme0n1"));
  EXPECT_FALSE(parse_node_name("nvmeoe"));
  EXPECT_FALSE(parse_node_name("nvmeoe0n"));
  EXPECT_FALSE(parse_node_name("nvmeoe0n0"));
  EXPECT_FALSE(parse_node_name("nvmeoe0n1x"));
  EXPECT_FALSE(parse_node_name("nvmeoex"));
  EXPECT_EQ(namespace_node("nvmeoe0", 1), "nvmeoe0n1");
}

// Runs a tiny app through parse_command_line with the given arguments.
int parse_with(std::vector<std::string> args) {
  CLI::App app{"test", "test"};
  std::string nqn, mac;
  unsigned queues = 1;
  app.add_option("-n,--nqn", nqn)->check(nqn_validator());
  app.add_option("-a", mac)->check(mac_validator());
  app.add_option("-i", queues)->check(int_range_validator(1, 64, "the number of I/O queues"));
  std::vector<char*> argv;
  std::string prog = "test";
  argv.push_back(prog.data());
  for (auto& a : args) argv.push_back(a.data());
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  int rc = parse_command_line(app, static_cast<int>(argv.size()), argv.data());
  testing::internal::GetCapturedStdout();
  std::string err = testing::internal::GetCapturedStderr();
  return rc;
}

TEST(AppTest, UsageErrorsExitOneHelpExitsZero) {
  EXPECT_EQ(parse_with({"-n", "nqn.2024-01.x:y"}), -1);
  EXPECT_EQ(parse_with({"-n", "disk1"}), 1);
  EXPECT_EQ(parse_with({"-a", "nope"}), 1);
  EXPECT_EQ(parse_with({"-i", "0"}), 1);
  EXPECT_EQ(parse_with({"--bogus"}), 1);
  EXPECT_EQ(parse_with({"--help"}), 0);
}

TEST(AppTest, ValidatorMessageNamesTheProblem) {
  CLI::App app{"test", "test"};
  std::string nqn;
  app.add_option("-n,--nqn", nqn)->check(nqn_validator());
  try {
    app.parse(std::vector<std::string>{"disk1", "-n"});
    FAIL() << "expected a validation error";
  } catch (const CLI::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("must start with \"nqn.\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nvmeoe::cli
