// The UNIX stream helper of the control sockets (common/unix_stream.h): owner-only listening,
// errors for absent servers, bounded lines, cancellation; and the target's control server, which
// uses it, stopping at once while a client holds a connection open.
#include "common/unix_stream.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "link/link.h"
#include "target/control_server.h"
#include "target/core.h"
#include "target/target.h"
#include "test_util.h"
#include "wire/frame.h"

namespace nvmeoe {
namespace {

TEST(UnixStream, ListensOwnerOnlyAndConnects) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string path = dir.path() + "/s.sock";
  mode_t old = ::umask(0);  // whatever the umask, the socket is the owner's alone
  auto fd = listen_unix(path, 4);
  ::umask(old);
  ASSERT_TRUE(fd) << fd.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "group and others may not connect";

  auto client = connect_unix(path, std::chrono::seconds(2), "nobody there");
  ASSERT_TRUE(client) << client.status().message();
  int served = ::accept4(*fd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(served, 0);
  UnixStream server(served);
  ASSERT_TRUE(client->write_all("ping\n"));
  std::string line;
  ASSERT_TRUE(server.read_line(&line));
  EXPECT_EQ(line, "ping");
  ::close(*fd);

  // A second listener on the same name replaces the stale socket file.
  auto again = listen_unix(path, 4);
  ASSERT_TRUE(again) << again.status().message();
  ::close(*again);
}

TEST(UnixStream, AbsentServerAndLongPathAreClearErrors) {
  test::TempDir dir;
  auto absent = connect_unix(dir.path() + "/none.sock", std::chrono::seconds(1), "no server at none.sock");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.status().err(), ENODEV);
  EXPECT_EQ(absent.status().message(), "no server at none.sock");
  std::string long_path = dir.path() + "/" + std::string(200, 'x');
  auto too_long = listen_unix(long_path, 4);
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.status().message().find("too long"), std::string::npos);
}

TEST(UnixStream, LineLimitAndTimeout) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UnixStream a(sv[0]), b(sv[1]);
  b.set_timeout(std::chrono::milliseconds(200));
  ASSERT_TRUE(a.write_all(std::string(100, 'x')));
  std::string line;
  Status s = b.read_line(&line, nullptr, 64);
  EXPECT_EQ(s.err(), EMSGSIZE) << s.message();
  int sv2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2), 0);
  UnixStream c(sv2[0]), d(sv2[1]);
  d.set_timeout(std::chrono::milliseconds(100));
  s = d.read_line(&line);
  EXPECT_EQ(s.err(), ETIMEDOUT) << s.message();
  ::shutdown(c.fd(), SHUT_WR);
  bool eof = false;
  s = d.read_line(&line, &eof);
  EXPECT_EQ(s.err(), EPIPE);
  EXPECT_TRUE(eof);
}

TEST(UnixStream, CancelFdEndsAWaitingRead) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UnixStream a(sv[0]), b(sv[1]);
  int cancel = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(cancel, 0);
  b.set_timeout(std::chrono::seconds(30));
  b.set_cancel_fd(cancel);
  std::thread stopper([cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint64_t one = 1;
    (void)!::write(cancel, &one, sizeof one);
  });
  std::string line;
  Status s = b.read_line(&line);
  stopper.join();
  EXPECT_EQ(s.err(), ECANCELED) << s.message();
  uint8_t byte;
  EXPECT_EQ(b.read_exact(&byte, 1).err(), ECANCELED);
  ::close(cancel);
}

// The target's control server stops at once although a client keeps an idle connection (it is
// served one client at a time, with a 2 s idle limit).
TEST(UnixStream, ControlServerStopsWhileAClientWaits) {
  test::TempDir dir;
  auto pair =
      make_memory_link_pair(1500, kDefaultEtherType, MacAddress{{2, 0, 0, 0, 7, 1}}, MacAddress{{2, 0, 0, 0, 7, 2}});
  TargetCore core;
  TargetTransport target(&core, std::move(pair.b));
  std::string path = dir.path() + "/target-x.sock";
  auto server = TargetControlServer::start(path, {{"mem", &target}});
  ASSERT_TRUE(server) << server.status().message();
  auto client = connect_unix(path, std::chrono::seconds(5), "no target");
  ASSERT_TRUE(client) << client.status().message();
  ASSERT_TRUE(client->write_all("{\"op\":\"nothing\"}\n"));
  std::string line;
  ASSERT_TRUE(client->read_line(&line));
  EXPECT_NE(line.find("unknown op"), std::string::npos) << line;
  auto t0 = std::chrono::steady_clock::now();
  server->reset();  // the client is still connected and idle
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::milliseconds(1500)) << "the stop waited for the idle client";
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file is removed";
  bool eof = false;
  EXPECT_FALSE(client->read_line(&line, &eof));
  EXPECT_TRUE(eof);
}

}  // namespace
}  // namespace nvmeoe
