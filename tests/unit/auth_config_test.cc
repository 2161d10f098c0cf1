// DH-HMAC-CHAP in target configuration files: nvmetcli's "dhchap" group of a host (and the flat
// dhchap_* names), what is refused and where, the dump round trip, the keys the core gets, and a
// reload that changes them.
#include <gtest/gtest.h>

#include <string>

#include "common/log.h"
#include "target/config.h"
#include "target/config_apply.h"
#include "target/core.h"

namespace nvmeoe {
namespace {

constexpr char kHost[] = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001";
constexpr char kKey[] = "DHHC-1:01:bOHk6jHoMxpP5YJr/eF6XNOGuPAzh0iRniebpsVb9ydqVuR5:";
constexpr char kCtrlKey[] = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:";

std::string config_with(const std::string& host_entry) {
  return std::string(R"({"hosts": [)") + host_entry +
         R"(], "ports": [{"portid": 1, "addr": {"trtype": "eth", "traddr": "eth1"}, "subsystems": ["nqn.2024-01.io.nvmeoe:a"]}],
  "subsystems": [{"nqn": "nqn.2024-01.io.nvmeoe:a", "attr": {"allow_any_host": "0"},
                  "allowed_hosts": [")" +
         kHost + R"("], "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "mem:1M"}}]}]})";
}

std::string host(const std::string& extra) {
  return std::string(R"({"nqn": ")") + kHost + "\"" + extra + "}";
}

TEST(AuthConfig, ParsesNvmetcliDhchapGroup) {
  // What nvmetcli saves: every writable attribute of the group, unset secrets as "".
  auto c =
      parse_target_config(config_with(host(std::string(R"(, "dhchap": {"key": ")") + kKey +
                                           R"J(", "ctrl_key": "", "hash": "hmac(sha384)", "dhgroup": "ffdhe3072"})J")),
                          "t.json", false);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  ASSERT_EQ(c->dhchap.count(kHost), 1u);
  const HostDhchapConfig& d = c->dhchap.at(kHost);
  EXPECT_EQ(d.key, kKey);
  EXPECT_EQ(d.ctrl_key, "");
  EXPECT_EQ(d.hash, "hmac(sha384)");
  EXPECT_EQ(d.dhgroup, "ffdhe3072");
  auto keys = build_host_auth(*c, "t.json");
  ASSERT_TRUE(keys.is_ok()) << keys.status().message();
  ASSERT_EQ(keys->count(kHost), 1u);
  EXPECT_EQ(keys->at(kHost)->hash, auth::HashId::kSha384);
  EXPECT_EQ(keys->at(kHost)->dhgroup, auth::DhGroup::kFfdhe3072);
  EXPECT_TRUE(keys->at(kHost)->ctrl_key.empty());
  EXPECT_EQ(int(keys->at(kHost)->host_key.transform()), 1);
}

TEST(AuthConfig, FlatNamesAndDumpRoundTrip) {
  auto c = parse_target_config(
      config_with(host(std::string(R"(, "dhchap_key": ")") + kKey + R"(", "dhchap_ctrl_key": ")" + kCtrlKey + R"(")")),
      "t.json", false);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->dhchap.at(kHost).ctrl_key, kCtrlKey);
  std::string dumped = dump_target_config(*c);
  EXPECT_NE(dumped.find("\"dhchap\""), std::string::npos);  // written in nvmetcli's layout
  EXPECT_EQ(dumped.find("dhchap_key"), std::string::npos);
  auto again = parse_target_config(dumped, "dump.json", false);
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(*again, *c);
  EXPECT_EQ(dump_target_config(*again), dumped);
  // A host with only the defaults nvmetcli writes needs no authentication.
  auto plain = parse_target_config(
      config_with(host(R"J(, "dhchap": {"key": "", "hash": "hmac(sha256)", "dhgroup": "null"})J")), "t.json", false);
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  auto keys = build_host_auth(*plain, "t.json");
  ASSERT_TRUE(keys.is_ok());
  EXPECT_TRUE(keys->empty());
}

TEST(AuthConfig, RefusalsNameTheKey) {
  auto error = [](const std::string& extra) {
    auto c = parse_target_config(config_with(host(extra)), "t.json", false);
    return c.is_ok() ? std::string("accepted") : c.status().message();
  };
  std::string damaged = kKey;
  damaged[12] = damaged[12] == 'A' ? 'B' : 'A';
  std::string e = error(R"(, "dhchap": {"key": ")" + damaged + "\"}");
  EXPECT_NE(e.find("t.json: hosts[0].dhchap.key: DH-HMAC-CHAP secret: CRC mismatch"), std::string::npos) << e;
  EXPECT_EQ(e.find(damaged), std::string::npos);  // the secret is not repeated
  e = error(R"(, "dhchap": {"ctrl_key": ")" + std::string(kCtrlKey) + "\"}");
  EXPECT_NE(e.find("hosts[0].dhchap.ctrl_key: a controller key needs the host's key"), std::string::npos) << e;
  e = error(R"(, "dhchap": {"hash": "md5"})");
  EXPECT_NE(e.find("hosts[0].dhchap.hash: unknown hash 'md5'"), std::string::npos) << e;
  e = error(R"(, "dhchap_dhgroup": "ffdhe1024")");
  EXPECT_NE(e.find("hosts[0].dhchap_dhgroup: unknown DH group 'ffdhe1024'"), std::string::npos) << e;
  e = error(R"(, "dhchap": {"secret": "x"})");
  EXPECT_NE(e.find("hosts[0].dhchap.secret: unknown key"), std::string::npos) << e;
  e = error(R"(, "dhchap": {"key": 5})");
  EXPECT_NE(e.find("hosts[0].dhchap.key: expected a string"), std::string::npos) << e;
  e = error(std::string(R"(, "dhchap": {"key": ")") + kKey + R"("}, "dhchap_key": ")" + kCtrlKey + "\"");
  EXPECT_NE(e.find("hosts[0].dhchap_key: differs from hosts[0].dhchap.key"), std::string::npos) << e;
}

TEST(AuthConfig, ReloadChangesTheKeysOfNewControllers) {
  set_log_level(LogLevel::kError);
  auto before = parse_target_config(config_with(host("")), "t.json", false);
  auto after =
      parse_target_config(config_with(host(std::string(R"(, "dhchap": {"key": ")") + kKey + "\"}")), "t.json", false);
  ASSERT_TRUE(before.is_ok() && after.is_ok());
  TargetCore core;
  auto subs = build_subsystems(*before, "t.json");
  ASSERT_TRUE(subs.is_ok());
  for (auto& s : *subs) ASSERT_TRUE(core.add_subsystem(std::move(s)).is_ok());
  EXPECT_FALSE(core.host_auth(kHost));
  std::vector<std::string> summary;
  ASSERT_TRUE(apply_config_change(core, *before, *after, "t.json", &summary).is_ok());
  ASSERT_TRUE(core.host_auth(kHost));
  bool said = false;
  for (const auto& line : summary) said = said || line.find("DH-HMAC-CHAP") != std::string::npos;
  EXPECT_TRUE(said);
  summary.clear();
  ASSERT_TRUE(apply_config_change(core, *after, *before, "t.json", &summary).is_ok());
  EXPECT_FALSE(core.host_auth(kHost));
}

}  // namespace
}  // namespace nvmeoe
