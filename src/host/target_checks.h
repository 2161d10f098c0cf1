// What the host accepts from a target. Every value a target sends (handshake grants, Identify
// fields, queue counts, the namespace list) is checked here against what the host can do before
// anything uses it: a target is input like any other, and a wrong value must end the connect with
// an error naming the field, never reach a shift, a buffer size or a loop bound.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nvme/identify.h"
#include "wire/frame.h"

namespace nvmeoe {

// "" when the grant of a Connect Response (result Accepted) to `asked` is usable; otherwise the
// reason, naming the field.
std::string check_connect_grant(const ConnectRequest& asked, const ConnectResponse& got);

// Bytes one command may move under MDTS (0: no limit of the controller's own), without
// overflowing for any value a target can send.
uint64_t mdts_bytes(uint8_t mdts);

// "" when the text fields of Identify Controller are usable (printable ASCII, a valid SUBNQN
// equal to the one connected to); otherwise the reason, naming the field.
std::string check_identify_controller(const uint8_t* data, const std::string& subnqn);

// "" when the namespace's LBA format is one the host serves (512-byte blocks, no metadata, a
// format index within NLBAF); otherwise the reason, naming the field.
std::string check_namespace_format(uint32_t nsid, const uint8_t* identify_namespace);

// "" when an Active Namespace List (CNS 02h) is ascending without duplicates or reserved NSIDs.
std::string check_active_ns_list(const std::vector<uint32_t>& nsids);

// The number of I/O queues a Set Features (Number of Queues) completion grants (dw0: NSQA and
// NCQA, 0-based), or 0 with `*why` set when the value cannot be right.
uint32_t granted_io_queues(uint32_t dw0, std::string* why);

}  // namespace nvmeoe
