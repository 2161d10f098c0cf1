// The options of `nvmeoe connect` shared with `nvmeoe connect-all`: the parsed values, their CLI11
// registration, and their translation into the host library's ConnectOptions.
#pragma once

#include <chrono>
#include <string>

#include "cli/agent.h"
#include "cli/app.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

struct ConnectArgs {
  std::string traddr, nqn, host_iface, hostnqn, hostid, ethertype = "0x88b5";
  unsigned nr_io_queues = 1, queue_size = 128, kato_s = 5, connect_timeout_s = 5, reconnect_delay_s = 10;
  unsigned poll_us = 10;  // ConnectOptions::poll_us
  int ctrl_loss_tmo_s = 600;  // -1: reconnect forever, as in nvme-cli
  bool hdr_digest = false, data_digest = false, duplicate_connect = false;
  std::string frontend = "auto", mountpoint;
  std::string link;  // packet or af_xdp (add_connect_tuning_options sets the default)
  LogOptions log;
};

// -q, -I, -i, -Q, -k, --ethertype, --link, -c, -l, -g, -G, --connect-timeout, -D, --frontend (not -a, -n,
// --host-iface, --mountpoint).
void add_connect_tuning_options(CLI::App& app, ConnectArgs* a);
ConnectOptions connect_options_from(const ConnectArgs& a);
// The frontend the agent starts. False, with the reason printed on stderr, when it cannot be had:
// --frontend ublk where the kernel has no ublk, or a --mountpoint that does not fit.
bool frontend_options_from(const ConnectArgs& a, AgentFrontendOptions* out);
// How long `nvmeoe connect` waits for its agent to report.
std::chrono::milliseconds agent_wait_limit(const ConnectOptions& o);
// The name of a live controller with the same target MAC, subsystem NQN, interface and host NQN,
// or "" (nvme-cli's duplicate-connect rule).
std::string existing_connection(const ConnectOptions& o);

}  // namespace nvmeoe::cli
