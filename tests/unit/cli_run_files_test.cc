// Tests of the run-directory helpers shared by the agent and nvmeoe-target: lock files that name
// controllers and guard against duplicate targets, and file-name sanitizing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "cli/control.h"
#include "cli/run_files.h"

namespace nvmeoe::cli {
namespace {

class RunDirTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvmeoe-run-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::setenv("NVMEOE_RUN_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("NVMEOE_RUN_DIR");
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(RunDirTest, RunDirComesFromTheEnvironment) {
  EXPECT_EQ(run_dir(), dir_);
  EXPECT_EQ(control_socket_path("nvmeoe3"), dir_ + "/nvmeoe3.sock");
  EXPECT_EQ(control_lock_path("nvmeoe3"), dir_ + "/nvmeoe3.lock");
  ::unsetenv("NVMEOE_RUN_DIR");
  EXPECT_EQ(run_dir(), "/run/nvmeoe");
  ::setenv("NVMEOE_RUN_DIR", dir_.c_str(), 1);
}

TEST_F(RunDirTest, EnsureRunDirCreatesParents) {
  std::string nested = dir_ + "/a/b/c";
  EXPECT_TRUE(ensure_run_dir(nested));
  struct stat st;
  ASSERT_EQ(::stat(nested.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(ensure_run_dir(nested)) << "idempotent";
  std::string file = dir_ + "/plain";
  ASSERT_EQ(std::system(("touch '" + file + "'").c_str()), 0);
  EXPECT_FALSE(ensure_run_dir(file));
}

TEST_F(RunDirTest, LockIsExclusiveAcrossProcessesAndUnlinkedOnRelease) {
  std::string path = dir_ + "/nvmeoe0.lock";
  LockFile lock;
  ASSERT_EQ(lock.try_lock(path), LockFile::Outcome::kLocked);
  lock.write_pid();
  EXPECT_EQ(read_lock_pid(path), static_cast<int>(::getpid()));

  pid_t child = ::fork();
  if (child == 0) {
    LockFile other;
    ::_exit(other.try_lock(path) == LockFile::Outcome::kBusy ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a second process must see the lock busy";

  lock.release(true);
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the holder removes its lock file";
  LockFile again;
  EXPECT_EQ(again.try_lock(path), LockFile::Outcome::kLocked);
}

TEST_F(RunDirTest, MissingDirectoryIsAnError) {
  LockFile lock;
  std::string error;
  EXPECT_EQ(lock.try_lock(dir_ + "/missing/x.lock", &error), LockFile::Outcome::kError);
  EXPECT_NE(error.find("cannot open lock file"), std::string::npos);
}

TEST_F(RunDirTest, ControllerNamesInNaturalOrder) {
  for (const char* f : {"nvmeoe10.sock", "nvmeoe2.sock", "nvmeoe0.sock", "nvmeoe0.lock", "other.sock", "target-x.lock"})
    ASSERT_EQ(std::system(("touch '" + dir_ + "/" + f + "'").c_str()), 0);
  EXPECT_EQ(list_controller_names(), (std::vector<std::string>{"nvmeoe0", "nvmeoe2", "nvmeoe10"}));
  auto missing = connect_control("nvmeoe0", std::chrono::seconds(1));
  ASSERT_FALSE(missing) << "a plain file is no agent";
  auto none = connect_control("nvmeoe7", std::chrono::seconds(1));
  ASSERT_FALSE(none);
  EXPECT_NE(none.status().message().find("does not exist"), std::string::npos);
}

TEST(RunFilesTest, SanitizeKeepsSafeCharacters) {
  EXPECT_EQ(sanitize_component("nqn.2024-01.io.nvmeoe:disk/1 x"), "nqn.2024-01.io.nvmeoe_disk_1_x");
  EXPECT_EQ(sanitize_component(std::string(300, 'a')).size(), 96u);
  EXPECT_NE(fnv1a64("nqn.a:b"), fnv1a64("nqn.a_b")) << "the hash tells apart names that sanitize alike";
}

}  // namespace
}  // namespace nvmeoe::cli
