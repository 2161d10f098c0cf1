// Backend entry points: size parsing, aligned buffers, and open_backend(), which turns a user's
// spec ("mem:SIZE", a block device or a regular file) into a validated backend.
#include "backend/backend.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "backend/ram_backend.h"
#include "backend/uring_backend.h"
#include "common/log.h"

namespace nvmeoe {

namespace {

constexpr uint64_t kSectorBytes = 512;
constexpr size_t kBufferAlignment = 4096;
constexpr std::string_view kMemPrefix = "mem:";

// Closes the descriptor unless release()d, so every error path in open_backend() stays short.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// O_DIRECT with our 512-byte I/O only works when the file system's direct I/O granularity allows
// it. statx() tells us up front on kernels >= 6.1; elsewhere we find out from open() alone.
bool direct_io_fits(const std::string& path) {
#ifdef STATX_DIOALIGN
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_DIOALIGN, &stx) != 0) return true;
  if (!(stx.stx_mask & STATX_DIOALIGN)) return true;
  if (stx.stx_dio_offset_align == 0) {
    LOG_INFO("'%s': file system does not support O_DIRECT; using buffered I/O", path.c_str());
    return false;
  }
  if (stx.stx_dio_offset_align > kSectorBytes || stx.stx_dio_mem_align > kBufferAlignment) {
    LOG_INFO("'%s': direct I/O needs %u-byte offsets and %u-byte buffers; using buffered I/O", path.c_str(),
             stx.stx_dio_offset_align, stx.stx_dio_mem_align);
    return false;
  }
#else
  (void)path;
#endif
  return true;
}

Result<std::unique_ptr<Backend>> open_mem(const std::string& spec, bool read_only) {
  Result<uint64_t> size = parse_size(spec.substr(kMemPrefix.size()));
  if (!size) return Status::error("backing store '" + spec + "': " + size.status().message());
  return make_ram_backend(*size, read_only, spec);
}

}  // namespace

Result<uint64_t> parse_size(const std::string& text) {
  auto bad = [&text](const std::string& why) { return Status::error("invalid size '" + text + "': " + why); };
  if (text.empty()) return bad("empty");
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    uint64_t digit = uint64_t(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return bad("too large");
    value = value * 10 + digit;
  }
  if (i == 0) return bad("expected a number with an optional K, M, G or T suffix");

  std::string_view rest = std::string_view(text).substr(i);
  unsigned shift = 0;
  if (!rest.empty()) {
    switch (std::tolower(static_cast<unsigned char>(rest[0]))) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      case 't':
        shift = 40;
        break;
      default:
        break;
    }
    if (shift != 0) rest.remove_prefix(1);
  }
  // "B" may follow anything; "iB" only a multiplier ("64KiB", not "512iB").
  bool unit_ok = rest.empty() || equals_ignore_case(rest, "b") || (shift != 0 && equals_ignore_case(rest, "ib"));
  if (!unit_ok) return bad("unknown suffix '" + std::string(rest) + "' (use K, M, G or T)");
  if (value == 0) return bad("must be greater than zero");
  if (shift != 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) return bad("too large");
  uint64_t bytes = value << shift;
  if (bytes % kSectorBytes != 0) return bad("not a multiple of 512 bytes");
  return bytes;
}

void AlignedFree::operator()(uint8_t* p) const {
  std::free(p);
}

AlignedBuffer alloc_aligned(size_t bytes) {
  // Rounding up keeps a whole-page tail usable for O_DIRECT and makes zero bytes a valid request.
  size_t rounded = bytes == 0 ? kBufferAlignment : (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  if (rounded < bytes) return AlignedBuffer();
  void* p = nullptr;
  if (::posix_memalign(&p, kBufferAlignment, rounded) != 0) return AlignedBuffer();
  std::memset(p, 0, rounded);
  return AlignedBuffer(static_cast<uint8_t*>(p));
}

Result<std::unique_ptr<Backend>> open_backend(const std::string& spec, bool read_only) {
  if (spec.compare(0, kMemPrefix.size(), kMemPrefix) == 0) return open_mem(spec, read_only);
  if (spec.empty()) return Status::error("empty backing device path");

  struct stat st;
  if (::stat(spec.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::error("backing device '" + spec + "' not found", ENOENT);
    return Status::from_errno(err, "backing device '" + spec + "'");
  }
  bool is_block = S_ISBLK(st.st_mode);
  if (!is_block && !S_ISREG(st.st_mode))
    return Status::error("backing device '" + spec + "' is neither a regular file nor a block device");

  int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  // Like nvmet, claim a block device exclusively when writing to it: the kernel then refuses a
  // device that is mounted or served by someone else, instead of letting us corrupt it.
  if (is_block && !read_only) flags |= O_EXCL;
  bool direct = is_block || direct_io_fits(spec);
  int fd = ::open(spec.c_str(), flags | (direct ? O_DIRECT : 0));
  if (fd < 0 && direct && errno == EINVAL) {
    LOG_INFO("'%s': file system refuses O_DIRECT; using buffered I/O", spec.c_str());
    direct = false;
    fd = ::open(spec.c_str(), flags);
  }
  if (fd < 0) {
    int err = errno;
    if (err == EBUSY)
      return Status::error("backing device '" + spec + "' is in use (mounted or opened exclusively elsewhere)", EBUSY);
    return Status::from_errno(err, "cannot open backing device '" + spec + "'");
  }
  FdGuard guard(fd);

  // The path may have been replaced between stat() and open(); trust only the open descriptor.
  if (::fstat(fd, &st) != 0) return Status::from_errno(errno, "fstat '" + spec + "'");
  if (S_ISBLK(st.st_mode) != is_block || (!is_block && !S_ISREG(st.st_mode)))
    return Status::error("backing device '" + spec + "' changed type while being opened");

  BackendCaps caps;
  caps.read_only = read_only;
  caps.block_size = kSectorBytes;
  caps.volatile_write_cache = true;
  caps.deallocate = true;
  caps.write_zeroes = true;
  caps.path = spec;
  if (is_block) {
    uint64_t bytes = 0;
    int sector = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) return Status::from_errno(errno, "BLKGETSIZE64 on '" + spec + "'");
    if (::ioctl(fd, BLKSSZGET, &sector) != 0) return Status::from_errno(errno, "BLKSSZGET on '" + spec + "'");
    if (uint64_t(sector) != kSectorBytes)
      return Status::error("backing device '" + spec + "' has a logical block size of " + std::to_string(sector) +
                           " bytes; only 512 is supported");
    if (bytes == 0) return Status::error("backing device '" + spec + "' has size zero");
    caps.size_bytes = bytes;
    caps.kind = "block";
  } else {
    uint64_t bytes = uint64_t(st.st_size);
    if (bytes == 0)
      return Status::error("backing file '" + spec + "' is empty; give it a size first (e.g. truncate -s 1G '" + spec +
                           "')");
    if (bytes % kSectorBytes != 0)
      return Status::error("backing file '" + spec + "' is " + std::to_string(bytes) + " bytes, not a multiple of 512");
    caps.size_bytes = bytes;
    caps.kind = "file";
  }
  LOG_DEBUG("opened %s '%s': %" PRIu64 " bytes, %s%s", caps.kind.c_str(), spec.c_str(), caps.size_bytes,
            direct ? "direct I/O" : "buffered I/O", read_only ? ", read-only" : "");
  return make_uring_backend(guard.release(), std::move(caps), direct);
}

}  // namespace nvmeoe
