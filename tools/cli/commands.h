// The nvmeoe subcommands. Each add_* registers its options on `parent` and returns what running it
// does; nvmeoe_main.cc runs the one that was parsed.
#pragma once

#include <vector>

#include "cli/app.h"

namespace nvmeoe::cli {

Subcommand add_connect_command(CLI::App& parent);           // connect_cmd.cc
Subcommand add_list_command(CLI::App& parent);              // list_cmd.cc
Subcommand add_disconnect_command(CLI::App& parent);        // list_cmd.cc
Subcommand add_disconnect_all_command(CLI::App& parent);    // list_cmd.cc
std::vector<Subcommand> add_io_commands(CLI::App& parent);  // io_cmd.cc: read, write, flush, write-zeroes, dsm
Subcommand add_perf_command(CLI::App& parent);              // perf_cmd.cc
Subcommand add_discover_command(CLI::App& parent);          // discover_cmd.cc
Subcommand add_connect_all_command(CLI::App& parent);       // discover_cmd.cc
Subcommand add_version_command(CLI::App& parent);           // connect_cmd.cc
Subcommand add_stats_command(CLI::App& parent);             // stats_cmd.cc
Subcommand add_target_stats_command(CLI::App& parent);      // stats_cmd.cc
// admin_cmd.cc: id-ctrl, id-ns, list-ns, list-ctrl, list-subsys, smart-log, error-log, fw-log,
// get-log, get-feature, set-feature, show-regs, gen-hostnqn
std::vector<Subcommand> add_admin_commands(CLI::App& parent);
// key_cmd.cc: gen-dhchap-key, check-dhchap-key
std::vector<Subcommand> add_key_commands(CLI::App& parent);
// help_cmd.cc: `nvmeoe help [COMMAND]`, and the "unknown command" check of the first argument.
Subcommand add_help_command(CLI::App& parent);
// When argv names no known subcommand (nvme-cli's "unknown command"), prints why and the list of
// commands on stderr and returns true.
bool reject_unknown_command(const CLI::App& app, int argc, char** argv);

// The version line, as `nvme version` prints it ("nvmeoe version 0.1.0").
const char* version_string();

}  // namespace nvmeoe::cli
