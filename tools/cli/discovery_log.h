// `nvmeoe discover --log-page`: reads the Discovery Log Page through a target's discovery
// controller and prints it as `nvme discover` does (or as JSON).
#pragma once

#include <cstdint>
#include <string>

#include "nvme/discovery_log.h"

namespace nvmeoe::cli {

// Reads the Discovery Log Page of the target at `target_mac` over a link of kind `link` ("packet" or
// "af_xdp") and prints it (normal or JSON) on stdout; errors on stderr. Returns the exit status.
int print_discovery_log_page(const std::string& iface, const std::string& link, uint16_t ethertype,
                             const std::string& hostnqn, const std::string& target_mac, bool json);
// The text `nvme discover` prints for a log, exposed for tests.
std::string format_discovery_log(const DiscoveryLog& log);
std::string format_discovery_log_json(const DiscoveryLog& log);
// libnvme's names of the entry flags ("none", "explicit discovery connections", ...).
std::string eflags_name(uint16_t eflags);

}  // namespace nvmeoe::cli
