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
  std::string dhchap_secret, dhchap_ctrl_secret;  // DHHC-1 text (a file given is read by the validator)
  unsigned nr_io_queues = 0;                      // 0: default_io_queues()
  unsigned queue_size = 128, kato_s = 5, connect_timeout_s = 5, reconnect_delay_s = 10;
  unsigned poll_us = 50;      // ConnectOptions::poll_us
  int ctrl_loss_tmo_s = 600;  // -1: reconnect forever, as in nvme-cli
  bool hdr_digest = false, data_digest = false, no_data_digest = false, duplicate_connect = false;
  std::string frontend = "auto", mountpoint;
  std::string link;               // packet or af_xdp (add_connect_tuning_options sets the default)
  std::string transport = "eth";  // -t: nvme-cli's transport; only eth here
  std::string output = "normal";  // -o: normal or json
  LogOptions log;
};

// nvme-cli's default number of I/O queues: one per online CPU (the target may grant fewer), at
// most 64.
unsigned default_io_queues();
// -t/--transport: eth, or a message naming the transports nvmeoe does not speak.
CLI::Validator transport_validator();

// -q, -I, -S, -C, -i, -Q, -k, --ethertype, --link, -c, -l, -g, -G, --connect-timeout, -D, --frontend (not -a, -n,
// --host-iface, --mountpoint).
void add_connect_tuning_options(CLI::App& app, ConnectArgs* a);
// -S/--dhchap-secret and -C/--dhchap-ctrl-secret (also for perf, which has its own options).
void add_dhchap_options(CLI::App& app, std::string* secret, std::string* ctrl_secret);
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
