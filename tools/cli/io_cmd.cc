// `nvmeoe read|write|flush|write-zeroes|dsm`: nvme-cli's I/O commands, sent through a
// controller's agent. Flags and messages follow nvme-cli 2.3 (nvme.c submit_io(), flush(),
// write_zeroes(), dsm()): -c is the 0-based block count, a -z smaller than the blocks is rounded up
// with nvme-cli's message, success prints "<cmd>: Success" on stderr, an NVMe error prints
// "NVMe status: <name>(<status>)" and exits 1 (nvme-cli exits with the status itself).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "cli/agent_server.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/control.h"
#include "common/log.h"

namespace nvmeoe::cli {

namespace {

constexpr auto kIoTimeout = std::chrono::seconds(120);

struct Target {
  std::unique_ptr<ControlStream> stream;
  ControllerModel info;
  NamespaceModel ns;
};

// Connects to the device's agent and looks up the namespace: the NSID in the name, else -n, else 1
// (an explicit -n wins, as in nvme-cli).
Result<Target> open_target(const std::string& device, uint32_t nsid_opt) {
  auto node = parse_node_name(device);
  if (!node) return node.status();
  uint32_t nsid = nsid_opt ? nsid_opt : node->nsid.value_or(1);
  auto stream = connect_control(node->controller, kIoTimeout);
  if (!stream) return stream.status();
  Target t;
  t.stream = std::make_unique<ControlStream>(std::move(*stream));
  auto reply = control_call(*t.stream, ControlRequest{ControlOp::kInfo});
  if (!reply) return Status::error(node->controller + ": " + reply.status().message());
  if (!reply->has_info) return Status::error(node->controller + ": " + reply->describe());
  t.info = std::move(reply->info);
  const NamespaceModel* ns = t.info.find_namespace(nsid);
  if (!ns) return Status::error("namespace " + std::to_string(nsid) + " does not exist on " + node->controller);
  t.ns = *ns;
  return t;
}

// Reports a reply the nvme-cli way; returns the exit status.
int report(const char* what, const Result<ControlReply>& reply, const char* success_text = nullptr) {
  if (!reply) {
    std::fprintf(stderr, "%s: %s\n", what, reply.status().message().c_str());
    return 1;
  }
  if (reply->kind == ControlReply::Kind::kOk) {
    if (success_text)
      std::fprintf(stderr, "%s\n", success_text);
    else
      std::fprintf(stderr, "%s: Success\n", what);
    return 0;
  }
  if (reply->kind == ControlReply::Kind::kNvmeStatus)
    std::fprintf(stderr, "%s\n", reply->describe().c_str());
  else
    std::fprintf(stderr, "%s: %s\n", what, reply->error.c_str());
  return 1;
}

Status write_fd_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::from_errno(errno, "write");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::ok();
}

// Reads until `n` bytes or end of file; returns the count.
Result<size_t> read_fd_up_to(int fd, uint8_t* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::from_errno(errno, "read");
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

struct RwArgs {
  std::string device, data;
  uint64_t start_block = 0;
  uint32_t block_count = 0;  // 0-based
  uint64_t data_size = 0;
  uint32_t nsid = 0;
  LogOptions log;
};

int run_rw(const RwArgs& a, bool write) {
  const char* what = write ? "write" : "read";
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  if (a.data_size == 0) {
    std::fprintf(stderr, "data size not provided\n");
    return 1;
  }
  auto target = open_target(a.device, a.nsid);
  if (!target) {
    std::fprintf(stderr, "%s: %s\n", what, target.status().message().c_str());
    return 1;
  }
  const uint32_t bs = target->ns.block_size;
  const uint64_t blocks = uint64_t(a.block_count) + 1;
  uint64_t buffer_size = blocks * bs;
  if (a.data_size < buffer_size) {
    std::fprintf(stderr, "Rounding data size to fit block count (%llu bytes)\n",
                 static_cast<unsigned long long>(buffer_size));
  } else {
    buffer_size = a.data_size;
  }

  int fd = write ? STDIN_FILENO : STDOUT_FILENO;
  if (!a.data.empty()) {
    fd = write ? ::open(a.data.c_str(), O_RDONLY | O_CLOEXEC)
               : ::open(a.data.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "failed to open %s: %s\n", a.data.c_str(), std::strerror(errno));
      return 1;
    }
  }
  struct FdCloser {
    int fd;
    bool owned;
    ~FdCloser() {
      if (owned) ::close(fd);
    }
  } closer{fd, !a.data.empty()};

  // Streams chunk by chunk, so a large transfer never needs a buffer of its whole size.
  uint64_t chunk = std::min<uint64_t>(kMaxDataBytes / bs, kMaxBlocksPerCommand);
  if (target->info.max_transfer >= bs) chunk = std::min<uint64_t>(chunk, target->info.max_transfer / bs);
  uint64_t input_left = std::min<uint64_t>(a.data_size, buffer_size);  // write: bytes to take from input
  std::vector<uint8_t> buf;
  for (uint64_t done = 0; done < blocks;) {
    uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(blocks - done, chunk));
    const uint64_t bytes = uint64_t(n) * bs;
    ControlRequest req{write ? ControlOp::kWrite : ControlOp::kRead, target->ns.nsid, a.start_block + done, n};
    std::span<const uint8_t> out;
    if (write) {
      buf.assign(bytes, 0);  // input shorter than the blocks is padded with zeroes, as nvme-cli does
      auto got = read_fd_up_to(fd, buf.data(), std::min(bytes, input_left));
      if (!got) {
        std::fprintf(stderr, "failed to read data buffer from input file: %s\n", got.status().message().c_str());
        return 1;
      }
      input_left -= *got;
      req.bytes = bytes;
      out = std::span<const uint8_t>(buf.data(), bytes);
    }
    auto reply = control_call(*target->stream, req, out, write ? nullptr : &buf);
    if (!reply || reply->kind != ControlReply::Kind::kOk) return report(what, reply);
    if (!write) {
      if (buf.size() != bytes) {
        std::fprintf(stderr, "%s: agent returned %zu bytes, expected %llu\n", what, buf.size(),
                     static_cast<unsigned long long>(bytes));
        return 1;
      }
      if (Status s = write_fd_all(fd, buf.data(), buf.size()); !s) {
        std::fprintf(stderr, "%s: failed to write buffer to output file: %s\n", what, s.message().c_str());
        return 1;
      }
    }
    done += n;
  }
  if (!write && buffer_size > blocks * bs) {
    // A -z larger than the blocks: nvme-cli writes its whole (zero-filled) buffer.
    std::vector<uint8_t> zeroes(std::min<uint64_t>(buffer_size - blocks * bs, 1 << 20), 0);
    for (uint64_t left = buffer_size - blocks * bs; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, zeroes.size()));
      if (Status s = write_fd_all(fd, zeroes.data(), n); !s) {
        std::fprintf(stderr, "%s: failed to write buffer to output file: %s\n", what, s.message().c_str());
        return 1;
      }
      left -= n;
    }
  }
  std::fprintf(stderr, "%s: Success\n", what);
  return 0;
}

struct SimpleArgs {
  std::string device;
  uint32_t nsid = 0;
  uint64_t start_block = 0;
  uint32_t block_count = 0;  // 0-based (write-zeroes)
  std::string slbs, blocks;  // dsm
  bool ad = false;           // dsm
  LogOptions log;
};

int run_flush(const SimpleArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  auto target = open_target(a.device, a.nsid);
  if (!target) {
    std::fprintf(stderr, "flush: %s\n", target.status().message().c_str());
    return 1;
  }
  ControlRequest req{ControlOp::kFlush, target->ns.nsid};
  return report("flush", control_call(*target->stream, req), "NVMe Flush: success");
}

int run_write_zeroes(const SimpleArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  auto target = open_target(a.device, a.nsid);
  if (!target) {
    std::fprintf(stderr, "write-zeroes: %s\n", target.status().message().c_str());
    return 1;
  }
  ControlRequest req{ControlOp::kWriteZeroes, target->ns.nsid, a.start_block, a.block_count + 1};
  return report("write-zeroes", control_call(*target->stream, req), "NVME Write Zeroes Success");
}

int run_dsm(const SimpleArgs& a) {
  apply_log_options(a.log, static_cast<int>(LogLevel::kWarn));
  if (!a.ad) {
    std::fprintf(stderr, "dsm: only deallocate is supported; give --ad\n");
    return 1;
  }
  auto slbs = parse_u64_list(a.slbs);
  auto counts = parse_u64_list(a.blocks);
  if (!slbs || !counts) {
    std::fprintf(stderr, "dsm: %s\n", (!slbs ? slbs.status() : counts.status()).message().c_str());
    return 1;
  }
  if (slbs->size() != counts->size() || slbs->size() > 256) {
    std::fprintf(stderr, "dsm: --slbs and --blocks need the same number of entries (1 to 256)\n");
    return 1;
  }
  ControlRequest req{ControlOp::kDeallocate};
  for (size_t i = 0; i < slbs->size(); ++i) {
    if ((*counts)[i] == 0 || (*counts)[i] > 0xffffffffULL) {
      std::fprintf(stderr, "dsm: block count %llu out of range (1 to 4294967295)\n",
                   static_cast<unsigned long long>((*counts)[i]));
      return 1;
    }
    req.ranges.push_back(RangeModel{(*slbs)[i], static_cast<uint32_t>((*counts)[i])});
  }
  auto target = open_target(a.device, a.nsid);
  if (!target) {
    std::fprintf(stderr, "dsm: %s\n", target.status().message().c_str());
    return 1;
  }
  req.nsid = target->ns.nsid;
  return report("dsm", control_call(*target->stream, req), "NVMe DSM: success");
}

void add_device_options(CLI::App* app, std::string* device, uint32_t* nsid) {
  app->add_option("device", *device, "Namespace (nvmeoe0n1) or controller (nvmeoe0, with -n)")
      ->required()
      ->check(node_name_validator());
  app->add_option("-n,--namespace-id", *nsid, "Namespace ID (default: from the device name, else 1)")
      ->check(int_range_validator(1, 0xfffffffe, "the namespace ID"));
}

Subcommand add_rw_command(CLI::App& parent, bool write) {
  auto a = std::make_shared<RwArgs>();
  CLI::App* app = parent.add_subcommand(
      write ? "write" : "read", write ? "Write blocks from a file or stdin" : "Read blocks to a file or stdout");
  add_device_options(app, &a->device, &a->nsid);
  app->add_option("-s,--start-block", a->start_block, "64-bit address of the first block");
  app->add_option("-c,--block-count", a->block_count, "Number of blocks, 0-based (0 means one block)")
      ->check(int_range_validator(0, 0xffffffff, "the block count"));
  // Not ->required(): a missing -z gets nvme-cli's own message ("data size not provided").
  app->add_option("-z,--data-size", a->data_size, "Size of the data in bytes (at least (c+1) blocks)");
  app->add_option("-d,--data", a->data,
                  write ? "File to read the data from (default stdin)" : "File to write the data to (default stdout)");
  add_log_options(*app, &a->log);
  app->footer(write ? "Examples:\n"
                      "  nvmeoe write nvmeoe0n1 -s 0 -c 7 -z 4096 -d data.bin\n"
                      "  head -c 1M /dev/urandom | nvmeoe write nvmeoe0 -n 1 -s 2048 -c 2047 -z 1048576"
                    : "Examples:\n"
                      "  nvmeoe read nvmeoe0n1 -s 0 -c 7 -z 4096 -d out.bin\n"
                      "  nvmeoe read nvmeoe0n1 -s 0 -c 0 -z 512 | hexdump -C");
  return {app, [a, write] { return run_rw(*a, write); }};
}

}  // namespace

std::vector<Subcommand> add_io_commands(CLI::App& parent) {
  std::vector<Subcommand> out;
  out.push_back(add_rw_command(parent, false));
  out.push_back(add_rw_command(parent, true));

  auto fa = std::make_shared<SimpleArgs>();
  CLI::App* flush = parent.add_subcommand("flush", "Flush a namespace's volatile write cache");
  add_device_options(flush, &fa->device, &fa->nsid);
  add_log_options(*flush, &fa->log);
  flush->footer("Example:\n  nvmeoe flush nvmeoe0n1");
  out.push_back({flush, [fa] { return run_flush(*fa); }});

  auto wa = std::make_shared<SimpleArgs>();
  CLI::App* wz = parent.add_subcommand("write-zeroes", "Zero a range of blocks");
  add_device_options(wz, &wa->device, &wa->nsid);
  wz->add_option("-s,--start-block", wa->start_block, "64-bit address of the first block");
  wz->add_option("-c,--block-count", wa->block_count, "Number of blocks, 0-based")
      ->check(int_range_validator(0, 0xffff, "the block count"));
  add_log_options(*wz, &wa->log);
  wz->footer("Example:\n  nvmeoe write-zeroes nvmeoe0n1 -s 0 -c 255");
  out.push_back({wz, [wa] { return run_write_zeroes(*wa); }});

  auto da = std::make_shared<SimpleArgs>();
  CLI::App* dsm = parent.add_subcommand("dsm", "Dataset Management: deallocate ranges of blocks");
  add_device_options(dsm, &da->device, &da->nsid);
  dsm->add_option("-s,--slbs", da->slbs, "Comma-separated starting LBAs")->required();
  dsm->add_option("-b,--blocks", da->blocks, "Comma-separated block counts (not 0-based)")->required();
  dsm->add_flag("-d,--ad", da->ad, "Attribute Deallocate");
  add_log_options(*dsm, &da->log);
  dsm->footer("Examples:\n  nvmeoe dsm nvmeoe0n1 -s 0 -b 2048 --ad\n  nvmeoe dsm nvmeoe0n1 -s 0,4096 -b 8,8 -d");
  out.push_back({dsm, [da] { return run_dsm(*da); }});
  return out;
}

}  // namespace nvmeoe::cli
