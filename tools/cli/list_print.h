// Printers for `nvmeoe list`: nvme-cli's table (plain and verbose) and JSON, all rendered from the
// same ListModel (STYLE rule 10). They return strings so tests compare them byte for byte.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/list_model.h"

namespace nvmeoe::cli {

// nvme-cli has a generic character device per namespace (/dev/ngXnY); nvmeoe has none, and an
// empty cell would shift whitespace-split columns, so the Generic column shows this.
inline constexpr const char* kNoGenericDevice = "-";

// `nvme list`: one row per namespace under nvme-cli's header and dashes line.
std::string format_list_table(const ListModel& model);
// `nvme list -v`: nvme-cli's subsystem, controller and namespace tables, then per-controller
// association details and queue statistics.
std::string format_list_verbose(const ListModel& model);
// `nvme list -o json`: {"Devices":[...]} with nvme-cli 2.16's keys, one entry per namespace (with
// GenericPath, the nvmeoe name); verbose: nvme-cli's Devices[] (per host NQN) > Subsystems[] >
// Controllers[] > Namespaces[], the controllers with nvmeoe's association details and queues.
nlohmann::ordered_json list_json(const ListModel& model, bool verbose);

}  // namespace nvmeoe::cli
