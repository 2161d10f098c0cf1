// Turning a TargetConfig into the target core's subsystems, and applying a changed configuration
// to a running core (SIGHUP): everything that can fail (opening devices) happens before anything
// changes, so a bad new configuration leaves the target as it was.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "target/config.h"
#include "target/core.h"

namespace nvmeoe {

// Opens the backends of every enabled namespace. Errors name `file` and the JSON path.
Result<std::vector<std::unique_ptr<Subsystem>>> build_subsystems(const TargetConfig& config, const std::string& file);

// The DH-HMAC-CHAP keys of a configuration by host NQN, for TargetCore::set_host_auth (hosts
// with a key only). Errors name `file` and the host.
Result<std::map<std::string, std::shared_ptr<const HostAuth>>> build_host_auth(const TargetConfig& config,
                                                                               const std::string& file);

// The core's ports of a configuration (TargetCore::set_ports), given each port's MAC (same order as
// config.ports).
std::vector<Port> ports_for(const TargetConfig& config, const std::vector<std::string>& macs);

// Applies `next` over `current` (what the core was built from). Ports must keep their addresses
// (portid, interface, EtherType); their subsystem lists may change (the core's ports are updated
// here). On error nothing has changed. `summary` receives one line per change.
Status apply_config_change(TargetCore& core, const TargetConfig& current, const TargetConfig& next,
                           const std::string& file, std::vector<std::string>* summary);

}  // namespace nvmeoe
