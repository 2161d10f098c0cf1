// The client side of the admin commands (see admin_client.h).
#include "cli/admin_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "cli/admin_control.h"
#include "cli/args.h"
#include "nvme/identify.h"

namespace nvmeoe::cli {

namespace {

constexpr auto kAdminTimeout = std::chrono::seconds(60);

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

// A path that is one of the frontends' namespace nodes (/dev/ublkb0, .../nvmeoe0n1).
std::optional<NodeName> node_of_frontend_path(const std::string& path) {
  const std::string want = real_path(path);
  for (const auto& name : list_controller_names()) {
    auto stream = connect_control(name, std::chrono::seconds(3));
    if (!stream) continue;
    auto reply = control_call(*stream, ControlRequest{ControlOp::kInfo});
    if (!reply || !reply->has_info) continue;
    for (const auto& ns : reply->info.namespaces)
      if (!ns.node.empty() && real_path(ns.node) == want) {
        auto node = parse_node_name(namespace_node(reply->info.name, ns.nsid));
        if (node) return *node;
      }
  }
  return std::nullopt;
}

}  // namespace

void add_output_option(CLI::App& app, std::string* format, bool binary) {
  *format = "normal";
  app.add_option("-o,--output-format", *format,
                 binary ? "Output format: normal, json or binary" : "Output format: normal or json")
      ->check(binary ? CLI::IsMember({"normal", "json", "binary"}) : CLI::IsMember({"normal", "json"}))
      ->capture_default_str();
}

OutputFormat output_format(const std::string& text) {
  if (text == "json") return OutputFormat::kJson;
  if (text == "binary") return OutputFormat::kBinary;
  return OutputFormat::kNormal;
}

Result<std::unique_ptr<AdminClient>> AdminClient::open(const std::string& device) {
  auto node = parse_node_name(device);
  if (!node) {
    if (device.find('/') == std::string::npos) return node.status();
    auto found = node_of_frontend_path(device);
    if (!found)
      return Status::error("'" + device +
                           "' is neither an nvmeoe controller or namespace (nvmeoe0, nvmeoe0n1) nor the device or "
                           "file of a connected namespace (see nvmeoe list)");
    node = *found;
  }
  auto stream = connect_control(node->controller, kAdminTimeout);
  if (!stream) return stream.status();
  auto c = std::make_unique<AdminClient>();
  c->stream_ = std::make_unique<ControlStream>(std::move(*stream));
  auto reply = control_call(*c->stream_, ControlRequest{ControlOp::kInfo});
  if (!reply) return Status::error(node->controller + ": " + reply.status().message());
  if (!reply->has_info) return Status::error(node->controller + ": " + reply->describe());
  c->info_ = std::move(reply->info);
  c->nsid_ = node->nsid;
  c->name_ = node->nsid ? namespace_node(node->controller, *node->nsid) : node->controller;
  if (node->nsid && !c->info_.find_namespace(*node->nsid))
    return Status::error("namespace " + std::to_string(*node->nsid) + " does not exist on " + node->controller);
  return c;
}

Result<AdminOutcome> AdminClient::run(const Sqe& sqe, uint32_t data_len, const std::vector<uint8_t>& out) {
  ControlRequest req = make_admin_request(sqe, data_len);
  if (req.bytes && out.size() != req.bytes)
    return Status::error("the command needs " + std::to_string(req.bytes) + " bytes of data, got " +
                         std::to_string(out.size()));
  AdminOutcome o;
  auto reply =
      control_call(*stream_, req, req.bytes ? std::span<const uint8_t>(out) : std::span<const uint8_t>(), &o.data);
  if (!reply) return Status::error(info_.name + ": " + reply.status().message());
  o.reply = std::move(*reply);
  if (o.ok() && o.data.size() != (data_direction(sqe) == DataDirection::kControllerToHost ? data_len : 0))
    return Status::error(info_.name + ": the agent returned " + std::to_string(o.data.size()) + " bytes instead of " +
                         std::to_string(data_len));
  return o;
}

Result<AdminOutcome> AdminClient::identify(uint8_t cns, uint32_t nsid, uint16_t cntid) {
  Sqe s;
  s.opcode = admin_opcode::kIdentify;
  s.nsid = nsid;
  s.cdw10 = cns | uint32_t(cntid) << 16;
  return run(s, kIdentifySize);
}

Result<AdminOutcome> AdminClient::get_log(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t lpo, uint8_t lsp, bool rae,
                                          uint32_t chunk) {
  AdminOutcome all;
  all.reply = ControlReply::ok();
  if (info_.max_transfer) chunk = std::min(chunk, info_.max_transfer);
  chunk = std::max<uint32_t>(4, std::min(chunk, kMaxAdminDataBytes) & ~3u);
  for (uint32_t done = 0; done < len;) {
    const uint32_t n = std::min(chunk, len - done);
    const uint32_t numd = n / 4 - 1;
    const uint64_t offset = lpo + done;
    Sqe s;
    s.opcode = admin_opcode::kGetLogPage;
    s.nsid = nsid;
    // RAE on every piece but the last, so that reading a page in pieces clears its event once.
    const bool last = done + n >= len;
    s.cdw10 = lid | uint32_t(lsp & 0x7f) << 8 | uint32_t(rae || !last) << 15 | (numd & 0xffff) << 16;
    s.cdw11 = numd >> 16;
    s.cdw12 = uint32_t(offset);
    s.cdw13 = uint32_t(offset >> 32);
    auto piece = run(s, n);
    if (!piece || !piece->ok()) return piece;
    all.data.insert(all.data.end(), piece->data.begin(), piece->data.end());
    done += n;
  }
  return all;
}

int report_admin_failure(const char* what, const Result<AdminOutcome>& r) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().message().c_str());
  } else if (r->reply.kind == ControlReply::Kind::kNvmeStatus) {
    std::fprintf(stderr, "%s\n", r->reply.describe().c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", what, r->reply.describe().c_str());
  }
  return 1;
}

int write_binary(const std::vector<uint8_t>& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::perror("write");
      return 1;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace nvmeoe::cli
