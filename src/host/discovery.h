// Discovery on the wire (docs/PROTOCOL.md §5.8, §5.9, §14.12): sends a Discover Query, broadcast
// or to one target, and collects the Discover Replies of every target that answers within a time
// limit. Used by `nvmeoe discover` and `nvmeoe connect-all`; tests run it over a memory link.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/mac.h"
#include "common/status.h"
#include "link/link.h"
#include "nvme/discovery_log.h"
#include "nvmeoe/host.h"
#include "wire/frame.h"

namespace nvmeoe {

struct DiscoveredTarget {
  MacAddress mac;
  std::vector<DiscoverEntry> subsystems;  // in the target's order
  bool complete = false;                  // every entry of the answer arrived (offset/total)
};

struct DiscoveryRequest {
  std::string hostnqn;
  std::string subnqn;  // empty: all subsystems
  MacAddress target = MacAddress::broadcast();
  std::chrono::milliseconds timeout{1000};
};

// Sends the query (again at half time if an answer is still incomplete, or unicast and silent) and
// collects replies until the timeout; a unicast query returns as soon as its target's answer is
// complete. Targets are sorted by MAC. An error only for a broken link.
Result<std::vector<DiscoveredTarget>> discover_targets(Link& link, const DiscoveryRequest& req);

// Reads the Discovery Log Page from a discovery controller (a HostController connected to
// kDiscoveryNqn): the header, then the entries by offset (LPO) in pieces of at most the
// controller's transfer size, then the header again; starts over (at most 3 times) when GENCTR
// changed in between, as the Fabrics specification asks.
Result<DiscoveryLog> read_discovery_log(HostController& ctrl);

}  // namespace nvmeoe
