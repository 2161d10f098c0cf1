// Tests of the frontend kinds (frontend.h) and of the ublk availability check on this kernel.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "frontend/frontend.h"

namespace nvmeoe {
namespace {

TEST(FrontendKindTest, NamesRoundTrip) {
  for (FrontendKind k : {FrontendKind::kNone, FrontendKind::kUblk, FrontendKind::kFuse, FrontendKind::kAuto}) {
    FrontendKind back = FrontendKind::kNone;
    ASSERT_TRUE(parse_frontend_kind(frontend_kind_name(k), &back)) << frontend_kind_name(k);
    EXPECT_EQ(back, k);
  }
  EXPECT_STREQ(frontend_kind_name(FrontendKind::kFuse), "fuse");
  EXPECT_STREQ(frontend_kind_name(FrontendKind::kUblk), "ublk");
}

TEST(FrontendKindTest, RejectsAnythingElse) {
  FrontendKind k = FrontendKind::kUblk;
  for (const char* bad : {"", "FUSE", "fuse ", "nbd", "autos", "no"}) {
    EXPECT_FALSE(parse_frontend_kind(bad, &k)) << bad;
    EXPECT_EQ(k, FrontendKind::kUblk) << "output changed on '" << bad << "'";
  }
}

TEST(FrontendKindTest, AutoFollowsUblkAvailability) {
  struct stat st;
  bool have_ublk = ::stat("/dev/ublk-control", &st) == 0;
  std::string why;
  EXPECT_EQ(ublk_available(&why), have_ublk);
  if (!have_ublk) {
    EXPECT_NE(why.find("/dev/ublk-control"), std::string::npos) << why;
  }
  EXPECT_EQ(resolve_frontend_kind(FrontendKind::kAuto), have_ublk ? FrontendKind::kUblk : FrontendKind::kFuse);
  EXPECT_EQ(resolve_frontend_kind(FrontendKind::kNone), FrontendKind::kNone);
  EXPECT_EQ(resolve_frontend_kind(FrontendKind::kFuse), FrontendKind::kFuse);
}

TEST(FrontendKindTest, NoneStartsNothing) {
  auto fe = start_frontend(FrontendKind::kNone, nullptr, FrontendOptions{});
  ASSERT_TRUE(fe) << fe.status().message();
  EXPECT_EQ(fe->get(), nullptr);
}

TEST(FrontendKindTest, UblkWithoutTheDriverIsAClearError) {
  std::string why;
  if (ublk_available(&why)) GTEST_SKIP() << "this kernel has ublk";
  auto fe = start_frontend(FrontendKind::kUblk, nullptr, FrontendOptions{});
  ASSERT_FALSE(fe);
  EXPECT_NE(fe.status().message().find("ublk"), std::string::npos) << fe.status().message();
}

}  // namespace
}  // namespace nvmeoe
