// Runtime files of nvmeoe processes: the run directory ($NVMEOE_RUN_DIR, default /run/nvmeoe) and
// lock files held with flock() for a process's lifetime. Header-only because nvmeoe-target is
// built from its main file alone and shares these with the host CLI.
//
// Lock files are unlinked by their holder on exit. That is safe only because try_lock() checks,
// after flock() succeeds, that the path still names the locked inode: a process that opened the
// file just before the holder unlinked it notices and retries on a fresh file, so two processes
// never both believe they hold the same name.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/status.h"

namespace nvmeoe::cli {

inline constexpr const char* kDefaultRunDir = "/run/nvmeoe";

inline std::string run_dir() {
  const char* env = std::getenv("NVMEOE_RUN_DIR");
  return env && *env ? std::string(env) : std::string(kDefaultRunDir);
}

// Creates the run directory (and missing parents) with mode 0755.
inline Status ensure_run_dir(const std::string& dir) {
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty()) continue;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      return Status::error("cannot create run directory '" + dir + "': " + std::strerror(err) +
                               (err == EACCES ? " (run as root or set NVMEOE_RUN_DIR)" : ""),
                           err);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::error("run directory '" + dir + "' is not a directory", ENOTDIR);
  return Status::ok();
}

// 64-bit FNV-1a, for short stable file-name tags.
inline uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Keeps [A-Za-z0-9._-], maps everything else to '_', and bounds the length; callers add a hash of
// the exact text where two inputs must never share a name.
inline std::string sanitize_component(const std::string& s, size_t max_len = 96) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max_len) break;
    bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    out += keep ? c : '_';
  }
  return out;
}

class LockFile {
 public:
  enum class Outcome { kLocked, kBusy, kError };

  LockFile() = default;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  LockFile(LockFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  LockFile& operator=(LockFile&& o) noexcept {
    if (this != &o) {
      release(false);
      fd_ = o.fd_;
      path_ = std::move(o.path_);
      o.fd_ = -1;
    }
    return *this;
  }
  ~LockFile() { release(false); }

  // Takes an exclusive lock on `path` without waiting. kBusy: another process holds it. kError:
  // `error` says why (permissions, missing directory).
  Outcome try_lock(const std::string& path, std::string* error = nullptr) {
    release(false);
    for (int attempt = 0; attempt < 16; ++attempt) {
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        if (error) *error = "cannot open lock file '" + path + "': " + std::strerror(errno);
        return Outcome::kError;
      }
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) return Outcome::kBusy;
        if (error) *error = "cannot lock '" + path + "': " + std::strerror(err);
        return Outcome::kError;
      }
      struct stat held, named;
      if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
          held.st_ino == named.st_ino) {
        fd_ = fd;
        path_ = path;
        return Outcome::kLocked;
      }
      ::close(fd);  // the holder unlinked it between our open() and flock(): try the new file
    }
    if (error) *error = "lock file '" + path + "' keeps being replaced";
    return Outcome::kError;
  }

  // Records the holder's pid in the file, for "already held by pid N" messages.
  void write_pid() {
    if (fd_ < 0) return;
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%d\n", static_cast<int>(::getpid()));
    if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, buf, static_cast<size_t>(n), 0) < 0) {
      // Only a diagnostic; the lock itself is what counts.
    }
  }

  // Drops the lock; with `unlink_file`, removes the file first (while still holding it).
  void release(bool unlink_file) {
    if (fd_ < 0) return;
    if (unlink_file) ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
  }

  bool held() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// The pid written by write_pid() into `path`, or 0.
inline int read_lock_pid(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::atoi(buf) : 0;
}

}  // namespace nvmeoe::cli
