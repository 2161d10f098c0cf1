// CLI11 glue shared by nvmeoe and its subcommands: validators built on args.h, log options, and
// the exit-status policy (0 for --help/--version, 1 for every usage error, instead of CLI11's
// per-error codes such as 105).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace nvmeoe::cli {

// Validators whose failure message is the args.h message (CLI11 prefixes the option name).
CLI::Validator nqn_validator();
// A DH-HMAC-CHAP secret ("DHHC-1:xx:...:") or a file holding one; a file is replaced by its secret.
CLI::Validator dhchap_secret_validator(const std::string& what);
CLI::Validator mac_validator();
CLI::Validator hostid_validator();
CLI::Validator ethertype_validator();
CLI::Validator byte_size_validator();
CLI::Validator workload_validator();
CLI::Validator node_name_validator();
CLI::Validator frontend_validator();  // auto, ublk, fuse, none
CLI::Validator log_level_validator();
// --link packet|af_xdp on `app`, its default taken from NVMEOE_LINK (else packet).
void add_link_option(CLI::App& app, std::string* link);
// Checks the link name once more before use: only NVMEOE_LINK can still be wrong (the option is
// validated), so the message names it. False, with the message on stderr, when it is.
bool check_link_name(const std::string& link);
// nvme-cli's -g/--hdr-digest and -G/--data-digest (both always in force in protocol version 2:
// accepted so that nvme-cli command lines work) and --no-data-digest, which turns the data digest
// off. `data_digest` and `no_data_digest` exclude each other.
void add_digest_flags(CLI::App& app, bool* hdr_digest, bool* data_digest, bool* no_data_digest);
// Integer in [lo, hi]; `what` names the quantity ("I/O queues") in the message.
CLI::Validator int_range_validator(long long lo, long long hi, const std::string& what);

// Parses argv; returns -1 when the caller should go on, else the exit status to return (after
// CLI11 has printed help, the version, or the error).
int parse_command_line(CLI::App& app, int argc, char** argv);

struct LogOptions {
  std::string level;  // empty: keep the default
  int verbose = 0;    // each -v raises the level by one step
};
// --log-level LEVEL and -v/--verbose on `app`.
void add_log_options(CLI::App& app, LogOptions* opts, bool with_verbose_flag = true);
// Applies the options over `default_level` (a LogLevel as int: error 0 .. debug 3).
void apply_log_options(const LogOptions& opts, int default_level);

// A subcommand and what running it does (returns the exit status).
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

}  // namespace nvmeoe::cli
