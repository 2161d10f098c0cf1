// Hostile configuration files (tests/configs/hostile/*.json): every one must be refused with a
// clear, bounded "FILE: ..." error, never a crash, an uncaught exception or a name cut short at
// a NUL.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "target/config.h"

namespace nvmeoe {
namespace {

const std::string kDir = std::string(NVMEOE_SOURCE_DIR) + "/tests/configs/hostile";

std::vector<std::string> hostile_files() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(kDir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string f = e->d_name;
      if (f.size() > 5 && f.compare(f.size() - 5, 5, ".json") == 0) out.push_back(kDir + "/" + f);
    }
    ::closedir(d);
  }
  return out;
}

// The reason each file must give (a part of the message).
std::string expected_reason(const std::string& path) {
  struct Case {
    const char* file;
    const char* reason;
  };
  static const Case kCases[] = {
      {"number-overflow.json", "invalid JSON: number overflow"},
      {"number-overflow-nested.json", "invalid JSON: number overflow"},
      {"deep-flag.json", "nested deeper than"},
      {"nul-traddr.json", "ports[0].addr.traddr: contains a NUL character"},
      {"nul-path.json", "subsystems[0].namespaces[0].device.path: contains a NUL character"},
      {"long-nqn.json", "subsystems[0].nqn: invalid NQN 'nqn.xxx"},
      {"long-key.json", "ports[0].kkkk"},
      {"huge-integer.json", "nsid: expected an integer"},
  };
  std::string_view p(path);
  for (const auto& c : kCases)
    if (p.ends_with(c.file)) return c.reason;
  return "";
}

TEST(ConfigHostile, EveryFileIsRefusedWithABoundedMessage) {
  std::vector<std::string> files = hostile_files();
  ASSERT_GE(files.size(), 8u) << "no test files in " << kDir;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto c = load_target_config(path, false);
    ASSERT_FALSE(c.is_ok());
    const std::string m = c.status().message();
    EXPECT_EQ(m.compare(0, path.size(), path), 0) << m;  // names the file first
    std::string reason = expected_reason(path);
    ASSERT_FALSE(reason.empty()) << "no expectation for this file";
    EXPECT_NE(m.find(reason), std::string::npos) << m;
    // Never a whole hostile value: the message stays short whatever the file holds.
    EXPECT_LT(m.size(), path.size() + 600) << m;
    EXPECT_EQ(m.find('\0'), std::string::npos);
  }
}

// Nesting that would overflow the stack of a recursive walk (dump() in an error message) is
// refused before anything walks it.
TEST(ConfigHostile, VeryDeepNestingIsRefusedBeforeParsing) {
  constexpr size_t kDepth = 400000;
  std::string text = R"({"subsystems": [{"nqn": "nqn.2024-01.io.nvmeoe:deep", "attr": {"allow_any_host": )";
  text += std::string(kDepth, '[') + std::string(kDepth, ']') + "}}]}";
  auto c = parse_target_config(text, "deep.json", false);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("deep.json:1:"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("nested deeper than 32 levels"), std::string::npos);
}

TEST(ConfigHostile, BracketsInsideStringsDoNotCountAsNesting) {
  std::string nqn = "nqn.2024-01.io.nvmeoe:" + std::string(100, '[');
  std::string text =
      R"({"subsystems": [{"nqn": ")" + nqn + R"(", "attr": {"allow_any_host": "1", "model": "a\"[[[["}}]})";
  auto c = parse_target_config(text, "s.json", false);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->subsystems[0].model, "a\"[[[[");
}

TEST(ConfigHostile, FlagErrorsNameTheTypeNotTheValue) {
  auto c = parse_target_config(
      R"({"subsystems": [{"nqn": "nqn.2024-01.io.nvmeoe:f", "attr": {"allow_any_host": [1, 2]}}]})", "f.json", false);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("allow_any_host: expected 0, 1, \"0\", \"1\", true or false, found an array"),
            std::string::npos)
      << c.status().message();
  c = parse_target_config(R"({"subsystems": [{"nqn": "nqn.2024-01.io.nvmeoe:f", "attr": {"allow_any_host": ")" +
                              std::string(5000, 'y') + R"("}}]})",
                          "f.json", false);
  ASSERT_FALSE(c.is_ok());
  EXPECT_LT(c.status().message().size(), 400u) << c.status().message();
}

}  // namespace
}  // namespace nvmeoe
