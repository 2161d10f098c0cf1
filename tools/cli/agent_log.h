// Where the background agent's messages go. Its lifecycle lines are syslog()ed (ident
// "nvmeoe-agent"); on a machine without a syslog socket (/dev/log: containers, minimal systems)
// they would be lost, so then they and the library's own log lines go to a file instead:
// $NVMEOE_AGENT_LOG when set (also with a syslog socket), else <run dir>/agent.log. The file is
// appended to, and moved to <file>.old when it has grown past kAgentLogRotateBytes at start.
#pragma once

#include <cstdint>
#include <string>

namespace nvmeoe::cli {

inline constexpr uint64_t kAgentLogRotateBytes = 1 << 20;

// The file the agent will log to, or "" for syslog alone.
std::string agent_log_file();

// Called by the agent after its stdio went to /dev/null: opens syslog, and the log file (as
// stderr, with syslog copying every message to it) when agent_log_file() names one.
void open_agent_log();

}  // namespace nvmeoe::cli
