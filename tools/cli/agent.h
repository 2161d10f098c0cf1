// The controller agent behind `nvmeoe connect`: a background process (double fork, setsid, stdio on
// /dev/null) that owns one HostController association and serves the control socket described in
// control.h until `disconnect`, SIGTERM/SIGINT/SIGHUP, or the loss of the association. Each control
// connection gets its own thread, so an idle client cannot hold up others. Its own lifecycle
// messages go to syslog (ident "nvmeoe-agent"), since it has no terminal. With a frontend
// (frontend.h) the agent also exports the namespaces as block devices or files: started after the
// controller is up and before the agent reports success, stopped before the controller is
// disconnected.
#pragma once

#include <chrono>
#include <string>

#include "frontend/frontend.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

// How often the agent checks HostController::alive(); two failed checks in a row end it.
inline constexpr std::chrono::milliseconds kAgentAlivePoll{500};
// At most this many controllers per host (names nvmeoe0 .. nvmeoe1023).
inline constexpr unsigned kMaxControllers = 1024;

struct AgentFrontendOptions {
  FrontendKind kind = FrontendKind::kAuto;
  std::string mountpoint;  // FUSE; empty: <run dir>/fuse/<controller name>
};

// Starts an agent for `options` and waits until it reports: prints the controller name on stdout
// (or stores it in `*name` when given) and returns 0, or prints the agent's error on stderr and
// returns 1. The parent waits at most `wait_limit` (the connect itself is bounded by
// options.connect_timeout per queue).
int start_agent(const ConnectOptions& options, const AgentFrontendOptions& frontend,
                std::chrono::milliseconds wait_limit, std::string* name = nullptr);

}  // namespace nvmeoe::cli
