// Control protocol codec and socket helpers (see control.h for the protocol).
#include "cli/control.h"

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "cli/admin_control.h"
#include "cli/run_files.h"
#include "nvme/spec.h"

namespace nvmeoe::cli {

namespace {

using nlohmann::json;

struct OpName {
  ControlOp op;
  const char* name;
};
constexpr OpName kOpNames[] = {{ControlOp::kInfo, "info"},
                               {ControlOp::kRead, "read"},
                               {ControlOp::kWrite, "write"},
                               {ControlOp::kFlush, "flush"},
                               {ControlOp::kWriteZeroes, "write-zeroes"},
                               {ControlOp::kDeallocate, "deallocate"},
                               {ControlOp::kDisconnect, "disconnect"},
                               {ControlOp::kStats, "stats"},
                               {ControlOp::kAdmin, "admin"}};

bool needs_range(ControlOp op) {
  return op == ControlOp::kRead || op == ControlOp::kWrite || op == ControlOp::kWriteZeroes;
}

bool needs_nsid(ControlOp op) {
  return needs_range(op) || op == ControlOp::kFlush || op == ControlOp::kDeallocate;
}

// Reads an unsigned field that must be present and fit in T.
template <typename T>
bool get_unsigned(const json& j, const char* key, T* out, std::string* why) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || (!it->is_number_unsigned() && it->template get<int64_t>() < 0)) {
    *why = std::string("missing or invalid \"") + key + "\"";
    return false;
  }
  uint64_t v = it->template get<uint64_t>();
  if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
    *why = std::string("\"") + key + "\" out of range";
    return false;
  }
  *out = static_cast<T>(v);
  return true;
}

}  // namespace

const char* control_op_name(ControlOp op) {
  for (const auto& n : kOpNames)
    if (n.op == op) return n.name;
  return "?";
}

ControlReply ControlReply::nvme_status(uint16_t status) {
  ControlReply r;
  r.kind = Kind::kNvmeStatus;
  r.status = status;
  r.status_name = ::nvmeoe::status_name(status);
  return r;
}

std::string ControlReply::describe() const {
  switch (kind) {
    case Kind::kOk:
      return "Success";
    case Kind::kError:
      return error;
    case Kind::kNvmeStatus: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "(%#x)", status);
      return "NVMe status: " + status_name + buf;
    }
  }
  return "?";
}

std::string encode_request(const ControlRequest& req) {
  json j;
  j["op"] = control_op_name(req.op);
  if (needs_nsid(req.op)) j["nsid"] = req.nsid;
  if (needs_range(req.op)) {
    j["slba"] = req.slba;
    j["nlb"] = req.nlb;
  }
  if (req.op == ControlOp::kWrite) j["bytes"] = req.bytes;
  if (req.op == ControlOp::kDeallocate) {
    json ranges = json::array();
    for (const auto& r : req.ranges) ranges.push_back({{"slba", r.slba}, {"nlb", r.nlb}});
    j["ranges"] = std::move(ranges);
  }
  if (req.op == ControlOp::kAdmin) encode_admin_fields(req, j);
  return j.dump() + "\n";
}

Result<ControlRequest> decode_request(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::error("request is not a JSON object");
  auto op_it = j.find("op");
  if (op_it == j.end() || !op_it->is_string()) return Status::error("request has no \"op\"");
  ControlRequest req;
  bool known = false;
  for (const auto& n : kOpNames)
    if (*op_it == n.name) {
      req.op = n.op;
      known = true;
    }
  if (!known) return Status::error("unknown op '" + op_it->get<std::string>() + "'");
  std::string why;
  if (needs_nsid(req.op) && !get_unsigned(j, "nsid", &req.nsid, &why)) return Status::error(why);
  if (needs_range(req.op)) {
    if (!get_unsigned(j, "slba", &req.slba, &why) || !get_unsigned(j, "nlb", &req.nlb, &why)) return Status::error(why);
    if (req.nlb == 0) return Status::error("\"nlb\" must be at least 1");
  }
  if (req.op == ControlOp::kWrite && !get_unsigned(j, "bytes", &req.bytes, &why)) return Status::error(why);
  if (req.op == ControlOp::kAdmin) NVMEOE_RETURN_IF_ERROR(decode_admin_fields(j, &req));
  if (req.op == ControlOp::kDeallocate) {
    auto it = j.find("ranges");
    if (it == j.end() || !it->is_array() || it->empty()) return Status::error("missing or empty \"ranges\"");
    if (it->size() > 256) return Status::error("at most 256 ranges per deallocate");
    for (const auto& r : *it) {
      RangeModel range;
      if (!r.is_object() || !get_unsigned(r, "slba", &range.slba, &why) || !get_unsigned(r, "nlb", &range.nlb, &why))
        return Status::error("bad range: " + (why.empty() ? std::string("not an object") : why));
      req.ranges.push_back(range);
    }
  }
  return req;
}

std::string encode_reply(const ControlReply& reply) {
  json j;
  switch (reply.kind) {
    case ControlReply::Kind::kOk:
      j["ok"] = true;
      if (reply.bytes) j["bytes"] = reply.bytes;
      if (reply.has_cqe) {
        j["dw0"] = reply.dw0;
        j["dw1"] = reply.dw1;
      }
      if (reply.has_info) j["info"] = reply.info;
      if (reply.has_stats) {
        json st = reply.stats;
        st.erase("namespaces");
        j["stats"] = std::move(st);
      }
      break;
    case ControlReply::Kind::kError:
      j["error"] = reply.error;
      break;
    case ControlReply::Kind::kNvmeStatus:
      j["status"] = reply.status;
      j["status_name"] = reply.status_name;
      break;
  }
  // Names come from the target (Identify): bytes that are not UTF-8 are replaced, never thrown on.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<ControlReply> decode_reply(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::error("agent reply is not a JSON object");
  ControlReply r;
  std::string why;
  if (auto it = j.find("error"); it != j.end()) {
    r.kind = ControlReply::Kind::kError;
    r.error = it->is_string() ? it->get<std::string>() : it->dump();
    return r;
  }
  if (j.contains("status")) {
    r.kind = ControlReply::Kind::kNvmeStatus;
    if (!get_unsigned(j, "status", &r.status, &why)) return Status::error("agent reply: " + why);
    r.status_name = j.value("status_name", ::nvmeoe::status_name(r.status));
    return r;
  }
  if (j.value("ok", false) != true) return Status::error("agent reply has neither \"ok\", \"error\" nor \"status\"");
  if (j.contains("bytes") && !get_unsigned(j, "bytes", &r.bytes, &why)) return Status::error("agent reply: " + why);
  if (r.bytes > kMaxDataBytes) return Status::error("agent reply announces too many bytes");
  if (j.contains("dw0")) {
    if (!get_unsigned(j, "dw0", &r.dw0, &why) || !get_unsigned(j, "dw1", &r.dw1, &why))
      return Status::error("agent reply: " + why);
    r.has_cqe = true;
  }
  if (auto it = j.find("info"); it != j.end()) {
    try {
      r.info = it->get<ControllerModel>();
      r.has_info = true;
    } catch (const json::exception& e) {
      return Status::error(std::string("agent info reply is malformed: ") + e.what());
    }
  }
  if (auto it = j.find("stats"); it != j.end()) {
    try {
      r.stats = it->get<ControllerModel>();
      r.has_stats = true;
    } catch (const json::exception& e) {
      return Status::error(std::string("agent stats reply is malformed: ") + e.what());
    }
  }
  return r;
}

std::string control_socket_path(const std::string& name) {
  return run_dir() + "/" + name + ".sock";
}
std::string control_lock_path(const std::string& name) {
  return run_dir() + "/" + name + ".lock";
}
std::string control_json_path(const std::string& name) {
  return run_dir() + "/" + name + ".json";
}

std::vector<std::string> list_controller_names() {
  std::vector<std::string> names;
  DIR* dir = ::opendir(run_dir().c_str());
  if (!dir) return names;
  while (dirent* e = ::readdir(dir)) {
    std::string file = e->d_name;
    static const std::string kSuffix = ".sock";
    if (file.size() <= kSuffix.size() || file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      continue;
    std::string name = file.substr(0, file.size() - kSuffix.size());
    if (name.compare(0, 6, "nvmeoe") == 0) names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end(), controller_name_less);
  return names;
}

Result<ControlStream> connect_control(const std::string& name, std::chrono::milliseconds timeout) {
  std::string path = control_socket_path(name);
  return connect_unix(path, timeout, "controller " + name + " does not exist (no agent at " + path + ")");
}

Result<ControlReply> control_call(ControlStream& s, const ControlRequest& req, std::span<const uint8_t> data,
                                  std::vector<uint8_t>* in) {
  NVMEOE_RETURN_IF_ERROR(s.write_all(encode_request(req)));
  if (!data.empty()) NVMEOE_RETURN_IF_ERROR(s.write_all(data.data(), data.size()));
  std::string line;
  NVMEOE_RETURN_IF_ERROR(s.read_line(&line, nullptr, kMaxReplyLineBytes));
  auto reply = decode_reply(line);
  if (!reply) return reply.status();
  if (reply->kind == ControlReply::Kind::kOk && reply->bytes > 0) {
    std::vector<uint8_t> sink;
    std::vector<uint8_t>& dst = in ? *in : sink;
    dst.resize(reply->bytes);
    NVMEOE_RETURN_IF_ERROR(s.read_exact(dst.data(), dst.size()));
  }
  return reply;
}

}  // namespace nvmeoe::cli
