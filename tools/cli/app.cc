// CLI11 validators, log options and exit-status mapping for the nvmeoe tools.
#include "cli/app.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "auth/secret.h"
#include "cli/args.h"
#include "common/log.h"
#include "frontend/frontend.h"
#include "link/link.h"

namespace nvmeoe::cli {

namespace {

CLI::Validator from_status(std::function<Status(const std::string&)> check, const std::string& desc) {
  return CLI::Validator(
      [check](std::string& value) -> std::string {
        Status s = check(value);
        return s ? std::string() : s.message();
      },
      desc, desc);
}

}  // namespace

CLI::Validator nqn_validator() {
  return from_status(check_nqn, "NQN");
}
CLI::Validator dhchap_secret_validator(const std::string& what) {
  // A file name becomes the secret it holds, so that everything after sees the DHHC-1 text only.
  return CLI::Validator(
      [what](std::string& value) -> std::string {
        auto s = auth::load_secret(value, what);
        if (!s) {
          // CLI11 names the option itself.
          std::string m = s.status().message();
          return m.rfind(what + ": ", 0) == 0 ? m.substr(what.size() + 2) : m;
        }
        if (value.rfind("DHHC-1:", 0) != 0) value = auth::format_secret(s->transform(), s->key());
        return std::string();
      },
      "SECRET|FILE", "SECRET|FILE");
}
CLI::Validator mac_validator() {
  return from_status(check_unicast_mac, "MAC");
}
CLI::Validator hostid_validator() {
  return from_status(check_hostid, "UUID");
}
CLI::Validator ethertype_validator() {
  return from_status([](const std::string& s) { return parse_ethertype(s).status(); }, "ETHERTYPE");
}
CLI::Validator byte_size_validator() {
  return from_status([](const std::string& s) { return parse_byte_size(s).status(); }, "SIZE");
}
CLI::Validator workload_validator() {
  return from_status([](const std::string& s) { return parse_workload(s).status(); }, "WORKLOAD");
}
CLI::Validator frontend_validator() {
  return from_status(
      [](const std::string& s) {
        FrontendKind kind;
        return parse_frontend_kind(s, &kind)
                   ? Status::ok()
                   : Status::error("invalid frontend '" + s + "': use auto, ublk, fuse or none");
      },
      "FRONTEND");
}
void add_link_option(CLI::App& app, std::string* link) {
  *link = default_link_name();
  app.add_option("--link", *link,
                 "How frames reach the network: packet (AF_PACKET) or af_xdp (an XDP program and AF_XDP "
                 "sockets); default from NVMEOE_LINK, else packet")
      ->check(from_status([](const std::string& s) { return parse_link_kind(s).status(); }, "LINK"))
      ->capture_default_str();
}
void add_digest_flags(CLI::App& app, bool* hdr_digest, bool* data_digest, bool* no_data_digest) {
  app.add_flag("-g,--hdr-digest", *hdr_digest, "Header CRC32C (always on: accepted for nvme-cli command lines)");
  CLI::Option* on = app.add_flag("-G,--data-digest", *data_digest, "CRC32C data digests (the default)");
  app.add_flag("--no-data-digest", *no_data_digest,
               "No data digests: saves the CRC of every data byte, at the price of trusting the link's FCS")
      ->excludes(on);
}
bool check_link_name(const std::string& link) {
  if (parse_link_kind(link)) return true;
  std::fprintf(stderr, "NVMEOE_LINK: %s\n", parse_link_kind(link).status().message().c_str());
  return false;
}
CLI::Validator node_name_validator() {
  return from_status([](const std::string& s) { return parse_node_name(s).status(); }, "DEVICE");
}
CLI::Validator log_level_validator() {
  return from_status(
      [](const std::string& s) {
        LogLevel level;
        return parse_log_level(s.c_str(), &level)
                   ? Status::ok()
                   : Status::error("invalid log level '" + s + "': use error, warn, info or debug");
      },
      "LEVEL");
}

CLI::Validator int_range_validator(long long lo, long long hi, const std::string& what) {
  return CLI::Validator(
      [lo, hi, what](std::string& value) -> std::string {
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(value.c_str(), &end, 0);
        if (value.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
          return what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not '" + value +
                 "'";
        return std::string();
      },
      std::to_string(lo) + ".." + std::to_string(hi), "range");
}

int parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  }
  return -1;
}

void add_log_options(CLI::App& app, LogOptions* opts, bool with_verbose_flag) {
  app.add_option("--log-level", opts->level, "Log level on stderr: error, warn, info, debug")
      ->check(log_level_validator());
  if (with_verbose_flag) app.add_flag("-v,--verbose", opts->verbose, "More log output (repeat for more)");
}

void apply_log_options(const LogOptions& opts, int default_level) {
  int level = default_level;
  LogLevel parsed;
  if (!opts.level.empty() && parse_log_level(opts.level.c_str(), &parsed)) level = static_cast<int>(parsed);
  level = std::min(level + opts.verbose, static_cast<int>(LogLevel::kDebug));
  set_log_level(static_cast<LogLevel>(level));
}

}  // namespace nvmeoe::cli
