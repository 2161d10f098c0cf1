// The request side of a controller's agent: executes control-protocol requests (control.h) on a
// HostController. Kept apart from the process plumbing in agent.h so it can be tested over a
// socketpair with a fake controller.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cli/control.h"
#include "cli/list_model.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

// Largest NLB of one NVMe Read/Write/Write Zeroes command (the field is 16 bits, 0-based).
inline constexpr uint32_t kMaxBlocksPerCommand = 65536;

// What the agent's frontend exports (frontend.h), as the info reply shows it.
struct FrontendSummary {
  std::string kind = "none";                            // "ublk", "fuse" or "none"
  std::vector<std::pair<uint32_t, std::string>> nodes;  // nsid -> device or file path
};

// The info model of a connected controller, named `name` and served by process `pid`.
ControllerModel controller_model(const HostController& hc, const std::string& name, int pid, uint16_t ethertype,
                                 const FrontendSummary& frontend = {});

class AgentServer {
 public:
  AgentServer(HostController* hc, std::string name, int pid, uint16_t ethertype, FrontendSummary frontend = {})
      : hc_(hc), name_(std::move(name)), pid_(pid), ethertype_(ethertype), frontend_(std::move(frontend)) {}

  // Serves requests on one client connection until the client closes it, a protocol error, or a
  // disconnect request. Returns true when the client asked to disconnect.
  bool serve_connection(ControlStream& stream);

 private:
  // Executes one request whose write data (if any) is in buf_. Sets *out_bytes to the number of
  // bytes of buf_ to send after an ok reply.
  ControlReply execute(const ControlRequest& req, uint64_t* out_bytes);
  ControlReply read_or_write(const ControlRequest& req, const NamespaceInfo& ns, bool write, uint64_t* out_bytes);
  const NamespaceInfo* find_namespace(uint32_t nsid) const;

  HostController* hc_;
  std::string name_;
  int pid_;
  uint16_t ethertype_;
  FrontendSummary frontend_;
  std::vector<uint8_t> buf_;  // reused across requests: no allocation per I/O after warm-up
};

}  // namespace nvmeoe::cli
