// Printers of the admin commands (`nvmeoe id-ctrl`, `id-ns`, `list-ns`, `list-ctrl`, `smart-log`,
// `error-log`, `fw-log`, `get-log`, `get-feature`, `set-feature`, `show-regs`, `list-subsys`): the
// text and JSON of nvme-cli 2.16 (nvme-print-stdout.c, nvme-print-json.c), rendered from the raw
// data the controller returned, with the same field names, order and number formats. They return
// strings (or JSON documents) so that tests compare them with nvme-cli's layout field by field.
// Every printer reads only the bytes it is given: a short buffer reads as zeroes past its end.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cli/list_model.h"

namespace nvmeoe::cli {

using ByteSpan = std::span<const uint8_t>;

// Identify Controller (CNS 01h), 4096 bytes: "NVME Identify Controller:" and one "name : value"
// line per field, then the power state descriptors.
std::string format_id_ctrl(ByteSpan id);
nlohmann::ordered_json id_ctrl_json(ByteSpan id);

// Identify Namespace (CNS 00h) of `nsid`.
std::string format_id_ns(ByteSpan id, uint32_t nsid);
nlohmann::ordered_json id_ns_json(ByteSpan id);

// Active Namespace ID list (CNS 02h): "[   0]:0x1" per NSID; `verbose` as nvme-cli's -v.
std::string format_ns_list(ByteSpan list, bool verbose);
nlohmann::ordered_json ns_list_json(ByteSpan list);

// Controller list (CNS 12h/13h): a count and up to 2047 controller IDs.
std::string format_ctrl_list(ByteSpan list);
nlohmann::ordered_json ctrl_list_json(ByteSpan list);

// SMART / Health Information (log 02h) of `nsid` (0xffffffff: the controller), read through the
// controller `device`. `human` adds the critical warning's bits (-H).
std::string format_smart_log(ByteSpan log, uint32_t nsid, const std::string& device, bool human);
nlohmann::ordered_json smart_log_json(ByteSpan log, bool human);

// Error Information (log 01h): `entries` entries of 64 bytes.
std::string format_error_log(ByteSpan log, unsigned entries, const std::string& device);
nlohmann::ordered_json error_log_json(ByteSpan log, unsigned entries);

// Firmware Slot Information (log 03h).
std::string format_fw_log(ByteSpan log, const std::string& device);
nlohmann::ordered_json fw_log_json(ByteSpan log, const std::string& device);

// nvme-cli's d(): a hex dump with an offset column and the printable ASCII of each row.
std::string format_hex_dump(ByteSpan data);

// Get Features: nvme-cli's feature names ("Number of Queues", "Unknown") and select names
// ("Current", "Default", "Saved", "Supported capabilities").
const char* feature_name(uint8_t fid);
const char* select_name(uint8_t sel);
// "get-feature:0x07 (Number of Queues), Current value:0x00010001"
std::string format_get_feature(uint8_t fid, uint8_t sel, uint32_t result);
// The decoded fields of a feature's value (nvme-cli -H), "" for features it cannot decode.
std::string format_feature_fields(uint8_t fid, uint32_t result);
// The "supported capabilities" lines of select 3.
std::string format_select_result(uint32_t result);
// Adds one feature's entries to the get-feature JSON document, as nvme-cli does while several
// features are shown: "feature: 0x07" -> [{name, <select>}] and "Feature: 0x07" -> [{fields}].
void add_feature_json(nlohmann::ordered_json& doc, uint8_t fid, uint8_t sel, uint32_t result);
// "set-feature:0x0f (Keep Alive Timer), value:0x00001388, cdw12:00000000, save:0"
std::string format_set_feature(uint8_t fid, uint64_t value, uint32_t cdw12, bool save);

// Controller properties a fabrics controller has (show-regs). Absent ones are not printed.
struct ControllerRegisters {
  uint64_t cap = 0;
  uint32_t vs = 0, cc = 0, csts = 0;
  std::optional<uint32_t> nssr;
};
std::string format_registers(const ControllerRegisters& r);
nlohmann::ordered_json registers_json(const ControllerRegisters& r);

// `nvme list-subsys`: subsystems of the connected controllers, each with its controllers' paths.
std::string format_list_subsys(const std::vector<ControllerModel>& controllers, bool verbose);
nlohmann::ordered_json list_subsys_json(const std::vector<ControllerModel>& controllers, bool verbose);

// nvme-cli's "Controller Capabilities" style names of the properties, for messages.
const char* register_name(uint32_t offset);

}  // namespace nvmeoe::cli
