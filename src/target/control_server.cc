// The target's control socket (see control_server.h for the protocol).
#include "target/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/unix_stream.h"

namespace nvmeoe {

namespace {

constexpr size_t kMaxRequestLine = 4096;
// Reply pages: the default fits a client that reads lines of at most 64 KiB.
constexpr uint64_t kDefaultPageBytes = 48 * 1024;
constexpr uint64_t kMinPageBytes = 4 * 1024;
constexpr uint64_t kMaxPageBytes = 4 * 1024 * 1024;
constexpr int kClientIdleMs = 2000;

std::string error_line(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string target_socket_path(const std::string& lock_path) {
  std::string base = lock_path;
  const std::string kLock = ".lock";
  if (base.size() > kLock.size() && base.compare(base.size() - kLock.size(), kLock.size(), kLock) == 0)
    base.resize(base.size() - kLock.size());
  std::string path = base + ".sock";
  if (path.size() < sizeof(sockaddr_un{}.sun_path)) return path;
  size_t slash = lock_path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : lock_path.substr(0, slash);
  char name[64];
  std::snprintf(name, sizeof name, "/target-%016" PRIx64 ".sock", fnv1a64(lock_path.substr(slash + 1)));
  return dir + name;
}

Result<std::unique_ptr<TargetControlServer>> TargetControlServer::start(const std::string& path,
                                                                        std::vector<Source> sources) {
  auto listening = listen_unix(path, 8);
  if (!listening) return listening.status();
  int fd = *listening;
  int stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd < 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Status::from_errno(err, "eventfd");
  }
  std::unique_ptr<TargetControlServer> server(new TargetControlServer(path, std::move(sources), fd, stop_fd));
  server->thread_ = std::thread([s = server.get()] { s->serve(); });
  return server;
}

TargetControlServer::TargetControlServer(std::string path, std::vector<Source> sources, int listen_fd, int stop_fd)
    : path_(std::move(path)), sources_(std::move(sources)), listen_fd_(listen_fd), stop_fd_(stop_fd) {}

TargetControlServer::~TargetControlServer() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
  ::unlink(path_.c_str());
}

std::string TargetControlServer::handle(const std::string& line, Pages* pages) const {
  nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded() || !req.is_object()) return error_line("request is not a JSON object");
  auto op = req.find("op");
  if (op == req.end() || !op->is_string()) return error_line("request has no \"op\"");
  if (*op != "stats") return error_line("unknown op '" + op->get<std::string>() + "' (the target knows \"stats\")");
  uint64_t from = 0, max_bytes = kDefaultPageBytes;
  bool with_queues = true;
  if (auto it = req.find("from"); it != req.end()) {
    if (!it->is_number_unsigned()) return error_line("\"from\" must be a non-negative integer");
    from = it->get<uint64_t>();
  }
  if (auto it = req.find("max_bytes"); it != req.end()) {
    if (!it->is_number_unsigned()) return error_line("\"max_bytes\" must be a non-negative integer");
    max_bytes = std::clamp<uint64_t>(it->get<uint64_t>(), kMinPageBytes, kMaxPageBytes);
  }
  if (auto it = req.find("queues"); it != req.end()) {
    if (!it->is_boolean()) return error_line("\"queues\" must be true or false");
    with_queues = it->get<bool>();
  }
  Pages fresh;
  if (!pages) pages = &fresh;
  if (from == 0 || pages->snaps.size() != sources_.size()) {
    pages->snaps.clear();
    for (const auto& src : sources_) {
      auto snap = src.transport->snapshot(src.port);
      if (!snap) return error_line(src.name + ": " + snap.status().message());
      snap->name = src.name;
      pages->snaps.push_back(std::move(snap).value());
    }
  }
  nlohmann::json targets = nlohmann::json::array();
  uint64_t index = 0, used = 0;
  bool more = false;
  for (const TargetSnapshot& snap : pages->snaps) {
    TargetSnapshot head = snap;  // the totals; its page of queues follows
    head.queues.clear();
    head.queue_count = snap.queues.size();
    nlohmann::json jt = head;
    nlohmann::json page = nlohmann::json::array();
    for (const TargetQueueStats& q : snap.queues) {
      uint64_t at = index++;
      if (!with_queues || at < from || more) continue;
      nlohmann::json jq = q;
      std::string text = jq.dump();
      if (used + text.size() > max_bytes && used > 0) {
        more = true;
        from = at;  // the next page starts here
        continue;
      }
      used += text.size() + 1;
      page.push_back(std::move(jq));
    }
    jt["queues"] = std::move(page);
    targets.push_back(std::move(jt));
  }
  nlohmann::json reply{{"ok", true}, {"pid", int(::getpid())}, {"targets", std::move(targets)}};
  if (more) reply["next"] = from;
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void TargetControlServer::serve_client(int fd) const {
  UnixStream stream(fd);  // closes fd
  stream.set_timeout(std::chrono::milliseconds(kClientIdleMs));
  stream.set_cancel_fd(stop_fd_);
  Pages pages;
  std::string line;
  while (true) {
    Status s = stream.read_line(&line, nullptr, kMaxRequestLine);
    if (!s) {
      if (s.err() == EMSGSIZE) (void)stream.write_all(error_line("request line too long"));
      return;  // closed, idle, or the server stops
    }
    if (!stream.write_all(handle(line, &pages))) return;
  }
}

void TargetControlServer::serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
        LOG_WARN("control socket %s: accept: %s", path_.c_str(), std::strerror(errno));
      ::usleep(100000);  // out of descriptors: do not spin
      continue;
    }
    serve_client(fd);
  }
}

}  // namespace nvmeoe
