// Host identity as nvme-cli finds it: /etc/nvme/hostnqn and /etc/nvme/hostid when present.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace nvmeoe {

// The host ID for Connect: `hostid` parsed as a UUID when given, else /etc/nvme/hostid, else the
// UUID inside a "nqn.2014-08.org.nvmexpress:uuid:..." host NQN, else a hash of the NQN.
std::array<uint8_t, 16> host_id_for(const std::string& hostnqn, const std::string& hostid);
// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; false on anything else.
bool parse_uuid(const std::string& text, std::array<uint8_t, 16>* out);

}  // namespace nvmeoe
