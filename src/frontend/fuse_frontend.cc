// FUSE frontend (frontend.h): one mount per controller with a regular file <name>n<nsid> per
// namespace, served with libfuse3's low-level API.
//
// Requests come in on a few receiver threads, each polling the FUSE device and a stop eventfd (no
// libfuse loop, so stop() never waits for a request that does not come). Reads, writes, flushes and
// fallocate are submitted to the host library asynchronously and answered from its completion
// callbacks, so as many requests are in flight as the buffer pool has slots. Every request takes a
// slot: a preallocated buffer for its data plus the state that counts its NVMe commands down.
//
// Files are opened FOPEN_DIRECT_IO (no page cache: `losetup --direct-io=on` and O_DIRECT users
// reach the target on every I/O). Ranges that are not whole blocks are read-modify-written under
// the namespace's WriteGate. The target's NVMe status maps to errno (fuse_io.h).
#define FUSE_USE_VERSION 312

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "frontend/frontend.h"
#include "frontend/fuse_io.h"
#include "nvmeoe/status.h"

namespace nvmeoe {

namespace {

// The largest request FUSE sends: libfuse's buffer holds 256 pages of data (FUSE_MAX_MAX_PAGES),
// which it offers the kernel as max_write/max_pages.
constexpr size_t kMaxRequest = size_t(256) * 4096;
// Slots (requests in flight) per mount: enough for a loop device's queue and fio's iodepth, few
// enough that the locked pool stays small (slots * ~1 MiB).
constexpr size_t kMinSlots = 8, kMaxSlots = 32;
constexpr double kAttrTimeout = 3600.0;  // the files never change shape while mounted
// How long the destructor waits for commands still holding a slot before it leaves the pool's
// memory mapped rather than free it under them.
constexpr std::chrono::seconds kDrainLimit{35};

// File handles (fuse_file_info::fh) say whether the open may write: close() of such a file sends
// FLUSH, which becomes an NVMe Flush; closing a read-only open has nothing to persist.
constexpr uint64_t kReadOnlyHandle = 0, kWritableHandle = 1;

class FuseFrontend;

struct Export {
  NamespaceInfo info;
  uint64_t capacity = 0;
  uint32_t per_command = 1;  // blocks per Read/Write command
  fuse_ino_t ino = 0;
  std::string file_name, path;
  WriteGate gate;
};

enum class SlotKind : uint8_t { kRead, kWrite, kRmwRead, kNoData };
enum class SlotGate : uint8_t { kNone, kShared, kExclusive };

struct Slot {
  FuseFrontend* fe = nullptr;
  int index = -1;
  uint8_t* buf = nullptr;      // data area: up to kMaxRequest plus a block at each end
  uint8_t* scratch = nullptr;  // two blocks for the edges of a read-modify-write
  fuse_req_t req = nullptr;
  Export* ex = nullptr;
  SlotKind kind = SlotKind::kNoData;
  SlotGate gate = SlotGate::kNone;
  BlockExtent extent;
  std::atomic<uint64_t> pending{0};
  std::atomic<uint16_t> status{0};
  bool replied = false;    // guarded by FuseFrontend::reply_mu_
  bool in_flight = false;  // guarded by FuseFrontend::reply_mu_
};

class FuseFrontend final : public Frontend {
 public:
  FuseFrontend(HostController* hc, FrontendOptions options) : hc_(hc), options_(std::move(options)) {}
  ~FuseFrontend() override;

  Status start();
  FrontendKind kind() const override { return FrontendKind::kFuse; }
  const std::vector<FrontendDevice>& devices() const override { return devices_; }
  void stop() override;

  // libfuse operations (userdata is the frontend).
  void init(fuse_conn_info* conn);
  void lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void getattr(fuse_req_t req, fuse_ino_t ino);
  void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set);
  void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
  void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
  void write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off);
  void flush(fuse_req_t req, fuse_ino_t ino, bool writable);
  void fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length);
  void statfs(fuse_req_t req);

  // Completion of one NVMe command of `s` (host library callback thread, or inline on error).
  void command_done(Slot* s, const Completion& c);

 private:
  Export* find(fuse_ino_t ino);
  void fill_attr(const Export* ex, struct stat* st) const;
  Slot* take_slot(fuse_req_t req, Export* ex, SlotKind kind);
  // Submits Read or Write commands for [slba, slba + nlb) from/to `buf`; counts them into
  // s->pending first, so completions may arrive (even inline) before this returns.
  void submit_rw(Slot* s, bool write, uint64_t slba, uint64_t nlb, uint8_t* buf);
  void stage_done(Slot* s);
  // Replies (unless stop() already did), leaves the gate and frees the slot.
  void finish(Slot* s, int err, size_t reply_bytes, const uint8_t* reply_data);
  void receive_loop();
  void cleanup_mount();

  HostController* hc_;
  FrontendOptions options_;
  std::vector<std::unique_ptr<Export>> exports_;
  std::vector<FrontendDevice> devices_;
  BufferPool pool_;
  std::unique_ptr<Slot[]> slots_;
  size_t data_bytes_ = 0;  // per slot, before the scratch blocks
  uint32_t max_block_ = 512;
  time_t mounted_at_ = 0;  // the files' timestamps
  fuse_session* se_ = nullptr;
  bool mounted_ = false, created_dir_ = false;
  int stop_fd_ = -1;
  std::vector<std::thread> receivers_;
  std::mutex reply_mu_;
  std::atomic<bool> stopped_{false};
};

FuseFrontend* self(fuse_req_t req) {
  return static_cast<FuseFrontend*>(fuse_req_userdata(req));
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.init = [](void* userdata, fuse_conn_info* conn) { static_cast<FuseFrontend*>(userdata)->init(conn); };
  ops.lookup = [](fuse_req_t req, fuse_ino_t parent, const char* name) { self(req)->lookup(req, parent, name); };
  ops.forget = [](fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); };
  ops.getattr = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info*) { self(req)->getattr(req, ino); };
  ops.setattr = [](fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
    self(req)->setattr(req, ino, attr, to_set);
  };
  ops.opendir = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (ino != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOTDIR);
    fuse_reply_open(req, fi);
  };
  ops.readdir = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    self(req)->readdir(req, ino, size, off);
  };
  ops.releasedir = [](fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); };
  ops.open = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { self(req)->open(req, ino, fi); };
  ops.read = [](fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    self(req)->read(req, ino, size, off);
  };
  ops.write = [](fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info*) {
    self(req)->write(req, ino, buf, size, off);
  };
  ops.flush = [](fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    self(req)->flush(req, ino, fi->fh == kWritableHandle);  // FLUSH carries no open flags
  };
  ops.fsync = [](fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) { self(req)->flush(req, ino, true); };
  ops.release = [](fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); };
  ops.statfs = [](fuse_req_t req, fuse_ino_t) { self(req)->statfs(req); };
  ops.fallocate = [](fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, fuse_file_info*) {
    self(req)->fallocate(req, ino, mode, offset, length);
  };
  return ops;
}();

// ---- set-up and tear-down ----

Status make_mountpoint(const std::string& dir, bool* created) {
  *created = false;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::error("mountpoint '" + dir + "' is not a directory", ENOTDIR);
    // Mounting over another mount (another controller's files, say) would hide it.
    struct stat parent;
    std::string up = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
    if (::stat(up.c_str(), &parent) == 0 && parent.st_dev != st.st_dev)
      return Status::error("mountpoint '" + dir + "' is already a mount point", EBUSY);
    return Status::ok();
  }
  // Parents (the run directory's fuse/) stay; only the mountpoint itself is ours to remove.
  for (size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    std::string parent = dir.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::from_errno(errno, "creating mountpoint parent " + parent);
  }
  if (::mkdir(dir.c_str(), 0700) != 0) return Status::from_errno(errno, "creating mountpoint " + dir);
  *created = true;
  return Status::ok();
}

Status FuseFrontend::start() {
  if (options_.mountpoint.empty()) {
    const char* env = std::getenv("NVMEOE_RUN_DIR");
    options_.mountpoint = std::string(env && *env ? env : "/run/nvmeoe") + "/fuse/" + options_.name;
  }
  while (options_.mountpoint.size() > 1 && options_.mountpoint.back() == '/') options_.mountpoint.pop_back();
  if (options_.mountpoint.empty() || options_.mountpoint[0] != '/')
    return Status::error("FUSE mountpoint '" + options_.mountpoint + "' must be an absolute path");
  if (hc_->namespaces().empty()) return Status::error("the controller has no namespaces to export over FUSE", ENODEV);

  int probe = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (probe < 0)
    return Status::from_errno(errno,
                              "FUSE is not available: /dev/fuse (modprobe fuse; in a container, pass the device)");
  ::close(probe);

  const uint32_t max_transfer = hc_->controller().max_transfer;
  for (const auto& ns : hc_->namespaces()) {
    if (ns.block_size == 0 || (ns.block_size & (ns.block_size - 1)) != 0 || ns.block_size > 65536)
      return Status::error("namespace " + std::to_string(ns.nsid) + " has an unsupported block size " +
                           std::to_string(ns.block_size));
    auto ex = std::make_unique<Export>();
    ex->info = ns;
    ex->capacity = ns.blocks * ns.block_size;
    ex->per_command = blocks_per_command(max_transfer, ns.block_size);
    ex->ino = FUSE_ROOT_ID + 1 + exports_.size();
    ex->file_name = options_.name + "n" + std::to_string(ns.nsid);
    ex->path = options_.mountpoint + "/" + ex->file_name;
    max_block_ = std::max(max_block_, ns.block_size);
    devices_.push_back({ns.nsid, ex->path});
    exports_.push_back(std::move(ex));
  }

  // Slot layout: data (a request plus one block at each end for alignment), then two scratch
  // blocks for the edges of a read-modify-write.
  data_bytes_ = kMaxRequest + 2 * size_t(max_block_);
  size_t slots = std::clamp<size_t>(size_t(options_.queues) * options_.queue_depth, kMinSlots, kMaxSlots);
  NVMEOE_RETURN_IF_ERROR(pool_.init(slots, data_bytes_ + 2 * size_t(max_block_)));
  slots_ = std::make_unique<Slot[]>(slots);
  for (size_t i = 0; i < slots; ++i) {
    slots_[i].fe = this;
    slots_[i].index = static_cast<int>(i);
    slots_[i].buf = pool_.data(static_cast<int>(i));
    slots_[i].scratch = slots_[i].buf + data_bytes_;
  }

  NVMEOE_RETURN_IF_ERROR(make_mountpoint(options_.mountpoint, &created_dir_));
  mounted_at_ = ::time(nullptr);

  std::string opts = "-ofsname=nvmeoe:" + options_.name + ",subtype=nvmeoe,allow_other,default_permissions";
  const char* argv[] = {"nvmeoe", opts.c_str(), nullptr};
  fuse_args args = FUSE_ARGS_INIT(2, const_cast<char**>(argv));
  se_ = fuse_session_new(&args, &kOps, sizeof kOps, this);
  fuse_opt_free_args(&args);
  if (!se_) {
    cleanup_mount();
    return Status::error("cannot create a FUSE session for " + options_.mountpoint);
  }
  if (fuse_session_mount(se_, options_.mountpoint.c_str()) != 0) {
    cleanup_mount();
    return Status::error(
        "cannot mount FUSE on " + options_.mountpoint + " (is it already a mountpoint, or is FUSE restricted here?)",
        EIO);
  }
  mounted_ = true;
  int fd = fuse_session_fd(se_);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    int err = errno;
    cleanup_mount();
    return Status::from_errno(err, "eventfd");
  }
  size_t threads = std::clamp<size_t>(options_.queues, 2, 8);
  for (size_t i = 0; i < threads; ++i) receivers_.emplace_back([this] { receive_loop(); });
  return Status::ok();
}

void FuseFrontend::receive_loop() {
  fuse_buf buf{};
  const int fd = fuse_session_fd(se_);
  while (!stopped_.load(std::memory_order_relaxed) && !fuse_session_exited(se_)) {
    pollfd pfds[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int rc = ::poll(pfds, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || pfds[1].revents) break;
    if (pfds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) break;  // unmounted or aborted
    int res = fuse_session_receive_buf(se_, &buf);
    if (res == -EINTR || res == -EAGAIN) continue;
    if (res <= 0) break;  // 0: unmounted (libfuse marks the session exited)
    fuse_session_process_buf(se_, &buf);
  }
  std::free(buf.mem);
}

void FuseFrontend::cleanup_mount() {
  if (se_) {
    if (mounted_) fuse_session_unmount(se_);  // lazy (MNT_DETACH) as root: never waits for users
    mounted_ = false;
    fuse_session_destroy(se_);  // closes /dev/fuse: the connection aborts, late users get ENOTCONN/EIO
    se_ = nullptr;
  }
  if (created_dir_) {
    ::rmdir(options_.mountpoint.c_str());
    created_dir_ = false;
  }
}

void FuseFrontend::stop() {
  if (stopped_.exchange(true)) return;
  pool_.close();
  for (auto& ex : exports_) ex->gate.close();
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) < 0) {
      // Cannot fail on an eventfd below its limit; the receivers also check stopped_.
    }
  }
  for (auto& t : receivers_) t.join();
  receivers_.clear();
  {
    // Requests still waiting for the target get EIO now; their commands keep their slots until the
    // host library completes or fails them.
    std::lock_guard<std::mutex> lock(reply_mu_);
    for (size_t i = 0; i < pool_.count(); ++i) {
      Slot& s = slots_[i];
      if (s.in_flight && !s.replied) {
        fuse_reply_err(s.req, EIO);
        s.replied = true;
      }
    }
    cleanup_mount();
  }
  if (stop_fd_ >= 0) ::close(stop_fd_);
  stop_fd_ = -1;
}

FuseFrontend::~FuseFrontend() {
  stop();
  // Commands still in flight write into the pool: wait for them, and if the host library does
  // not let go in time, keep the memory rather than free it under them.
  auto deadline = std::chrono::steady_clock::now() + kDrainLimit;
  while (slots_ && pool_.in_use() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // A closed pool never hands slots out, so in_use only falls.
  }
  if (slots_ && pool_.in_use() > 0) {
    LOG_ERROR("fuse: %zu request(s) still in flight at shutdown; keeping their buffers", pool_.in_use());
    pool_.abandon();
  }
}

// ---- metadata ----

void FuseFrontend::init(fuse_conn_info* conn) {
  // Data is copied into our own buffers either way; splicing would only add pipe round trips.
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  conn->max_write = static_cast<unsigned>(kMaxRequest);
  conn->max_background = static_cast<unsigned>(pool_.count());
  conn->congestion_threshold = static_cast<unsigned>(pool_.count() * 3 / 4);
}

Export* FuseFrontend::find(fuse_ino_t ino) {
  if (ino <= FUSE_ROOT_ID || ino - FUSE_ROOT_ID - 1 >= exports_.size()) return nullptr;
  return exports_[ino - FUSE_ROOT_ID - 1].get();
}

void FuseFrontend::fill_attr(const Export* ex, struct stat* st) const {
  std::memset(st, 0, sizeof *st);
  st->st_uid = 0;
  st->st_gid = 0;
  st->st_blksize = static_cast<blksize_t>(ex ? ex->info.block_size : 4096);
  st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = mounted_at_;
  if (!ex) {
    st->st_ino = FUSE_ROOT_ID;
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return;
  }
  st->st_ino = ex->ino;
  st->st_mode = S_IFREG | (ex->info.read_only ? 0400 : 0600);
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(ex->capacity);
  st->st_blocks = static_cast<blkcnt_t>(ex->info.used_blocks * ex->info.block_size / 512);
}

void FuseFrontend::lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOENT);
  for (auto& ex : exports_) {
    if (ex->file_name != name) continue;
    fuse_entry_param e{};
    e.ino = ex->ino;
    e.attr_timeout = kAttrTimeout;
    e.entry_timeout = kAttrTimeout;
    fill_attr(ex.get(), &e.attr);
    return (void)fuse_reply_entry(req, &e);
  }
  fuse_reply_err(req, ENOENT);
}

void FuseFrontend::getattr(fuse_req_t req, fuse_ino_t ino) {
  Export* ex = find(ino);
  if (!ex && ino != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  fill_attr(ex, &st);
  fuse_reply_attr(req, &st, kAttrTimeout);
}

void FuseFrontend::setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int to_set) {
  Export* ex = find(ino);
  if (!ex && ino != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOENT);
  // A namespace is a fixed-size device: truncation (O_TRUNC, `>`) is ignored as on a block device,
  // and owner and mode stay root's.
  if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) return (void)fuse_reply_err(req, EPERM);
  struct stat st;
  fill_attr(ex, &st);
  fuse_reply_attr(req, &st, kAttrTimeout);
}

void FuseFrontend::readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  if (ino != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOTDIR);
  std::vector<char> out(size);
  size_t used = 0;
  // Entry i (0 ".", 1 "..", then the files) is followed by offset i + 1.
  for (size_t i = static_cast<size_t>(off); i < exports_.size() + 2; ++i) {
    struct stat st {};
    std::string name;
    if (i < 2) {
      name = i == 0 ? "." : "..";
      st.st_ino = FUSE_ROOT_ID;
      st.st_mode = S_IFDIR;
    } else {
      name = exports_[i - 2]->file_name;
      st.st_ino = exports_[i - 2]->ino;
      st.st_mode = S_IFREG;
    }
    size_t need = fuse_add_direntry(req, nullptr, 0, name.c_str(), nullptr, 0);
    if (used + need > size) break;
    fuse_add_direntry(req, out.data() + used, size - used, name.c_str(), &st, static_cast<off_t>(i + 1));
    used += need;
  }
  fuse_reply_buf(req, out.data(), used);
}

void FuseFrontend::open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == FUSE_ROOT_ID) return (void)fuse_reply_err(req, EISDIR);
  Export* ex = find(ino);
  if (!ex) return (void)fuse_reply_err(req, ENOENT);
  if ((fi->flags & O_ACCMODE) != O_RDONLY && ex->info.read_only) return (void)fuse_reply_err(req, EROFS);
  fi->fh = (fi->flags & O_ACCMODE) != O_RDONLY ? kWritableHandle : kReadOnlyHandle;
  fi->direct_io = 1;  // FOPEN_DIRECT_IO: no page cache, every read and write comes here
  fi->keep_cache = 0;
  // libfuse 3.14 has no field for FOPEN_PARALLEL_DIRECT_WRITES; asynchronous direct writes (loop,
  // io_uring, AIO) are still in flight together, only their submission is serialized per file.
  fuse_reply_open(req, fi);
}

void FuseFrontend::statfs(fuse_req_t req) {
  struct statvfs st {};
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  uint64_t bytes = 0;
  for (auto& ex : exports_) bytes += ex->capacity;
  st.f_blocks = bytes / 4096;
  st.f_files = exports_.size() + 1;
  st.f_namemax = 255;
  fuse_reply_statfs(req, &st);
}

// ---- I/O ----

Slot* FuseFrontend::take_slot(fuse_req_t req, Export* ex, SlotKind kind) {
  int index = pool_.acquire();
  if (index < 0) {
    fuse_reply_err(req, EIO);  // stopping
    return nullptr;
  }
  Slot* s = &slots_[index];
  s->req = req;
  s->ex = ex;
  s->kind = kind;
  s->gate = SlotGate::kNone;
  s->status.store(0, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(reply_mu_);
  s->replied = false;
  s->in_flight = true;
  return s;
}

void FuseFrontend::submit_rw(Slot* s, bool write, uint64_t slba, uint64_t nlb, uint8_t* buf) {
  const uint32_t per = s->ex->per_command, bs = s->ex->info.block_size, nsid = s->ex->info.nsid;
  s->pending.store(command_count(nlb, per), std::memory_order_release);
  for (uint64_t done = 0; done < nlb;) {
    uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(per, nlb - done));
    uint8_t* p = buf + done * bs;
    auto cb = [s](const Completion& c) { s->fe->command_done(s, c); };
    if (write)
      hc_->write(nsid, slba + done, n, p, cb);
    else
      hc_->read(nsid, slba + done, n, p, cb);
    done += n;
  }
}

void FuseFrontend::command_done(Slot* s, const Completion& c) {
  if (!c.ok()) {
    uint16_t expected = 0;
    s->status.compare_exchange_strong(expected, c.status ? c.status : nvme_status::kInternalError);
  }
  if (s->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) stage_done(s);
}

void FuseFrontend::stage_done(Slot* s) {
  uint16_t status = s->status.load(std::memory_order_acquire);
  int err = status ? nvme_status_errno(status) : 0;
  const BlockExtent& e = s->extent;
  const uint32_t bs = s->ex->info.block_size;
  switch (s->kind) {
    case SlotKind::kRead:
      return finish(s, err, e.length, s->buf + e.head);
    case SlotKind::kWrite:
    case SlotKind::kNoData:
      return finish(s, err, e.length, nullptr);
    case SlotKind::kRmwRead: {
      if (err) return finish(s, err, 0, nullptr);
      // Put back the bytes of the edge blocks that the write does not cover, then write the
      // whole blocks. Head edge read into scratch[0, bs), tail edge into scratch[bs, 2 bs).
      if (e.head_partial) std::memcpy(s->buf, s->scratch, e.head);
      uint64_t end = e.head + e.length, total = e.nlb * bs;
      if (e.tail_partial) {
        const uint8_t* tail_src = e.single_partial_block() ? s->scratch : s->scratch + bs;
        std::memcpy(s->buf + end, tail_src + (end - (total - bs)), total - end);
      }
      s->kind = SlotKind::kWrite;
      s->status.store(0, std::memory_order_relaxed);
      return submit_rw(s, true, e.slba, e.nlb, s->buf);
    }
  }
}

void FuseFrontend::finish(Slot* s, int err, size_t reply_bytes, const uint8_t* reply_data) {
  {
    std::lock_guard<std::mutex> lock(reply_mu_);
    if (!s->replied) {
      if (err)
        fuse_reply_err(s->req, err);
      else if (s->kind == SlotKind::kRead)
        fuse_reply_buf(s->req, reinterpret_cast<const char*>(reply_data), reply_bytes);
      else if (s->kind == SlotKind::kWrite)
        fuse_reply_write(s->req, reply_bytes);
      else
        fuse_reply_err(s->req, 0);
      s->replied = true;
    }
    s->in_flight = false;
  }
  if (s->gate == SlotGate::kShared) s->ex->gate.leave_shared();
  if (s->gate == SlotGate::kExclusive) s->ex->gate.leave_exclusive();
  s->gate = SlotGate::kNone;
  pool_.release(s->index);
}

void FuseFrontend::read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  Export* ex = find(ino);
  if (!ex) return (void)fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  BlockExtent e =
      block_extent(static_cast<uint64_t>(off), std::min(size, kMaxRequest), ex->capacity, ex->info.block_size);
  if (e.length == 0) return (void)fuse_reply_buf(req, nullptr, 0);  // at or past the end: EOF
  Slot* s = take_slot(req, ex, SlotKind::kRead);
  if (!s) return;
  s->extent = e;
  submit_rw(s, false, e.slba, e.nlb, s->buf);
}

void FuseFrontend::write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off) {
  Export* ex = find(ino);
  if (!ex) return (void)fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
  if (ex->info.read_only) return (void)fuse_reply_err(req, EROFS);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (size == 0) return (void)fuse_reply_write(req, 0);
  // Past the end: no space, as on a block device; a write that crosses the end is cut short.
  if (static_cast<uint64_t>(off) >= ex->capacity) return (void)fuse_reply_err(req, ENOSPC);
  BlockExtent e =
      block_extent(static_cast<uint64_t>(off), std::min(size, kMaxRequest), ex->capacity, ex->info.block_size);
  Slot* s = take_slot(req, ex, e.aligned() ? SlotKind::kWrite : SlotKind::kRmwRead);
  if (!s) return;
  s->extent = e;
  bool entered = e.aligned() ? ex->gate.enter_shared() : ex->gate.enter_exclusive();
  if (!entered) return finish(s, EIO, 0, nullptr);
  s->gate = e.aligned() ? SlotGate::kShared : SlotGate::kExclusive;
  std::memcpy(s->buf + e.head, data, e.length);
  if (e.aligned()) return submit_rw(s, true, e.slba, e.nlb, s->buf);

  // Read-modify-write: fetch the partial edge blocks first (stage_done merges and writes).
  const uint32_t bs = ex->info.block_size;
  bool two_edges = e.head_partial && e.tail_partial && !e.single_partial_block();
  s->pending.store(two_edges ? 2 : 1, std::memory_order_release);
  auto cb = [s](const Completion& c) { s->fe->command_done(s, c); };
  if (e.head_partial || e.single_partial_block()) {
    hc_->read(ex->info.nsid, e.slba, 1, s->scratch, cb);
    if (two_edges) hc_->read(ex->info.nsid, e.slba + e.nlb - 1, 1, s->scratch + bs, cb);
  } else {
    hc_->read(ex->info.nsid, e.slba + e.nlb - 1, 1, s->scratch + bs, cb);
  }
}

void FuseFrontend::flush(fuse_req_t req, fuse_ino_t ino, bool writable) {
  Export* ex = find(ino);
  if (!ex) return (void)fuse_reply_err(req, ino == FUSE_ROOT_ID ? 0 : ENOENT);
  if (!writable || ex->info.read_only) return (void)fuse_reply_err(req, 0);  // nothing of ours to persist
  Slot* s = take_slot(req, ex, SlotKind::kNoData);
  if (!s) return;
  s->extent = BlockExtent{};
  s->pending.store(1, std::memory_order_release);
  hc_->flush(ex->info.nsid, [s](const Completion& c) { s->fe->command_done(s, c); });
}

void FuseFrontend::fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length) {
  Export* ex = find(ino);
  if (!ex) return (void)fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
  if (offset < 0 || length <= 0) return (void)fuse_reply_err(req, EINVAL);
  constexpr int kKnown = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
  if (mode & ~kKnown) return (void)fuse_reply_err(req, EOPNOTSUPP);
  const bool punch = mode & FALLOC_FL_PUNCH_HOLE, zero = mode & FALLOC_FL_ZERO_RANGE;
  const bool keep = mode & FALLOC_FL_KEEP_SIZE;
  if (punch && zero) return (void)fuse_reply_err(req, EINVAL);
  const uint64_t off = static_cast<uint64_t>(offset), len = static_cast<uint64_t>(length);
  if (off + len > ex->capacity && !keep) return (void)fuse_reply_err(req, ENOSPC);  // cannot grow
  if (!punch && !zero) return (void)fuse_reply_err(req, 0);  // every block of a namespace exists already
  if (ex->info.read_only) return (void)fuse_reply_err(req, EROFS);
  BlockExtent e = block_extent(off, len, ex->capacity, ex->info.block_size);
  if (e.length == 0) return (void)fuse_reply_err(req, 0);
  // As fallocate on a block device: ranges must be whole blocks.
  if (!e.aligned()) return (void)fuse_reply_err(req, EINVAL);

  Slot* s = take_slot(req, ex, SlotKind::kNoData);
  if (!s) return;
  s->extent = e;
  if (!ex->gate.enter_shared()) return finish(s, EIO, 0, nullptr);
  s->gate = SlotGate::kShared;
  auto cb = [s](const Completion& c) { s->fe->command_done(s, c); };
  const uint32_t nsid = ex->info.nsid;
  if (zero) {
    s->pending.store(command_count(e.nlb, 65536), std::memory_order_release);
    for (uint64_t done = 0; done < e.nlb;) {
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(65536, e.nlb - done));
      hc_->write_zeroes(nsid, e.slba + done, n, cb);
      done += n;
    }
    return;
  }
  // Deallocate (the nvmeoe target reads deallocated blocks back as zeroes): 256 ranges of up to
  // 2^32 - 1 blocks per Dataset Management command.
  constexpr uint64_t kRangeMax = 0xffffffffu, kRangesPerCommand = 256;
  uint64_t ranges = (e.nlb + kRangeMax - 1) / kRangeMax;
  s->pending.store((ranges + kRangesPerCommand - 1) / kRangesPerCommand, std::memory_order_release);
  for (uint64_t done = 0; done < e.nlb;) {
    std::vector<DsmRange> batch;
    while (done < e.nlb && batch.size() < kRangesPerCommand) {
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kRangeMax, e.nlb - done));
      batch.push_back({e.slba + done, n});
      done += n;
    }
    hc_->deallocate(nsid, std::move(batch), cb);
  }
}

}  // namespace

Result<std::unique_ptr<Frontend>> start_fuse_frontend(HostController* hc, const FrontendOptions& options) {
  if (!hc) return Status::error("the FUSE frontend needs a connected controller");
  auto fe = std::make_unique<FuseFrontend>(hc, options);
  if (Status s = fe->start(); !s) return s;  // the destructor removes whatever start() made
  return std::unique_ptr<Frontend>(std::move(fe));
}

}  // namespace nvmeoe
