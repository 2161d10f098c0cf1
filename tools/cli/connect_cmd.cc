// `nvmeoe connect` (nvme-cli's flags and meanings) and `nvmeoe version`.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/agent.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connect_args.h"
#include "cli/control.h"
#include "cli/privileges.h"
#include "cli/stale.h"
#include "common/log.h"
#include "common/mac.h"

#ifndef NVMEOE_VERSION
#define NVMEOE_VERSION "unknown"
#endif

namespace nvmeoe::cli {

namespace {

// What --ctrl-loss-tmo -1 means: far enough that it never runs out, near enough not to overflow
// a steady_clock time point.
constexpr std::chrono::hours kForever{24 * 365 * 100};

}  // namespace

// nvme-cli refuses a second connection to the same subsystem through the same address unless
// --duplicate-connect is given; so do we, matching target MAC, NQN, interface and host NQN.
std::string existing_connection(const ConnectOptions& o) {
  auto mac = MacAddress::parse(o.target_mac);
  for (const auto& name : list_controller_names()) {
    auto stream = connect_control(name, std::chrono::seconds(2));
    if (!stream) continue;
    auto reply = control_call(*stream, ControlRequest{ControlOp::kInfo});
    if (!reply || !reply->has_info) continue;
    const auto& m = reply->info;
    auto other = MacAddress::parse(m.target_mac);
    if (mac && other && *mac == *other && m.subnqn == o.subnqn && m.iface == o.host_iface &&
        (o.hostnqn.empty() || m.hostnqn == o.hostnqn))
      return name;
  }
  return "";
}

unsigned default_io_queues() {
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<unsigned>(std::clamp<long>(cpus, 1, 64));
}

CLI::Validator transport_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value == "eth") return "";
        if (value == "tcp" || value == "rdma" || value == "fc" || value == "loop")
          return "transport '" + value +
                 "' is not nvmeoe's: nvmeoe carries NVMe over raw Ethernet (-t eth); use nvme-cli for NVMe/" + value;
        return "unknown transport '" + value + "': nvmeoe speaks only eth (raw Ethernet)";
      },
      "eth", "transport");
}

ConnectOptions connect_options_from(const ConnectArgs& a) {
  ConnectOptions o;
  o.target_mac = a.traddr;
  o.subnqn = a.nqn;
  o.host_iface = a.host_iface;
  o.hostnqn = a.hostnqn.empty() ? default_hostnqn() : a.hostnqn;
  o.hostid = a.hostid;
  o.dhchap_secret = a.dhchap_secret;
  o.dhchap_ctrl_secret = a.dhchap_ctrl_secret;
  o.ethertype = *parse_ethertype(a.ethertype);
  o.link = a.link;
  o.nr_io_queues = static_cast<uint16_t>(a.nr_io_queues ? a.nr_io_queues : default_io_queues());
  o.queue_size = static_cast<uint16_t>(a.queue_size);
  o.kato_ms = a.kato_s * 1000;
  o.poll_us = a.poll_us;
  o.data_digest = !a.no_data_digest;
  o.connect_timeout = std::chrono::seconds(a.connect_timeout_s);
  o.reconnect_delay = std::chrono::seconds(a.reconnect_delay_s);
  o.ctrl_loss_tmo = a.ctrl_loss_tmo_s < 0 ? std::chrono::duration_cast<std::chrono::milliseconds>(kForever)
                                          : std::chrono::seconds(a.ctrl_loss_tmo_s);
  return o;
}

std::chrono::milliseconds agent_wait_limit(const ConnectOptions& o) {
  // Each queue's handshake is bounded by connect_timeout; allow them all plus Identify.
  // Each queue's handshake is bounded by connect_timeout; allow them all plus Identify and the
  // frontend's start.
  return std::chrono::duration_cast<std::chrono::milliseconds>(o.connect_timeout * (o.nr_io_queues + 2) +
                                                               std::chrono::seconds(20));
}

bool frontend_options_from(const ConnectArgs& a, AgentFrontendOptions* fe) {
  if (!parse_frontend_kind(a.frontend, &fe->kind)) {  // the option's validator has already checked
    std::fprintf(stderr, "invalid --frontend '%s': use auto, ublk, fuse or none\n", a.frontend.c_str());
    return false;
  }
  fe->mountpoint = a.mountpoint;
  std::string why;
  if (fe->kind == FrontendKind::kUblk && !ublk_available(&why)) {
    std::fprintf(stderr, "failed to connect: %s (--frontend fuse exports a file for losetup instead)\n", why.c_str());
    return false;
  }
  if (!a.mountpoint.empty() && (fe->kind == FrontendKind::kUblk || fe->kind == FrontendKind::kNone)) {
    std::fprintf(stderr, "--mountpoint applies to the FUSE frontend, not to --frontend %s\n", a.frontend.c_str());
    return false;
  }
  if (!a.mountpoint.empty() && a.mountpoint[0] != '/') {
    std::fprintf(stderr, "invalid --mountpoint '%s': must be an absolute path\n", a.mountpoint.c_str());
    return false;
  }
  return true;
}

namespace {

int run_connect(const ConnectArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  if (std::string why = raw_socket_privilege_problem("nvmeoe connect"); !why.empty()) {
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  }
  ConnectOptions o = connect_options_from(a);
  AgentFrontendOptions fe;
  if (!frontend_options_from(a, &fe) || !check_link_name(a.link)) return 1;
  clean_up_dead_controllers();  // a dead agent's name and FUSE mountpoint become usable again
  if (!a.duplicate_connect) {
    std::string dup = existing_connection(o);
    if (!dup.empty()) {
      std::fprintf(stderr, "already connected to %s at %s via %s as %s (use --duplicate-connect to add another)\n",
                   o.subnqn.c_str(), o.target_mac.c_str(), o.host_iface.c_str(), dup.c_str());
      return 1;
    }
  }
  std::string name;
  int rc = start_agent(o, fe, agent_wait_limit(o), &name);
  if (rc == 0) {
    if (a.output == "json")
      std::printf("%s\n", nlohmann::ordered_json{{"device", name}}.dump(2).c_str());  // nvme-cli's
    else
      std::printf("%s\n", name.c_str());
  }
  return rc;
}

}  // namespace

const char* version_string() {
  return "nvmeoe version " NVMEOE_VERSION;
}

void add_dhchap_options(CLI::App& app, std::string* secret, std::string* ctrl_secret) {
  app.add_option("-S,--dhchap-secret", *secret,
                 "DH-HMAC-CHAP secret of this host (DHHC-1:xx:...:, from gen-dhchap-key), or a file holding it; "
                 "answers a target that requires authentication")
      ->transform(dhchap_secret_validator("--dhchap-secret"));
  app.add_option("-C,--dhchap-ctrl-secret", *ctrl_secret,
                 "DH-HMAC-CHAP secret of the controller, or a file holding it: the target must prove it holds it "
                 "(bidirectional authentication)")
      ->transform(dhchap_secret_validator("--dhchap-ctrl-secret"));
}

void add_connect_tuning_options(CLI::App& app_ref, ConnectArgs* a) {
  CLI::App* app = &app_ref;
  app->add_option("-q,--hostnqn", a->hostnqn, "Host NQN (default: /etc/nvme/hostnqn, else generated)")
      ->check(nqn_validator());
  app->add_option("-I,--hostid", a->hostid, "Host ID, a UUID (default: /etc/nvme/hostid, else derived)")
      ->check(hostid_validator());
  add_dhchap_options(*app, &a->dhchap_secret, &a->dhchap_ctrl_secret);
  app->add_option("-i,--nr-io-queues", a->nr_io_queues,
                  "Number of I/O queues (default: one per online CPU, at most 64; the target may grant fewer)")
      ->check(int_range_validator(1, 64, "the number of I/O queues"));
  app->add_option("-Q,--queue-size", a->queue_size, "Entries per I/O queue")
      ->check(int_range_validator(2, 1024, "the queue size"))
      ->capture_default_str();
  app->add_option("-k,--keep-alive-tmo", a->kato_s, "Keep-alive timeout in seconds (0 disables)")
      ->check(int_range_validator(0, 3600, "the keep-alive timeout"))
      ->capture_default_str();
  app->add_option("-s,--trsvcid,--ethertype", a->ethertype,
                  "EtherType of nvmeoe frames (nvme-cli's transport service ID)")
      ->check(ethertype_validator())
      ->capture_default_str();
  app->add_option("--poll-us", a->poll_us,
                  "Busy-poll the link this many microseconds for answers before sleeping (lower latency, more CPU)")
      ->check(int_range_validator(0, 10000, "the busy-poll time"))
      ->capture_default_str();
  add_link_option(*app, &a->link);
  app->add_option("-c,--reconnect-delay", a->reconnect_delay_s, "Seconds between reconnect attempts")
      ->check(int_range_validator(1, 3600, "the reconnect delay"))
      ->capture_default_str();
  app->add_option("-l,--ctrl-loss-tmo", a->ctrl_loss_tmo_s,
                  "Seconds to keep reconnecting after the association is lost (-1: forever, 0: never)")
      ->check(int_range_validator(-1, 31536000, "the controller loss timeout"))
      ->capture_default_str();
  add_digest_flags(*app, &a->hdr_digest, &a->data_digest, &a->no_data_digest);
  app->add_option("--connect-timeout", a->connect_timeout_s, "Seconds to wait for each queue's handshake")
      ->check(int_range_validator(1, 600, "the connect timeout"))
      ->capture_default_str();
  app->add_flag("-D,--duplicate-connect", a->duplicate_connect, "Allow a second controller to the same subsystem");
  app->add_option("--frontend", a->frontend,
                  "How the namespaces reach the system: ublk block devices, FUSE files, none (nvmeoe read/write "
                  "only), or auto (ublk where the kernel has it, else FUSE)")
      ->check(frontend_validator())
      ->capture_default_str();
}

Subcommand add_connect_command(CLI::App& parent) {
  auto a = std::make_shared<ConnectArgs>();
  CLI::App* app = parent.add_subcommand("connect", "Connect to an NVMe subsystem over raw Ethernet");
  app->add_option("-a,--traddr", a->traddr, "Target MAC address (aa:bb:cc:dd:ee:ff)")
      ->required()
      ->check(mac_validator());
  app->add_option("-n,--nqn", a->nqn, "Subsystem NQN to connect to")->required()->check(nqn_validator());
  app->add_option("-f,--host-iface", a->host_iface, "Local network interface to use")->required();
  app->add_option("-t,--transport", a->transport, "Transport type: eth (raw Ethernet), the only one")
      ->check(transport_validator())
      ->capture_default_str();
  app->add_option("-o,--output-format", a->output, "Output format: normal (the controller name) or json")
      ->check(CLI::IsMember({"normal", "json"}))
      ->capture_default_str();
  add_connect_tuning_options(*app, a.get());
  app->add_option("--mountpoint", a->mountpoint,
                  "FUSE: directory to mount the namespace files on (default: <run dir>/fuse/<controller>)");
  add_log_options(*app, &a->log);
  app->footer(
      "Prints the new controller's name (nvmeoe0, nvmeoe1, ...). A background agent holds the\n"
      "association until `nvmeoe disconnect`; after a loss it reconnects for --ctrl-loss-tmo seconds,\n"
      "then gives up and exits.\n\n"
      "Block devices: with ublk, /dev/ublkbN per namespace; with FUSE, a file <mountpoint>/<ctrl>n<nsid> per\n"
      "namespace, for `losetup --direct-io=on --find --show FILE`. `nvmeoe list` shows them in the Node column.\n\n"
      "Examples:\n"
      "  nvmeoe connect -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1\n"
      "  nvmeoe connect -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1 -i 4 -Q 256 -g -G\n"
      "  nvmeoe connect -t eth -a 02:00:00:00:00:01 -s 0x88b5 -n nqn.2024-01.io.nvmeoe:disk1 -f eth1 -o json\n"
      "  nvmeoe connect -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 -f eth1 --dhchap-secret "
      "/etc/nvme/dhchap.key");
  return {app, [a] { return run_connect(*a); }};
}

Subcommand add_version_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("version", "Show the program version");
  app->footer("Example:\n  nvmeoe version");
  return {app, [] {
            std::printf("%s\n", version_string());
            return 0;
          }};
}

}  // namespace nvmeoe::cli
