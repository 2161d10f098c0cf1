// The target configuration parser (src/target/config.cc): nvmetcli's layout, every error naming
// the file, the JSON path and the reason, and the dump round trip.
#include <gtest/gtest.h>

#include <string>

#include "target/config.h"

namespace nvmeoe {
namespace {

constexpr char kGood[] = R"({
  "hosts": [{"nqn": "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"}],
  "ports": [
    {"portid": 1, "addr": {"trtype": "eth", "traddr": "eth1", "trsvcid": "0x88b5", "adrfam": "mac",
                           "treq": "not specified"},
     "referrals": [], "subsystems": ["nqn.2024-01.io.nvmeoe:one", "nqn.2024-01.io.nvmeoe:two"],
     "ana_groups": [{"ana": {"state": "optimized"}, "grpid": 1}], "param": {"inline_data_size": "16384"}},
    {"portid": 2, "addr": {"trtype": "eth", "traddr": "eth2"}, "subsystems": ["nqn.2024-01.io.nvmeoe:two"]}
  ],
  "subsystems": [
    {"nqn": "nqn.2024-01.io.nvmeoe:one",
     "attr": {"allow_any_host": "0", "serial": "s1", "model": "m1", "version": "1.3", "cntlid_min": "1"},
     "allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"],
     "namespaces": [
       {"nsid": 1, "enable": 1, "ana_grpid": 1,
        "device": {"path": "mem:1G", "uuid": "8a4f6c1e-0000-4000-8000-000000000001",
                   "nguid": "8a4f6c1e-0000-4000-8000-000000000001"}},
       {"nsid": 7, "enable": 0, "readonly": true, "device": {"path": "/nonexistent/but-disabled"}}
     ]},
    {"nqn": "nqn.2024-01.io.nvmeoe:two", "attr": {"allow_any_host": 1}, "namespaces": []}
  ]
})";

TEST(TargetConfig, ParsesNvmetcliLayout) {
  auto c = parse_target_config(kGood, "t.json");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  ASSERT_EQ(c->hosts.size(), 1u);
  ASSERT_EQ(c->ports.size(), 2u);
  EXPECT_EQ(c->ports[0].traddr, "eth1");
  EXPECT_EQ(c->ports[0].ethertype, 0x88b5);
  EXPECT_EQ(c->ports[1].ethertype, 0x88b5);  // default
  EXPECT_EQ(c->ports[0].subsystems.size(), 2u);
  ASSERT_EQ(c->subsystems.size(), 2u);
  const SubsystemConfig& one = c->subsystems[0];
  EXPECT_FALSE(one.allow_any_host);
  EXPECT_EQ(one.serial, "s1");
  EXPECT_EQ(one.model, "m1");
  ASSERT_EQ(one.namespaces.size(), 2u);
  EXPECT_EQ(one.namespaces[0].path, "mem:1G");
  EXPECT_TRUE(one.namespaces[0].enable);
  EXPECT_FALSE(one.namespaces[1].enable);
  EXPECT_TRUE(one.namespaces[1].readonly);
  EXPECT_TRUE(c->subsystems[1].allow_any_host);
  uint8_t nguid[16];
  EXPECT_TRUE(parse_nguid(one.namespaces[0].nguid, nguid));
  EXPECT_EQ(nguid[0], 0x8a);
  EXPECT_EQ(nguid[15], 0x01);
}

TEST(TargetConfig, DumpRoundTrips) {
  auto c = parse_target_config(kGood, "t.json");
  ASSERT_TRUE(c.is_ok());
  std::string d1 = dump_target_config(*c);
  auto c2 = parse_target_config(d1, "dump");
  ASSERT_TRUE(c2.is_ok()) << c2.status().message() << "\n" << d1;
  EXPECT_EQ(*c2, *c);
  EXPECT_EQ(dump_target_config(*c2), d1);
  EXPECT_NE(d1.find("\"allow_any_host\": \"0\""), std::string::npos);  // nvmetcli's string flags
  EXPECT_EQ(d1.back(), '\n');
}

// Parses kGood with `from` replaced by `to`; expects a failure whose message contains `want`.
void expect_error(const std::string& from, const std::string& to, const std::string& want) {
  std::string text = kGood;
  size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  auto c = parse_target_config(text, "t.json");
  ASSERT_FALSE(c.is_ok()) << "accepted: " << to;
  EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status().message() << "\n  wanted: " << want;
  EXPECT_EQ(c.status().message().rfind("t.json", 0), 0u) << c.status().message();
}

TEST(TargetConfig, EveryErrorNamesFileKeyAndReason) {
  expect_error(R"("portid": 2,)", R"("portid": 2,,)", "t.json:8:18: invalid JSON");
  expect_error(R"("nsid": 7,)", R"("nsid": 1,)", "subsystems[0].namespaces[1].nsid: duplicate NSID 1");
  expect_error(R"({"nqn": "nqn.2024-01.io.nvmeoe:two", "attr")", R"({"nqn": "nqn.2024-01.io.nvmeoe:one", "attr")",
               "subsystems[1].nqn: duplicate subsystem NQN");
  expect_error(R"("serial": "s1",)", R"("serial": "s1", "colour": "red",)", "subsystems[0].attr.colour: unknown key");
  expect_error(R"("hosts": [)", R"("hostz": 1, "hosts": [)", "hostz: unknown key");
  expect_error(R"("portid": 1,)", R"("portid": "1",)", "ports[0].portid: expected an integer, found a string");
  expect_error(R"("allow_any_host": 1)", R"("allow_any_host": "yes")",
               "subsystems[1].attr.allow_any_host: expected 0, 1");
  expect_error(R"("namespaces": [])", R"("namespaces": {})", "subsystems[1].namespaces: expected an array");
  expect_error(R"({"nqn": "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"}])",
               R"({"nqn": "not a nqn"}])", "hosts[0].nqn: invalid NQN 'not a nqn'");
  expect_error(R"("subsystems": ["nqn.2024-01.io.nvmeoe:two"])", R"("subsystems": ["nqn.2024-01.io.nvmeoe:three"])",
               "ports[1].subsystems[0]: unknown subsystem 'nqn.2024-01.io.nvmeoe:three'");
  expect_error(R"("trtype": "eth", "traddr": "eth2")", R"("trtype": "tcp", "traddr": "eth2")",
               "ports[1].addr.trtype: unsupported transport 'tcp'");
  expect_error(R"("traddr": "eth2")", R"("traddr": "eth1")", "ports[1].addr: interface 'eth1'");
  expect_error(R"("trsvcid": "0x88b5")", R"("trsvcid": "4420x")", "ports[0].addr.trsvcid: invalid EtherType");
  expect_error(R"("portid": 2,)", R"("portid": 1,)", "ports[1].portid: duplicate port id 1");
  expect_error(R"("referrals": [])", R"("referrals": [{"portid": 3}])",
               "ports[0].referrals: referrals are not supported");
  expect_error(R"("nsid": 1, "enable": 1,)", R"("nsid": 0, "enable": 1,)",
               "subsystems[0].namespaces[0].nsid: must be between 1");
  expect_error(R"("path": "mem:1G",)", R"("path": "/nonexistent/disk.img",)",
               "subsystems[0].namespaces[0].device.path: cannot use '/nonexistent/disk.img'");
  expect_error(R"("nguid": "8a4f6c1e-0000-4000-8000-000000000001")", R"("nguid": "xyz")",
               "subsystems[0].namespaces[0].device.nguid: expected 32 hexadecimal digits");
  expect_error(R"("allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"])",
               R"("allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-0000-0000-000000000001"])",
               "subsystems[0].allowed_hosts[0]: host "
               "'nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-0000-0000-000000000001' is not listed in \"hosts\"");
  expect_error(R"({"nqn": "nqn.2024-01.io.nvmeoe:two")", R"({"nqn": "nqn.2014-08.org.nvmexpress.discovery")",
               "subsystems[1].nqn: the discovery subsystem's NQN is reserved");
  expect_error(R"({"nsid": 7, "enable": 0, "readonly": true, "device": {"path": "/nonexistent/but-disabled"}})",
               R"({"nsid": 7, "enable": 0})", "subsystems[0].namespaces[1].device: missing");
  auto top = parse_target_config("[]", "t.json");
  ASSERT_FALSE(top.is_ok());
  EXPECT_EQ(top.status().message(), "t.json: top level: expected an object, found an array");
  auto missing = load_target_config("/nonexistent/nvmeoe.json");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/nvmeoe.json"), std::string::npos);
}

TEST(TargetConfig, DevicesAreNotCheckedWhenAskedNot) {
  std::string text = kGood;
  text.replace(text.find("mem:1G"), 6, "/nonexistent/disk.img");
  EXPECT_FALSE(parse_target_config(text, "t.json").is_ok());
  EXPECT_TRUE(parse_target_config(text, "t.json", false).is_ok());
}

}  // namespace
}  // namespace nvmeoe

namespace nvmeoe {
namespace {

TEST(TargetConfig, LimitsAreReadCheckedAndDumped) {
  auto c = parse_target_config(R"({"limits": {"max_associations": 1000, "setup_timeout_ms": 2000}})", "l.json");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->limits.at("max_associations"), 1000u);
  auto again = parse_target_config(dump_target_config(*c), "d.json");
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(*again, *c);
  struct Bad {
    const char* text;
    const char* want;
  };
  for (const Bad& b :
       {Bad{R"({"limits": {"max_sockets": 1}})", "l.json: limits.max_sockets: unknown key"},
        Bad{R"({"limits": {"max_associations": 3}})", "l.json: limits.max_associations: must be between 16"},
        Bad{R"({"limits": {"max_associations": "10"}})", "expected an integer, found a string"},
        Bad{R"({"limits": {"max_associations": 100, "reserved_associations": 100}})",
            "l.json: limits: reserved_associations (100) must be below max_associations (100)"},
        Bad{R"({"limits": []})", "l.json: limits: expected an object"}}) {
    auto r = parse_target_config(b.text, "l.json");
    ASSERT_FALSE(r.is_ok()) << b.text;
    EXPECT_NE(r.status().message().find(b.want), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace nvmeoe
