// Network interface facts by name: index, MAC, MTU, operational state.
#pragma once

#include <string>

#include "common/mac.h"
#include "common/status.h"

namespace nvmeoe {

struct InterfaceInfo {
  std::string name;
  int index = 0;
  MacAddress mac;
  uint32_t mtu = 0;
  bool up = false;       // IFF_UP
  bool running = false;  // IFF_RUNNING (carrier)
};

// Fails with "interface 'X' not found" / permission errors, never crashes.
Result<InterfaceInfo> lookup_interface(const std::string& name);

// lookup_interface() for a link to be opened on it: also fails when the interface is down or its
// MTU is below `min_mtu`, with a message that names both.
Result<InterfaceInfo> lookup_link_interface(const std::string& name, uint32_t min_mtu);

}  // namespace nvmeoe
