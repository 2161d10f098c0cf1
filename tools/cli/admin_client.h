// The client side of the admin commands: finds a device's controller (nvmeoe0, nvmeoe0n1, or the
// frontend's device or file of a namespace), connects to its agent and runs admin commands there
// (the control protocol's "admin" op, admin_control.h); plus the options and output modes the
// admin subcommands share (-o normal|json|binary, nvme-cli's).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/app.h"
#include "cli/control.h"
#include "nvme/spec.h"

namespace nvmeoe::cli {

enum class OutputFormat { kNormal, kJson, kBinary };
// -o/--output-format normal|json|binary on `app` (binary only where `binary` allows it).
void add_output_option(CLI::App& app, std::string* format, bool binary = true);
OutputFormat output_format(const std::string& text);

struct AdminOutcome {
  ControlReply reply;
  std::vector<uint8_t> data;  // what the command returned
  bool ok() const { return reply.kind == ControlReply::Kind::kOk; }
};

class AdminClient {
 public:
  // Resolves `device` and connects to its agent. The NSID of a namespace device is in nsid().
  static Result<std::unique_ptr<AdminClient>> open(const std::string& device);

  const ControllerModel& info() const { return info_; }
  const std::string& name() const { return name_; }  // the device as nvme-cli names it in output
  std::optional<uint32_t> nsid() const { return nsid_; }

  // Runs one admin command; `out` is the data sent to the controller (Set Features with data).
  Result<AdminOutcome> run(const Sqe& sqe, uint32_t data_len, const std::vector<uint8_t>& out = {});
  // Identify with CNS `cns`, `nsid` and CDW10 bits 31:16 `cntid`.
  Result<AdminOutcome> identify(uint8_t cns, uint32_t nsid, uint16_t cntid = 0);
  // Get Log Page of `len` bytes read in pieces of at most `chunk` bytes by offset (LPO).
  Result<AdminOutcome> get_log(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t lpo = 0, uint8_t lsp = 0,
                               bool rae = false, uint32_t chunk = 4096);

 private:
  std::unique_ptr<ControlStream> stream_;
  ControllerModel info_;
  std::string name_;
  std::optional<uint32_t> nsid_;
};

// Prints the failure of an admin command as nvme-cli does ("NVMe status: ..." for an NVMe error,
// "<what>: <message>" otherwise) on stderr and returns the exit status (1).
int report_admin_failure(const char* what, const Result<AdminOutcome>& r);
// Writes raw bytes to stdout (-b, -o binary); returns the exit status.
int write_binary(const std::vector<uint8_t>& data);

}  // namespace nvmeoe::cli
