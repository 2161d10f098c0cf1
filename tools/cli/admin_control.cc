// The "admin" control operation: codec of its fields and its execution in the agent (see
// admin_control.h).
#include "cli/admin_control.h"

#include <cstdio>

#include "nvme/identify.h"

namespace nvmeoe::cli {

namespace {

std::string to_hex(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 0xf];
  }
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex_byte(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%#04x", v);
  return buf;
}

}  // namespace

void encode_admin_fields(const ControlRequest& req, nlohmann::json& j) {
  j["sqe"] = to_hex(req.sqe.data(), req.sqe.size());
  j["data_len"] = req.data_len;
  if (req.bytes) j["bytes"] = req.bytes;
}

Status decode_admin_fields(const nlohmann::json& j, ControlRequest* req) {
  auto sqe = j.find("sqe");
  if (sqe == j.end() || !sqe->is_string() || sqe->get_ref<const std::string&>().size() != 2 * kSqeSize)
    return Status::error("\"sqe\" must be 128 hex digits");
  const std::string& text = sqe->get_ref<const std::string&>();
  for (size_t i = 0; i < kSqeSize; ++i) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::error("\"sqe\" must be 128 hex digits");
    req->sqe[i] = uint8_t(hi << 4 | lo);
  }
  auto len = j.find("data_len");
  if (len == j.end() || !len->is_number_unsigned() || len->get<uint64_t>() > kMaxAdminDataBytes)
    return Status::error("\"data_len\" must be a number from 0 to " + std::to_string(kMaxAdminDataBytes));
  req->data_len = len->get<uint32_t>();
  if (auto b = j.find("bytes"); b != j.end()) {
    if (!b->is_number_unsigned() || b->get<uint64_t>() != req->data_len)
      return Status::error("\"bytes\" of an admin request must equal its \"data_len\"");
    req->bytes = req->data_len;
  }
  return Status::ok();
}

ControlRequest make_admin_request(const Sqe& sqe, uint32_t data_len) {
  ControlRequest req;
  req.op = ControlOp::kAdmin;
  Sqe s = sqe;
  s.cid = 0;
  s.dptr = {};
  encode_sqe(s, req.sqe.data());
  req.data_len = data_len;
  if (data_direction(s) == DataDirection::kHostToController) req.bytes = data_len;
  return req;
}

std::string admin_refusal(const Sqe& sqe) {
  switch (sqe.opcode) {
    case admin_opcode::kIdentify:
    case admin_opcode::kGetLogPage:
    case admin_opcode::kGetFeatures:
    case admin_opcode::kSetFeatures:
    case admin_opcode::kKeepAlive:
      return "";
    case admin_opcode::kFabrics:
      if (sqe.fctype() == fabrics_type::kPropertyGet) return "";
      return "Fabrics command type " + hex_byte(sqe.fctype()) +
             " is not allowed through the agent: it holds the association itself";
    case admin_opcode::kAsyncEventRequest:
      return "Asynchronous Event Request is not allowed through the agent (the target holds it until an event)";
    default:
      return "admin opcode " + hex_byte(sqe.opcode) + " (" + opcode_name(sqe.opcode, true, 0) +
             ") is not allowed through the agent";
  }
}

ControlReply execute_admin(HostController& hc, const ControlRequest& req, std::vector<uint8_t>* buf,
                           uint64_t* out_bytes) {
  *out_bytes = 0;
  const Sqe sqe = decode_sqe(req.sqe.data());
  if (std::string why = admin_refusal(sqe); !why.empty()) return ControlReply::failure(why);
  const DataDirection dir = data_direction(sqe);
  if (dir == DataDirection::kBidirectional)
    return ControlReply::failure("bidirectional admin commands are not supported");
  if (dir == DataDirection::kNone && req.data_len != 0)
    return ControlReply::failure("admin opcode " + hex_byte(sqe.opcode) + " transfers no data, but data_len is " +
                                 std::to_string(req.data_len));
  if (uint32_t mt = hc.controller().max_transfer; mt != 0 && req.data_len > mt)
    return ControlReply::failure("admin data of " + std::to_string(req.data_len) +
                                 " bytes is over the controller's maximum transfer of " + std::to_string(mt) +
                                 " bytes (read it in pieces)");
  if (dir == DataDirection::kHostToController && (req.bytes != req.data_len || buf->size() != req.data_len))
    return ControlReply::failure("admin command needs " + std::to_string(req.data_len) + " bytes of data");
  if (dir == DataDirection::kControllerToHost) buf->assign(req.data_len, 0);
  std::array<uint8_t, kSqeSize> bytes;
  encode_sqe(sqe, bytes.data());
  std::span<uint8_t> data = dir == DataDirection::kNone ? std::span<uint8_t>() : std::span<uint8_t>(*buf);
  Completion c = hc.admin_sync(bytes, data);
  if (!c.ok()) return ControlReply::nvme_status(c.status);
  ControlReply r = ControlReply::ok(dir == DataDirection::kControllerToHost ? req.data_len : 0);
  r.has_cqe = true;
  r.dw0 = c.dw0;
  r.dw1 = c.dw1;
  if (dir == DataDirection::kControllerToHost) *out_bytes = req.data_len;
  return r;
}

}  // namespace nvmeoe::cli
