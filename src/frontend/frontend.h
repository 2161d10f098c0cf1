// Host frontends: make the namespaces of a connected controller usable by the rest of the system.
//   ublk: one block device /dev/ublkbN per namespace (kernel ublk driver, io_uring URING_CMD);
//   fuse: one regular file <mountpoint>/<ctrl>n<nsid> per namespace (libfuse3, direct I/O), which
//         `losetup --direct-io=on` turns into a block device where the kernel has no ublk.
// A frontend lives inside the controller's agent (tools/cli/agent.cc), on top of the host library;
// it owns its own threads. stop() removes the devices; I/O still pending then fails with EIO.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "nvmeoe/host.h"

namespace nvmeoe {

enum class FrontendKind { kNone, kUblk, kFuse, kAuto };

// "none", "ublk", "fuse", "auto" <-> FrontendKind; parse returns false on anything else.
const char* frontend_kind_name(FrontendKind kind);
bool parse_frontend_kind(const std::string& text, FrontendKind* out);
// kAuto becomes kUblk when ublk_available(), else kFuse; other kinds are returned unchanged.
FrontendKind resolve_frontend_kind(FrontendKind kind);

struct FrontendOptions {
  std::string name;        // controller name ("nvmeoe0"): FUSE file names are <name>n<nsid>
  std::string mountpoint;  // FUSE: empty means <run dir>/fuse/<name>
  uint16_t queues = 1;     // ublk hardware queues (follows the NVMe I/O queues)
  uint16_t queue_depth = 128;
};

// One exported namespace.
struct FrontendDevice {
  uint32_t nsid = 0;
  std::string path;  // "/dev/ublkb0" or "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1"
};

class Frontend {
 public:
  virtual ~Frontend() = default;
  virtual FrontendKind kind() const = 0;
  virtual const std::vector<FrontendDevice>& devices() const = 0;
  // Removes every device and joins the frontend's threads. Bounded in time, idempotent; I/O that
  // has not completed gets EIO. The destructor calls it.
  virtual void stop() = 0;
};

// True when /dev/ublk-control exists, after trying `modprobe ublk_drv` once when it does not; `why`
// then says what is missing.
bool ublk_available(std::string* why);

// Create the devices for every namespace of `hc` (which must outlive the frontend). On failure
// nothing is left behind: devices made so far are removed before the error returns.
Result<std::unique_ptr<Frontend>> start_ublk_frontend(HostController* hc, const FrontendOptions& options);
Result<std::unique_ptr<Frontend>> start_fuse_frontend(HostController* hc, const FrontendOptions& options);
// kAuto: ublk when ublk_available(), else fuse. kNone: returns nullptr (no frontend).
Result<std::unique_ptr<Frontend>> start_frontend(FrontendKind kind, HostController* hc, const FrontendOptions& options);

}  // namespace nvmeoe
