// Small helpers of the unit tests: a temporary directory removed with its contents, and a
// subsystem with one RAM namespace.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include "backend/backend.h"
#include "target/core.h"

namespace nvmeoe::test {

// Lower-case hex of `b`, for comparing bytes with the vectors of specs and docs.
inline std::string hex(std::span<const uint8_t> b) {
  std::string s;
  char buf[3];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
  }
  return s;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nvmeoe-test.XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Empty when the directory could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Subsystem `nqn` with namespace 1 on a RAM backend of `size` ("mem:16M"), open to any host.
inline std::unique_ptr<Subsystem> ram_subsystem(const std::string& nqn, const std::string& size = "mem:16M") {
  auto sub = std::make_unique<Subsystem>();
  sub->nqn = nqn;
  sub->allow_any_host = true;
  auto ns = std::make_unique<Namespace>();
  ns->nsid = 1;
  auto be = open_backend(size, false);
  EXPECT_TRUE(be.is_ok()) << be.status().message();
  if (be.is_ok()) ns->backend = std::move(be.value());
  sub->namespaces.push_back(std::move(ns));
  return sub;
}

}  // namespace nvmeoe::test
