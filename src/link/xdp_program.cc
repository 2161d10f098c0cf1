// XdpProgram: the XSKMAP, the redirecting XDP program (assembled here instruction by instruction) and
// its BPF-link attachment. See xdp_program.h.
#include "link/xdp_program.h"

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"

namespace nvmeoe {

namespace {

// At most 15 characters (BPF_OBJ_NAME_LEN); `bpftool prog` and `ip link` show them.
constexpr char kProgramName[] = "nvmeoe_xdp";
constexpr char kMapName[] = "nvmeoe_xsks";
constexpr size_t kVerifierLogBytes = 64 * 1024;

long sys_bpf(int cmd, bpf_attr* attr) {
  return ::syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

// The same wording for every bpf() command that fails for want of privilege or kernel support.
Status bpf_error(int err, const std::string& what) {
  if (err == EPERM || err == EACCES)
    return Status::error(what + ": permission denied (the AF_XDP link needs CAP_BPF and CAP_NET_ADMIN: run as root)",
                         err);
  if (err == ENOSYS) return Status::error(what + ": this kernel has no bpf() system call", err);
  return Status::from_errno(err, what);
}

// Instruction builders, in the kernel's own notation (include/linux/filter.h).
constexpr bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
constexpr bpf_insn mov64_reg(uint8_t dst, uint8_t src) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
constexpr bpf_insn mov64_imm(uint8_t dst, int32_t imm) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
constexpr bpf_insn add64_imm(uint8_t dst, int32_t imm) {
  return insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
}
constexpr bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
constexpr bpf_insn ldx_h(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_LDX | BPF_H | BPF_MEM, dst, src, off, 0);
}
constexpr bpf_insn jgt_reg(uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_JMP | BPF_JGT | BPF_X, dst, src, off, 0);
}
constexpr bpf_insn jne_imm(uint8_t dst, int32_t imm, int16_t off) {
  return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
constexpr bpf_insn call(int32_t helper) {
  return insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper);
}
constexpr bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

// The program (r1 = struct xdp_md *ctx):
//   if (data + 14 > data_end) return XDP_PASS;              // bounds check for the verifier
//   if (*(u16 *)(data + 12) != htons(ethertype)) return XDP_PASS;
//   return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
// bpf_redirect_map returns its flags argument (XDP_PASS) when the queue has no socket. A
// multi-buffer frame's linear part always holds the Ethernet header, so data..data_end suffices.
std::vector<bpf_insn> assemble(uint16_t ethertype, int map_fd) {
  constexpr uint8_t r0 = 0, r1 = 1, r2 = 2, r3 = 3, r4 = 4, r6 = 6;
  // A 16-bit load reads the EtherType in host byte order; htons gives the same number for the
  // wanted value on either byte order.
  const int32_t wanted = htons(ethertype);
  std::vector<bpf_insn> p = {
      mov64_reg(r6, r1),
      ldx_w(r2, r6, offsetof(xdp_md, data)),
      ldx_w(r3, r6, offsetof(xdp_md, data_end)),
      mov64_reg(r4, r2),
      add64_imm(r4, 14),
      jgt_reg(r4, r3, 8),  // -> pass
      ldx_h(r4, r2, 12),
      jne_imm(r4, wanted, 6),  // -> pass
      ldx_w(r2, r6, offsetof(xdp_md, rx_queue_index)),
      // r1 = the map (a 64-bit immediate load: two instructions; the kernel swaps in the map).
      insn(BPF_LD | BPF_DW | BPF_IMM, r1, BPF_PSEUDO_MAP_FD, 0, map_fd),
      insn(0, 0, 0, 0, 0),
      mov64_imm(r3, XDP_PASS),
      call(BPF_FUNC_redirect_map),
      exit_insn(),
      // pass:
      mov64_imm(r0, XDP_PASS),
      exit_insn(),
  };
  return p;
}

int load_program(const std::vector<bpf_insn>& prog, char* log, uint32_t log_size) {
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_XDP;
  attr.insns = reinterpret_cast<uint64_t>(prog.data());
  attr.insn_cnt = static_cast<uint32_t>(prog.size());
  attr.license = reinterpret_cast<uint64_t>("GPL");
  attr.prog_flags = BPF_F_XDP_HAS_FRAGS;
  attr.expected_attach_type = BPF_XDP;
  std::memcpy(attr.prog_name, kProgramName, sizeof kProgramName);
  if (log != nullptr) {
    attr.log_level = 1;
    attr.log_buf = reinterpret_cast<uint64_t>(log);
    attr.log_size = log_size;
  }
  return static_cast<int>(sys_bpf(BPF_PROG_LOAD, &attr));
}

}  // namespace

XdpProgram::~XdpProgram() {
  if (link_fd_ >= 0) ::close(link_fd_);
  if (prog_fd_ >= 0) ::close(prog_fd_);
  if (map_fd_ >= 0) ::close(map_fd_);
}

Result<std::unique_ptr<XdpProgram>> XdpProgram::load(uint16_t ethertype, uint32_t queues) {
  std::unique_ptr<XdpProgram> p(new XdpProgram());

  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_XSKMAP;
  attr.key_size = sizeof(uint32_t);
  attr.value_size = sizeof(uint32_t);
  attr.max_entries = queues;
  std::memcpy(attr.map_name, kMapName, sizeof kMapName);
  p->map_fd_ = static_cast<int>(sys_bpf(BPF_MAP_CREATE, &attr));
  if (p->map_fd_ < 0) {
    int err = errno;
    if (err == EINVAL)
      return Status::error("creating the XSKMAP: this kernel has no AF_XDP support (CONFIG_XDP_SOCKETS)", err);
    if (err == ENOMEM)
      return Status::error("creating the XSKMAP: out of memory (locked-memory limit? see `ulimit -l`)", err);
    return bpf_error(err, "creating the XSKMAP");
  }

  const std::vector<bpf_insn> prog = assemble(ethertype, p->map_fd_);
  p->prog_fd_ = load_program(prog, nullptr, 0);
  if (p->prog_fd_ < 0) {
    int err = errno;
    if (err == EPERM || err == EACCES || err == ENOSYS) return bpf_error(err, "loading the XDP program");
    // Load again with the verifier's log, for the message.
    std::vector<char> log(kVerifierLogBytes, '\0');
    int fd = load_program(prog, log.data(), static_cast<uint32_t>(log.size()));
    if (fd >= 0) {
      p->prog_fd_ = fd;  // a passing fault the second attempt did not meet
    } else {
      log.back() = '\0';
      std::string text = log.data();
      while (!text.empty() && text.back() == '\n') text.pop_back();
      return Status::error("the kernel rejected the XDP program: " + std::string(std::strerror(err)) +
                               (text.empty() ? std::string() : "; verifier log:\n" + text),
                           err);
    }
  }
  return p;
}

Status XdpProgram::add_socket(uint32_t queue, int xsk_fd) {
  uint32_t key = queue;
  uint32_t value = static_cast<uint32_t>(xsk_fd);
  bpf_attr attr{};
  attr.map_fd = static_cast<uint32_t>(map_fd_);
  attr.key = reinterpret_cast<uint64_t>(&key);
  attr.value = reinterpret_cast<uint64_t>(&value);
  attr.flags = BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0)
    return bpf_error(errno, "adding the AF_XDP socket of queue " + std::to_string(queue) + " to the XSKMAP");
  return Status::ok();
}

Status XdpProgram::attach(const InterfaceInfo& iface, XdpMode mode) {
  auto try_attach = [&](uint32_t flags) {
    bpf_attr attr{};
    attr.link_create.prog_fd = static_cast<uint32_t>(prog_fd_);
    attr.link_create.target_ifindex = static_cast<uint32_t>(iface.index);
    attr.link_create.attach_type = BPF_XDP;
    attr.link_create.flags = flags;
    return static_cast<int>(sys_bpf(BPF_LINK_CREATE, &attr));
  };
  auto busy = [&](int err) {
    return Status::error("interface " + iface.name + " already has an XDP program attached (see `ip link show dev " +
                             iface.name + "`); the AF_XDP link does not replace it: remove it (`ip link set dev " +
                             iface.name + " xdp off`) or use --link packet",
                         err);
  };
  int native_err = 0;
  if (mode != XdpMode::kGeneric) {
    link_fd_ = try_attach(XDP_FLAGS_DRV_MODE);
    if (link_fd_ >= 0) {
      native_ = true;
      return Status::ok();
    }
    native_err = errno;
    // EBUSY: a program in the same mode; EEXIST: one in the other mode (they are exclusive).
    if (native_err == EBUSY || native_err == EEXIST) return busy(native_err);
    if (native_err == EPERM || native_err == EACCES) return bpf_error(native_err, "attaching XDP to " + iface.name);
    if (mode == XdpMode::kNative)
      return Status::from_errno(native_err, "attaching the XDP program to " + iface.name + " in native (driver) mode");
  }
  link_fd_ = try_attach(XDP_FLAGS_SKB_MODE);
  if (link_fd_ >= 0) {
    native_ = false;
    if (native_err != 0)
      LOG_DEBUG("%s: native XDP not available (%s), using generic XDP", iface.name.c_str(), std::strerror(native_err));
    return Status::ok();
  }
  int err = errno;
  if (err == EBUSY || err == EEXIST) return busy(err);
  return bpf_error(err, "attaching the XDP program to " + iface.name + " in generic mode");
}

}  // namespace nvmeoe
