// nvmeoe: the host command line, with nvme-cli's subcommands and flags (connect, list, read, write,
// flush, write-zeroes, dsm, disconnect, disconnect-all, the admin commands id-ctrl ... show-regs,
// help) plus perf and stats. The subcommands live in
// tools/cli; this file only assembles them and picks the one that was given.
#include <signal.h>

#include <cstdio>
#include <vector>

#include "cli/app.h"
#include "cli/commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace nvmeoe::cli;
  // Writes to a closed pipe (nvmeoe read ... | head) must fail with EPIPE, not kill us silently.
  ::signal(SIGPIPE, SIG_IGN);
  nvmeoe::set_log_prefix("nvmeoe");
  nvmeoe::set_log_level(nvmeoe::LogLevel::kWarn);

  CLI::App app{"nvmeoe: NVMe over raw Ethernet, host side (nvme-cli compatible commands)", "nvmeoe"};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  nvmeoe discover --host-iface eth1\n"
      "  nvmeoe connect-all --host-iface eth1\n"
      "  nvmeoe connect -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1\n"
      "  nvmeoe list\n"
      "  nvmeoe id-ctrl nvmeoe0\n"
      "  nvmeoe smart-log nvmeoe0 -o json\n"
      "  nvmeoe read nvmeoe0n1 -s 0 -c 7 -z 4096 -d out.bin\n"
      "  nvmeoe perf -a 02:00:00:00:00:01 -n nqn.2024-01.io.nvmeoe:disk1 --host-iface eth1 -w randread -t 10\n"
      "  nvmeoe stats --watch 1\n"
      "  nvmeoe disconnect nvmeoe0\n\n"
      "Controllers are served by background agents; their sockets live in $NVMEOE_RUN_DIR (default /run/nvmeoe).\n"
      "Run `nvmeoe <command> --help` for a command's options.");

  std::vector<Subcommand> commands;
  commands.push_back(add_discover_command(app));
  commands.push_back(add_connect_all_command(app));
  commands.push_back(add_connect_command(app));
  commands.push_back(add_list_command(app));
  for (auto& c : add_io_commands(app)) commands.push_back(std::move(c));
  commands.push_back(add_disconnect_command(app));
  commands.push_back(add_disconnect_all_command(app));
  commands.push_back(add_perf_command(app));
  commands.push_back(add_stats_command(app));
  commands.push_back(add_target_stats_command(app));
  for (auto& c : add_admin_commands(app)) commands.push_back(std::move(c));
  for (auto& c : add_key_commands(app)) commands.push_back(std::move(c));
  commands.push_back(add_version_command(app));
  commands.push_back(add_help_command(app));

  if (reject_unknown_command(app, argc, argv)) return 1;
  if (int rc = parse_command_line(app, argc, argv); rc >= 0) return rc;
  for (auto& c : commands)
    if (c.app->parsed()) return c.run();
  std::fprintf(stderr, "no command given; run nvmeoe --help\n");
  return 1;
}
