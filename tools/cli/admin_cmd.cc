// nvme-cli's admin commands, run through a controller's agent: id-ctrl, id-ns, list-ns, list-ctrl,
// smart-log, error-log, fw-log, get-log, get-feature, set-feature, show-regs; and list-subsys and
// gen-hostnqn, which need no command. Names, flags and output follow nvme-cli 2.16 (nvme.c); the
// printers are in admin_print.h. An NVMe error prints "NVMe status: ..." on stderr and exits 1.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include "cli/admin_client.h"
#include "cli/admin_print.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "nvme/identify.h"

namespace nvmeoe::cli {

namespace {

constexpr uint32_t kAllNamespaces = 0xffffffff;

void print_json(const nlohmann::ordered_json& j) {
  std::printf("%s\n", j.dump(2).c_str());
}

// Options every admin command has: the device and -o.
struct DeviceArgs {
  std::string device, output;
};

void add_device(CLI::App* app, DeviceArgs* a, bool binary = true) {
  app->add_option("device", a->device,
                  "Controller (nvmeoe0), namespace (nvmeoe0n1), or a namespace's device or FUSE file")
      ->required();
  add_output_option(*app, &a->output, binary);
}

std::unique_ptr<AdminClient> open_or_report(const std::string& device) {
  auto c = AdminClient::open(device);
  if (!c) {
    std::fprintf(stderr, "%s\n", c.status().message().c_str());
    return nullptr;
  }
  return std::move(c).value();
}

// Prints one page of data as text, JSON or raw bytes.
template <typename Text, typename Json>
int show(const std::string& output, bool raw, const std::vector<uint8_t>& data, Text text, Json json) {
  OutputFormat f = output_format(output);
  if (raw || f == OutputFormat::kBinary) return write_binary(data);
  if (f == OutputFormat::kJson)
    print_json(json());
  else
    std::fputs(text().c_str(), stdout);
  return 0;
}

struct IdArgs : DeviceArgs {
  bool raw = false;
  uint32_t nsid = 0;
};

int run_id_ctrl(const IdArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  auto r = c->identify(cns::kController, 0);
  if (!r || !r->ok()) return report_admin_failure("identify controller", r);
  return show(
      a.output, a.raw, r->data, [&] { return format_id_ctrl(r->data); }, [&] { return id_ctrl_json(r->data); });
}

int run_id_ns(const IdArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  uint32_t nsid = a.nsid ? a.nsid : c->nsid().value_or(0);
  if (!nsid) {
    std::fprintf(stderr, "id-ns: %s is a controller: give a namespace (%sn1) or -n NSID\n", a.device.c_str(),
                 c->info().name.c_str());
    return 1;
  }
  auto r = c->identify(cns::kNamespace, nsid);
  if (!r || !r->ok()) return report_admin_failure("identify namespace", r);
  return show(
      a.output, a.raw, r->data, [&] { return format_id_ns(r->data, nsid); }, [&] { return id_ns_json(r->data); });
}

struct ListNsArgs : DeviceArgs {
  uint32_t nsid = 1;
  bool all = false, verbose = false;
};

int run_list_ns(const ListNsArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  if (a.nsid == 0 || a.nsid >= 0xfffffffe) {
    std::fprintf(stderr, "invalid nsid parameter\n");
    return 1;
  }
  // -a asks for the allocated namespaces (CNS 10h), which nvmeoe targets do not know apart from
  // the active ones: the target answers it, or says it does not support it.
  auto r = c->identify(a.all ? 0x10 : cns::kActiveNamespaceList, a.nsid - 1);
  if (!r || !r->ok()) return report_admin_failure("id namespace list", r);
  return show(
      a.output, false, r->data, [&] { return format_ns_list(r->data, a.verbose); },
      [&] { return ns_list_json(r->data); });
}

struct ListCtrlArgs : DeviceArgs {
  uint16_t cntid = 0;
  uint32_t nsid = 0;
};

int run_list_ctrl(const ListCtrlArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  auto r =
      a.nsid ? c->identify(cns::kNsControllerList, a.nsid, a.cntid) : c->identify(cns::kControllerList, 0, a.cntid);
  if (!r || !r->ok()) return report_admin_failure("id controller list", r);
  return show(
      a.output, false, r->data, [&] { return format_ctrl_list(r->data); }, [&] { return ctrl_list_json(r->data); });
}

struct SmartArgs : DeviceArgs {
  uint32_t nsid = kAllNamespaces;
  bool raw = false, human = false;
};

int run_smart_log(const SmartArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  auto r = c->get_log(log_id::kSmartHealth, a.nsid, kSmartLogSize);
  if (!r || !r->ok()) return report_admin_failure("smart log", r);
  return show(
      a.output, a.raw, r->data, [&] { return format_smart_log(r->data, a.nsid, c->name(), a.human); },
      [&] { return smart_log_json(r->data, a.human); });
}

struct ErrorLogArgs : DeviceArgs {
  uint32_t entries = 64;
  bool raw = false;
};

int run_error_log(const ErrorLogArgs& a, bool entries_given) {
  if (a.entries == 0) {
    std::fprintf(stderr, "non-zero log-entries is required param\n");
    return 1;
  }
  auto c = open_or_report(a.device);
  if (!c) return 1;
  // As nvme-cli: at most as many entries as the controller keeps (Identify ELPE + 1).
  auto id = c->identify(cns::kController, 0);
  if (!id || !id->ok()) {
    std::fprintf(stderr, "could not identify controller\n");
    return report_admin_failure("identify controller", id);
  }
  const uint32_t kept = uint32_t(id->data[idctl::kElpe]) + 1;
  uint32_t entries = entries_given ? std::min(a.entries, kept) : kept;
  auto r = c->get_log(log_id::kErrorInformation, kAllNamespaces, entries * kErrorLogEntrySize);
  if (!r || !r->ok()) return report_admin_failure("error log", r);
  return show(
      a.output, a.raw, r->data, [&] { return format_error_log(r->data, entries, c->name()); },
      [&] { return error_log_json(r->data, entries); });
}

struct FwLogArgs : DeviceArgs {
  bool raw = false;
};

int run_fw_log(const FwLogArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  auto r = c->get_log(log_id::kFirmwareSlot, kAllNamespaces, kFirmwareLogSize);
  if (!r || !r->ok()) return report_admin_failure("fw log", r);
  return show(
      a.output, a.raw, r->data, [&] { return format_fw_log(r->data, c->name()); },
      [&] { return fw_log_json(r->data, c->name()); });
}

struct GetLogArgs : DeviceArgs {
  uint32_t nsid = kAllNamespaces, len = 0, xfer = 4096;
  int lid = -1;
  uint64_t lpo = 0;
  uint32_t lsp = 0;
  bool rae = false, raw = false;
};

int run_get_log(const GetLogArgs& a) {
  if (a.lid < 0 || a.lid > 255) {
    std::fprintf(stderr, "log-id required param\n");
    return 1;
  }
  if (!a.len || a.len & 0x3) {
    std::fprintf(stderr, "non-zero or non-dw alignment log-len is required param\n");
    return 1;
  }
  if (a.lsp > 127) {
    std::fprintf(stderr, "invalid lsp param\n");
    return 1;
  }
  if (a.xfer == 0 || a.xfer % 4096) {
    std::fprintf(stderr, "xfer-len argument invalid. It needs to be multiple of 4k\n");
    return 1;
  }
  if (a.len > 16u << 20) {
    std::fprintf(stderr, "log-len %u is over the limit of 16 MiB\n", a.len);
    return 1;
  }
  auto c = open_or_report(a.device);
  if (!c) return 1;
  auto r = c->get_log(uint8_t(a.lid), a.nsid, a.len, a.lpo, uint8_t(a.lsp), a.rae, a.xfer);
  if (!r || !r->ok()) return report_admin_failure("log page", r);
  if (a.raw || output_format(a.output) == OutputFormat::kBinary) return write_binary(r->data);
  std::printf("Device:%s log-id:%d namespace-id:%#x\n", c->name().c_str(), a.lid, a.nsid);
  std::fputs(format_hex_dump(r->data).c_str(), stdout);
  return 0;
}

struct GetFeatureArgs : DeviceArgs {
  uint32_t fid = 0, nsid = 0, sel = 0, cdw11 = 0, data_len = 0;
  bool raw = false, human = false;
};

int run_get_feature(const GetFeatureArgs& a) {
  if (a.sel > 3) {
    std::fprintf(stderr, "invalid 'select' param:%u\n", a.sel);
    return 1;
  }
  if (a.fid > 255) {
    std::fprintf(stderr, "invalid feature id: %u\n", a.fid);
    return 1;
  }
  if (a.data_len > 4096) {
    std::fprintf(stderr, "data-len %u is over the limit of 4096\n", a.data_len);
    return 1;
  }
  auto c = open_or_report(a.device);
  if (!c) return 1;
  const uint32_t nsid = a.nsid ? a.nsid : c->nsid().value_or(kAllNamespaces);
  const bool json = output_format(a.output) == OutputFormat::kJson;
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  // Without -f every feature ID is tried, and those the controller answers are shown.
  const unsigned first = a.fid, last = a.fid ? a.fid : 255;
  int shown = 0;
  for (unsigned fid = first; fid <= last; ++fid) {
    Sqe s;
    s.opcode = admin_opcode::kGetFeatures;
    s.nsid = nsid;
    s.cdw10 = fid | a.sel << 8;
    s.cdw11 = a.cdw11;
    const uint32_t len = a.sel == 3 ? 0 : a.data_len;
    auto r = c->run(s, len);
    if (!r) return report_admin_failure("get-feature", r);
    if (!r->ok()) {
      const uint16_t code = r->reply.status & 0x7ff;
      const bool skip = r->reply.kind == ControlReply::Kind::kNvmeStatus &&
                        (code == sc::kInvalidField || code == sc::kInvalidNamespace);
      if (a.fid || !skip) return report_admin_failure("get-feature", r);
      continue;
    }
    ++shown;
    const uint32_t result = r->reply.dw0;
    if (json) {
      add_feature_json(doc, uint8_t(fid), uint8_t(a.sel), result);
      continue;
    }
    if (a.raw && !r->data.empty()) {
      if (int rc = write_binary(r->data)) return rc;
      continue;
    }
    std::fputs(format_get_feature(uint8_t(fid), uint8_t(a.sel), result).c_str(), stdout);
    if (a.sel == 3)
      std::fputs(format_select_result(result).c_str(), stdout);
    else if (a.human)
      std::fputs(format_feature_fields(uint8_t(fid), result).c_str(), stdout);
    else if (!r->data.empty())
      std::fputs(format_hex_dump(r->data).c_str(), stdout);
  }
  if (json) print_json(doc);
  if (!shown) std::fprintf(stderr, "get-feature: the controller answered none of the feature IDs\n");
  return 0;
}

struct SetFeatureArgs : DeviceArgs {
  uint32_t fid = 0, nsid = 0, cdw12 = 0, data_len = 0;
  std::string value = "0", data_file;
  bool save = false;
};

int run_set_feature(const SetFeatureArgs& a) {
  if (a.fid == 0 || a.fid > 255) {
    std::fprintf(stderr, "feature-id required param\n");
    return 1;
  }
  auto value = parse_u64(a.value);
  if (!value || *value > 0xffffffffULL) {
    std::fprintf(stderr, "invalid value '%s': a 32-bit number\n", a.value.c_str());
    return 1;
  }
  if (a.data_len > 4096) {
    std::fprintf(stderr, "data-len %u is over the limit of 4096\n", a.data_len);
    return 1;
  }
  std::vector<uint8_t> data(a.data_len);
  if (a.data_len) {
    int fd = a.data_file.empty() ? STDIN_FILENO : ::open(a.data_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "Failed to open file %s: %s\n", a.data_file.c_str(), std::strerror(errno));
      return 1;
    }
    ssize_t n = ::read(fd, data.data(), data.size());
    if (fd != STDIN_FILENO) ::close(fd);
    if (n < 0) {
      std::fprintf(stderr, "failed to read data buffer from input file: %s\n", std::strerror(errno));
      return 1;
    }
  }
  auto c = open_or_report(a.device);
  if (!c) return 1;
  Sqe s;
  s.opcode = admin_opcode::kSetFeatures;
  s.nsid = a.nsid ? a.nsid : c->nsid().value_or(kAllNamespaces);
  s.cdw10 = a.fid | uint32_t(a.save) << 31;
  s.cdw11 = uint32_t(*value);
  s.cdw12 = a.cdw12;
  auto r = c->run(s, a.data_len, data);
  if (!r || !r->ok()) return report_admin_failure("set-feature", r);
  std::fputs(format_set_feature(uint8_t(a.fid), *value, a.cdw12, a.save).c_str(), stdout);
  if (a.data_len) std::fputs(format_hex_dump(data).c_str(), stdout);
  return 0;
}

struct ShowRegsArgs : DeviceArgs {
  bool human = false;
};

Result<uint64_t> property_get(AdminClient& c, uint32_t offset, bool eight, Result<AdminOutcome>* failure) {
  Sqe s;
  s.opcode = admin_opcode::kFabrics;
  s.nsid = fabrics_type::kPropertyGet;
  s.cdw10 = eight ? 1 : 0;
  s.cdw11 = offset;
  auto r = c.run(s, 0);
  if (!r || !r->ok()) {
    *failure = std::move(r);
    return Status::error("property get failed");
  }
  return uint64_t(r->reply.dw0) | (eight ? uint64_t(r->reply.dw1) << 32 : 0);
}

int run_show_regs(const ShowRegsArgs& a) {
  auto c = open_or_report(a.device);
  if (!c) return 1;
  ControllerRegisters regs;
  Result<AdminOutcome> failure = Status::error("");
  auto cap = property_get(*c, prop::kCap, true, &failure);
  if (!cap) return report_admin_failure("get-property", failure);
  regs.cap = *cap;
  for (auto [offset, dst] : {std::pair{prop::kVs, &regs.vs}, {prop::kCc, &regs.cc}, {prop::kCsts, &regs.csts}}) {
    auto v = property_get(*c, offset, false, &failure);
    if (!v) return report_admin_failure("get-property", failure);
    *dst = uint32_t(*v);
  }
  // NSSR is optional for a fabrics controller: left out when the target does not have it.
  if (auto v = property_get(*c, prop::kNssr, false, &failure)) regs.nssr = uint32_t(*v);
  if (output_format(a.output) == OutputFormat::kJson)
    print_json(registers_json(regs));
  else
    std::fputs(format_registers(regs).c_str(), stdout);
  return 0;
}

struct ListSubsysArgs {
  std::string device, output;
  bool verbose = false;
};

int run_list_subsys(const ListSubsysArgs& a) {
  std::vector<ControllerModel> controllers;
  std::string only;
  if (!a.device.empty()) {
    auto node = parse_node_name(a.device);
    if (!node) {
      std::fprintf(stderr, "Invalid device name %s\n", a.device.c_str());
      return 1;
    }
    only = node->controller;
  }
  for (const auto& name : list_controller_names()) {
    auto stream = connect_control(name, std::chrono::seconds(3));
    if (!stream) continue;
    auto reply = control_call(*stream, ControlRequest{ControlOp::kInfo});
    if (reply && reply->has_info) controllers.push_back(std::move(reply->info));
  }
  if (!only.empty()) {
    // nvme-cli shows the subsystem of the device given, with all its controllers.
    std::string nqn;
    for (const auto& c : controllers)
      if (c.name == only) nqn = c.subnqn;
    if (nqn.empty()) {
      std::fprintf(stderr, "controller %s does not exist\n", only.c_str());
      return 1;
    }
    std::erase_if(controllers, [&](const ControllerModel& c) { return c.subnqn != nqn; });
  }
  if (output_format(a.output) == OutputFormat::kJson)
    print_json(list_subsys_json(controllers, a.verbose));
  else
    std::fputs(format_list_subsys(controllers, a.verbose).c_str(), stdout);
  return 0;
}

// nvme-cli's gen-hostnqn: nqn.2014-08.org.nvmexpress:uuid: and a random (version 4) UUID.
int run_gen_hostnqn() {
  std::random_device rd;
  uint8_t u[16];
  for (auto& b : u) b = static_cast<uint8_t>(rd());
  u[6] = (u[6] & 0x0f) | 0x40;
  u[8] = (u[8] & 0x3f) | 0x80;
  std::printf("nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
              u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return 0;
}

CLI::App* command(CLI::App& parent, const char* name, const char* desc, const char* example) {
  CLI::App* app = parent.add_subcommand(name, desc);
  app->footer(std::string("Example:\n  ") + example);
  return app;
}

}  // namespace

std::vector<Subcommand> add_admin_commands(CLI::App& parent) {
  std::vector<Subcommand> out;
  {
    auto a = std::make_shared<IdArgs>();
    auto* app =
        command(parent, "id-ctrl", "Send Identify Controller and show the result", "nvmeoe id-ctrl nvmeoe0 -o json");
    add_device(app, a.get());
    app->add_flag("-b,--raw-binary", a->raw, "Show the identify data in binary");
    out.push_back({app, [a] { return run_id_ctrl(*a); }});
  }
  {
    auto a = std::make_shared<IdArgs>();
    auto* app = command(parent, "id-ns", "Send Identify Namespace and show the result", "nvmeoe id-ns nvmeoe0n1");
    add_device(app, a.get());
    app->add_option("-n,--namespace-id", a->nsid, "Namespace to identify (default: the device's)");
    app->add_flag("-b,--raw-binary", a->raw, "Show the identify data in binary");
    out.push_back({app, [a] { return run_id_ns(*a); }});
  }
  {
    auto a = std::make_shared<ListNsArgs>();
    auto* app = command(parent, "list-ns", "Show the namespace list of the controller", "nvmeoe list-ns nvmeoe0");
    add_device(app, a.get(), false);
    app->add_option("-n,--namespace-id", a->nsid, "First NSID the list may return")->capture_default_str();
    app->add_flag("-a,--all", a->all, "Show allocated namespaces, not only active ones");
    app->add_flag("-v,--verbose", a->verbose, "Show each entry as 'Identifier N: NSID X'");
    out.push_back({app, [a] { return run_list_ns(*a); }});
  }
  {
    auto a = std::make_shared<ListCtrlArgs>();
    auto* app = command(parent, "list-ctrl", "Show the controllers of the subsystem (or of a namespace)",
                        "nvmeoe list-ctrl nvmeoe0");
    add_device(app, a.get(), false);
    app->add_option("-c,--cntid", a->cntid, "Lowest controller ID to list");
    app->add_option("-n,--namespace-id", a->nsid, "Only controllers attached to this namespace");
    out.push_back({app, [a] { return run_list_ctrl(*a); }});
  }
  {
    auto a = std::make_shared<ListSubsysArgs>();
    auto* app = command(parent, "list-subsys", "Show the subsystems of the connected controllers and their paths",
                        "nvmeoe list-subsys -o json");
    app->add_option("device", a->device, "Only the subsystem of this controller");
    add_output_option(*app, &a->output, false);
    app->add_flag("-v,--verbose", a->verbose, "Also model, serial, firmware and type");
    out.push_back({app, [a] { return run_list_subsys(*a); }});
  }
  {
    auto a = std::make_shared<SmartArgs>();
    auto* app = command(parent, "smart-log", "Show the SMART / health information log", "nvmeoe smart-log nvmeoe0");
    add_device(app, a.get());
    app->add_option("-n,--namespace-id", a->nsid, "Namespace (default 0xffffffff: the whole controller)");
    app->add_flag("-b,--raw-binary", a->raw, "Output in binary format");
    app->add_flag("-H,--human-readable", a->human, "Show the critical warning's bits");
    out.push_back({app, [a] { return run_smart_log(*a); }});
  }
  {
    auto a = std::make_shared<ErrorLogArgs>();
    auto* app = command(parent, "error-log", "Show the error information log", "nvmeoe error-log nvmeoe0 -e 4");
    add_device(app, a.get());
    auto* e = app->add_option("-e,--log-entries", a->entries, "Number of entries (default: all the controller keeps)");
    app->add_flag("-b,--raw-binary", a->raw, "Output in binary format");
    out.push_back({app, [a, e] { return run_error_log(*a, e->count() > 0); }});
  }
  {
    auto a = std::make_shared<FwLogArgs>();
    auto* app = command(parent, "fw-log", "Show the firmware slot information log", "nvmeoe fw-log nvmeoe0");
    add_device(app, a.get());
    app->add_flag("-b,--raw-binary", a->raw, "Output in binary format");
    out.push_back({app, [a] { return run_fw_log(*a); }});
  }
  {
    auto a = std::make_shared<GetLogArgs>();
    auto* app = command(parent, "get-log", "Read any log page and show it as hex (or binary)",
                        "nvmeoe get-log nvmeoe0 -i 2 -l 512");
    add_device(app, a.get());
    app->add_option("-i,--log-id", a->lid, "Log page identifier")->required();
    app->add_option("-l,--log-len", a->len, "Bytes to read (a multiple of 4)")->required();
    app->add_option("-n,--namespace-id", a->nsid, "Namespace (default 0xffffffff)");
    app->add_option("-L,--lpo", a->lpo, "Log page offset in bytes");
    app->add_option("-s,--lsp", a->lsp, "Log specific field");
    app->add_flag("-r,--rae", a->rae, "Retain an asynchronous event");
    app->add_flag("-b,--raw-binary", a->raw, "Output in binary format");
    app->add_option("-x,--xfer-len", a->xfer, "Read chunk size (a multiple of 4096)")->capture_default_str();
    out.push_back({app, [a] { return run_get_log(*a); }});
  }
  {
    auto a = std::make_shared<GetFeatureArgs>();
    auto* app = command(parent, "get-feature", "Read a feature (all features without -f)",
                        "nvmeoe get-feature nvmeoe0 -f 0x0f -H");
    add_device(app, a.get(), false);
    app->add_option("-f,--feature-id", a->fid, "Feature identifier (default: every one the controller answers)");
    app->add_option("-n,--namespace-id", a->nsid, "Namespace (default: the device's, else 0xffffffff)");
    app->add_option("-s,--sel", a->sel, "[0-3]: current/default/saved/supported");
    app->add_option("-c,--cdw11", a->cdw11, "Feature specific dword 11");
    app->add_option("-l,--data-len", a->data_len, "Data the feature returns, in bytes");
    app->add_flag("-b,--raw-binary", a->raw, "Show the feature's data in binary");
    app->add_flag("-H,--human-readable", a->human, "Show the feature's fields");
    out.push_back({app, [a] { return run_get_feature(*a); }});
  }
  {
    auto a = std::make_shared<SetFeatureArgs>();
    auto* app = command(parent, "set-feature", "Change a feature (the target supports Keep Alive Timer)",
                        "nvmeoe set-feature nvmeoe0 -f 0x0f -V 10000");
    app->add_option("device", a->device, "Controller (nvmeoe0) or namespace (nvmeoe0n1)")->required();
    app->add_option("-f,--feature-id", a->fid, "Feature identifier")->required();
    app->add_option("-V,--value", a->value, "New value (dword 11)");
    app->add_option("-n,--namespace-id", a->nsid, "Namespace (default: the device's, else 0xffffffff)");
    app->add_option("-c,--cdw12", a->cdw12, "Feature specific dword 12");
    app->add_option("-l,--data-len", a->data_len, "Bytes of data the feature takes");
    app->add_option("-d,--data", a->data_file, "File with the feature's data (default: stdin)");
    app->add_flag("-s,--save", a->save, "Keep the value across power cycles");
    out.push_back({app, [a] { return run_set_feature(*a); }});
  }
  {
    auto a = std::make_shared<ShowRegsArgs>();
    auto* app = command(parent, "show-regs", "Show the controller's properties (CAP, VS, CC, CSTS)",
                        "nvmeoe show-regs nvmeoe0 -o json");
    add_device(app, a.get(), false);
    app->add_flag("-H,--human-readable", a->human, "Accepted for nvme-cli compatibility; values are shown raw");
    out.push_back({app, [a] { return run_show_regs(*a); }});
  }
  {
    auto* app = command(parent, "gen-hostnqn", "Generate a host NQN (nqn.2014-08.org.nvmexpress:uuid:...)",
                        "nvmeoe gen-hostnqn | sudo tee /etc/nvme/hostnqn");
    out.push_back({app, [] { return run_gen_hostnqn(); }});
  }
  return out;
}

}  // namespace nvmeoe::cli
