// The control protocol's "admin" operation (control.h): one NVMe admin command passed through the
// agent to its controller, for nvme-cli's admin commands (`nvmeoe id-ctrl`, `smart-log`, ...).
//
//   {"op":"admin","sqe":"<128 hex digits>","data_len":N[,"bytes":N]} [+ N bytes to the controller]
//     -> {"ok":true,"dw0":D0,"dw1":D1[,"bytes":N]} [+ N bytes from the controller]
//     -> {"status":S,"status_name":"..."} when the command completed with an NVMe error
//
// The SQE is the 64-byte submission entry; the library assigns the command ID and the data
// pointer. `data_len` is the data the command transfers, in the direction its opcode says (bits
// 1:0); a command that sends data carries it as "bytes". The agent lets through only what the
// admin commands of the CLI need and what cannot disturb the association: Identify, Get Log Page,
// Get Features, Set Features, Keep Alive, and the Fabrics Property Get of show-regs. Everything
// else (Fabrics Connect/Property Set/Disconnect, Asynchronous Event Requests, which the target
// holds indefinitely, vendor commands) is refused with a message, and so is data over
// kMaxAdminDataBytes or over the controller's maximum transfer.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/control.h"
#include "nvme/spec.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

inline constexpr uint32_t kMaxAdminDataBytes = 64 * 1024;

// control.cc calls these for the "admin" op.
void encode_admin_fields(const ControlRequest& req, nlohmann::json& j);
Status decode_admin_fields(const nlohmann::json& j, ControlRequest* req);

// A request for `sqe` (its CID and data pointer are ignored) with `data_len` bytes of data.
ControlRequest make_admin_request(const Sqe& sqe, uint32_t data_len);

// Why the agent refuses `sqe`, or "" when it may run.
std::string admin_refusal(const Sqe& sqe);

// Agent side: runs the admin request on `hc`. For a command returning data, `*buf` holds it and
// `*out_bytes` says how much to send after the reply; `buf` holds the data to send for the others.
ControlReply execute_admin(HostController& hc, const ControlRequest& req, std::vector<uint8_t>* buf,
                           uint64_t* out_bytes);

}  // namespace nvmeoe::cli
