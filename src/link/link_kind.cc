// Choosing a Link implementation by name: --link packet|af_xdp and the NVMEOE_LINK environment
// variable.
#include <cstdlib>

#include "link/link.h"

namespace nvmeoe {

Result<LinkKind> parse_link_kind(std::string_view text) {
  if (text == "packet") return LinkKind::kPacket;
  if (text == "af_xdp") return LinkKind::kAfXdp;
  return Status::error("invalid link '" + std::string(text) + "': use packet or af_xdp");
}

const char* link_kind_name(LinkKind kind) {
  return kind == LinkKind::kAfXdp ? "af_xdp" : "packet";
}

std::string default_link_name() {
  const char* env = std::getenv("NVMEOE_LINK");
  return env != nullptr && *env != '\0' ? env : "packet";
}

Result<std::unique_ptr<Link>> open_link(LinkKind kind, const std::string& iface, uint16_t ethertype, uint32_t min_mtu) {
  if (kind == LinkKind::kAfXdp) return open_xdp_link(iface, ethertype, min_mtu, XdpMode::kAuto);
  return open_packet_link(iface, ethertype, min_mtu);
}

}  // namespace nvmeoe
