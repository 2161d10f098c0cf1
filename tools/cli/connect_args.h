// The options of `nvmeoe connect` shared with `nvmeoe connect-all`: the parsed values, their CLI11
// registration, and their translation into the host library's ConnectOptions.
#pragma once

#include <chrono>
#include <string>

#include "cli/app.h"
#include "nvmeoe/host.h"

namespace nvmeoe::cli {

struct ConnectArgs {
  std::string traddr, nqn, host_iface, hostnqn, hostid, ethertype = "0x88b5";
  unsigned nr_io_queues = 1, queue_size = 128, kato_s = 5, connect_timeout_s = 5, reconnect_delay_s = 10;
  int ctrl_loss_tmo_s = 600;  // -1: reconnect forever, as in nvme-cli
  bool hdr_digest = false, data_digest = false, duplicate_connect = false;
  LogOptions log;
};

// -q, -I, -i, -Q, -k, --ethertype, -c, -l, -g, -G, --connect-timeout, -D (not -a, -n, --host-iface).
void add_connect_tuning_options(CLI::App& app, ConnectArgs* a);
ConnectOptions connect_options_from(const ConnectArgs& a);
// How long `nvmeoe connect` waits for its agent to report.
std::chrono::milliseconds agent_wait_limit(const ConnectOptions& o);
// The name of a live controller with the same target MAC, subsystem NQN, interface and host NQN,
// or "" (nvme-cli's duplicate-connect rule).
std::string existing_connection(const ConnectOptions& o);

}  // namespace nvmeoe::cli
