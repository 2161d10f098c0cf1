#include "common/unix_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nvmeoe {

namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Status::error("socket path '" + path + "' is too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace

UnixStream::~UnixStream() {
  if (fd_ >= 0) ::close(fd_);
}

void UnixStream::set_timeout(std::chrono::milliseconds t) {
  timeout_ms_ = int(std::clamp<int64_t>(t.count(), 0, 1 << 30));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

ssize_t UnixStream::receive_some(void* dst, size_t n, Status* error, const char* waiting_for) {
  while (true) {
    if (cancel_fd_ >= 0) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {cancel_fd_, POLLIN, 0}};
      int rc = ::poll(fds, 2, timeout_ms_);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) {
        *error = Status::from_errno(errno, "poll");
        return -1;
      }
      if (fds[1].revents & POLLIN) {
        *error = Status::error("stopped", ECANCELED);
        return -1;
      }
      if (rc == 0) {
        *error = Status::error(std::string("timed out ") + waiting_for, ETIMEDOUT);
        return -1;
      }
    }
    ssize_t r = ::recv(fd_, dst, n, 0);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      *error = Status::error(std::string("timed out ") + waiting_for, ETIMEDOUT);
    else
      *error = Status::from_errno(errno, "control socket");
    return -1;
  }
}

Status UnixStream::read_line(std::string* line, bool* eof, size_t max_bytes) {
  if (eof) *eof = false;
  size_t scanned = 0;
  while (true) {
    size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      line->assign(buf_, 0, nl);
      buf_.erase(0, nl + 1);
      return Status::ok();
    }
    scanned = buf_.size();
    if (buf_.size() > max_bytes)
      return Status::error("control message line too long (over " + std::to_string(max_bytes) + " bytes)", EMSGSIZE);
    char chunk[4096];
    Status error;
    ssize_t n = receive_some(chunk, sizeof chunk, &error, "waiting for a line");
    if (n < 0) return error;
    if (n == 0) {
      if (eof && buf_.empty()) *eof = true;
      return Status::error("connection closed", EPIPE);
    }
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

Status UnixStream::read_exact(uint8_t* dst, size_t n) {
  size_t from_buf = std::min(n, buf_.size());
  if (from_buf) std::memcpy(dst, buf_.data(), from_buf);
  buf_.erase(0, from_buf);
  size_t got = from_buf;
  while (got < n) {
    Status error;
    ssize_t r = receive_some(dst + got, n - got, &error, "receiving data");
    if (r < 0) return error;
    if (r == 0) return Status::error("connection closed in the middle of data", EPIPE);
    got += static_cast<size_t>(r);
  }
  return Status::ok();
}

Status UnixStream::write_all(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t sent = 0;
  while (sent < n) {
    ssize_t r = ::send(fd_, p + sent, n - sent, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::error("timed out sending", ETIMEDOUT);
      return Status::from_errno(errno, "control socket");
    }
    sent += static_cast<size_t>(r);
  }
  return Status::ok();
}

Result<int> listen_unix(const std::string& path, int backlog) {
  auto addr = unix_address(path);
  if (!addr) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::from_errno(errno, "control socket");
  ::unlink(path.c_str());
  // The sockets give access to statistics or raw access to namespaces: owner only.
  mode_t old_mask = ::umask(077);
  int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  int err = errno;
  ::umask(old_mask);
  if (rc != 0) {
    ::close(fd);
    return Status::from_errno(err, "binding control socket " + path);
  }
  if (::listen(fd, backlog) != 0) {
    err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Status::from_errno(err, "listening on " + path);
  }
  return fd;
}

Result<UnixStream> connect_unix(const std::string& path, std::chrono::milliseconds timeout, const std::string& absent) {
  auto addr = unix_address(path);
  if (!addr) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::from_errno(errno, "socket");
  UnixStream s(fd);
  s.set_timeout(timeout);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) return Status::error(absent, ENODEV);
    if (err == EACCES) return Status::error("permission denied connecting to " + path + " (run as root)", EACCES);
    return Status::from_errno(err, "connecting to " + path);
  }
  return s;
}

}  // namespace nvmeoe
