// The control protocol between the nvmeoe CLI and a controller's agent (the background process
// that `nvmeoe connect` leaves holding the association).
//
// Transport: a UNIX stream socket $NVMEOE_RUN_DIR/<name>.sock (mode 0600), beside <name>.lock
// (flock()ed by the agent for its lifetime; the lowest free N names the controller "nvmeoe<N>")
// and <name>.json (static facts: pid, target MAC, NQNs, interface). Default run dir /run/nvmeoe.
//
// Framing: the client sends one request as a single JSON object on one line ('\n'-terminated),
// followed by exactly "bytes" raw bytes when the request has data (write). The agent answers one
// JSON line, followed by exactly "bytes" raw bytes when the reply says so (read). A connection may
// carry any number of request/reply exchanges in turn; either side may close after a reply.
//
// Requests ("op" picks the operation; nlb counts blocks, not 0-based):
//   {"op":"info"}                                             -> {"ok":true,"info":{controller model}}
//   {"op":"read","nsid":1,"slba":0,"nlb":8}                   -> {"ok":true,"bytes":4096} + data
//   {"op":"write","nsid":1,"slba":0,"nlb":8,"bytes":4096} + data -> {"ok":true}
//   {"op":"flush","nsid":1}                                   -> {"ok":true}
//   {"op":"write-zeroes","nsid":1,"slba":0,"nlb":8}           -> {"ok":true}
//   {"op":"deallocate","nsid":1,"ranges":[{"slba":0,"nlb":8}]} -> {"ok":true}
//   {"op":"disconnect"}                                       -> {"ok":true}, then the agent exits
//   {"op":"stats"}                                            -> {"ok":true,"stats":{controller stats}}
//   {"op":"admin","sqe":"<hex>","data_len":N}                 -> {"ok":true,"dw0":..,"dw1":..} + data
//     (one admin command passed through; admin_control.h has its fields and what is allowed)
// The stats body is the info model without "namespaces": name, pid, target_mac, iface, hostnqn,
// subnqn, cntlid, state ("live" or "connecting"), reconnects, and "queues", one object per queue
// (admin queue first) with the counters since connect, kept across reconnects:
//   qid, size, commands, reads, writes, other, bytes_read, bytes_written, in_flight, retransmits,
//   timeouts, errors, duplicates, digest_errors (admin queue: the whole controller's),
//   latency_count, latency_mean_us, latency_max_us, latency_p50_us, latency_p99_us,
//   latency_p999_us (dispatch to completion of the commands the target answered; percentiles
//   from a log-linear histogram with at most 3% error; 0 when no command completed), and
//   latency_buckets, the histogram's non-empty buckets as [[bucket, count], ...]
//   (src/common/histogram.h), so two samples give the latency of the interval between them.
// README.md ("Statistics") lists the same fields as `nvmeoe stats -o json` prints them.
// Failures: {"error":"message"} for requests that never reached the controller (bad request, size
// over the limit, unknown namespace), {"status":640,"status_name":"..."} when the NVMe command
// completed with an error status (Linux layout, see nvme/spec.h).
//
// Limits: a request line is at most kMaxLineBytes, a reply line at most kMaxReplyLineBytes (an
// info reply lists up to 1024 namespaces, a stats reply carries histograms); the data of one
// request at most kMaxDataBytes
// (64 MiB) -- the CLI splits bigger transfers, and the agent rejects bigger requests without
// reading their data (it then closes the connection, since the stream is out of step).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/list_model.h"
#include "common/status.h"
#include "common/unix_stream.h"

namespace nvmeoe::cli {

inline constexpr size_t kMaxLineBytes = 64 * 1024;
inline constexpr size_t kMaxReplyLineBytes = 16 * 1024 * 1024;
inline constexpr uint64_t kMaxDataBytes = 64ull << 20;

enum class ControlOp { kInfo, kRead, kWrite, kFlush, kWriteZeroes, kDeallocate, kDisconnect, kStats, kAdmin };
const char* control_op_name(ControlOp op);

struct RangeModel {
  uint64_t slba = 0;
  uint32_t nlb = 0;
};

struct ControlRequest {
  ControlOp op = ControlOp::kInfo;
  uint32_t nsid = 0;
  uint64_t slba = 0;
  uint32_t nlb = 0;
  uint64_t bytes = 0;  // write, admin: raw bytes that follow the line
  std::vector<RangeModel> ranges;
  std::array<uint8_t, 64> sqe{};  // admin: the submission queue entry
  uint32_t data_len = 0;          // admin: bytes the command transfers
};

struct ControlReply {
  enum class Kind { kOk, kError, kNvmeStatus };
  Kind kind = Kind::kOk;
  std::string error;        // kError
  uint16_t status = 0;      // kNvmeStatus
  std::string status_name;  // kNvmeStatus
  uint64_t bytes = 0;       // kOk: raw bytes that follow the line (read)
  bool has_info = false;
  ControllerModel info;  // kOk reply to info
  bool has_stats = false;
  ControllerModel stats;  // kOk reply to stats (namespaces left empty)
  bool has_cqe = false;   // kOk reply to admin: completion dwords 0 and 1
  uint32_t dw0 = 0, dw1 = 0;

  static ControlReply ok(uint64_t bytes = 0) {
    ControlReply r;
    r.bytes = bytes;
    return r;
  }
  static ControlReply failure(std::string message) {
    ControlReply r;
    r.kind = Kind::kError;
    r.error = std::move(message);
    return r;
  }
  static ControlReply nvme_status(uint16_t status);
  // One line for the user: the error, or "NVMe status: <name>(0x...)" as nvme-cli prints it.
  std::string describe() const;
};

// Encoders return one line including the trailing '\n'; decoders take it with or without.
std::string encode_request(const ControlRequest& req);
Result<ControlRequest> decode_request(std::string_view line);
std::string encode_reply(const ControlReply& reply);
Result<ControlReply> decode_reply(std::string_view line);

// Paths of a controller's runtime files.
std::string control_socket_path(const std::string& name);
std::string control_lock_path(const std::string& name);
std::string control_json_path(const std::string& name);
// Controller names with a socket in the run directory, in natural order. Stale sockets (agent
// gone) are included; callers skip those whose connection is refused.
std::vector<std::string> list_controller_names();

// A connection to an agent: the project's UNIX stream (common/unix_stream.h): blocking, buffered
// I/O where lines and raw byte runs share one receive buffer.
using ControlStream = UnixStream;

// Connects to a controller's agent. The error for a missing or stale socket says the controller
// does not exist.
Result<ControlStream> connect_control(const std::string& name, std::chrono::milliseconds timeout);

// One exchange: sends `req` (and `data` for a write), reads the reply line and, when the reply
// carries bytes, those bytes into `in` (resized). A protocol failure (connection lost, garbage)
// is an error Status; NVMe and agent errors are replies.
Result<ControlReply> control_call(ControlStream& s, const ControlRequest& req, std::span<const uint8_t> data = {},
                                  std::vector<uint8_t>* in = nullptr);

}  // namespace nvmeoe::cli
