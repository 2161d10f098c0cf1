// ublk frontend on a kernel without the ublk driver: reports what is missing.
#include <sys/stat.h>

#include "frontend/frontend.h"

namespace nvmeoe {

namespace {
constexpr const char* kUblkControl = "/dev/ublk-control";
constexpr const char* kUblkMissing = "ublk is not available: /dev/ublk-control is missing (kernel without ublk_drv)";
}  // namespace

bool ublk_available(std::string* why) {
  struct stat st;
  if (::stat(kUblkControl, &st) == 0) return true;
  if (why) *why = kUblkMissing;
  return false;
}

Result<std::unique_ptr<Frontend>> start_ublk_frontend(HostController*, const FrontendOptions&) {
  return Status::error(kUblkMissing, ENODEV);
}

}  // namespace nvmeoe
