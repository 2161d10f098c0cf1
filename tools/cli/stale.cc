// Finding and removing what dead agents left (see stale.h).
#include "cli/stale.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/control.h"
#include "cli/run_files.h"

namespace nvmeoe::cli {

namespace {

constexpr const char* kFuseConnections = "/sys/fs/fuse/connections";
constexpr size_t kMaxInfoFileBytes = 64 * 1024;

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Names of controllers that have any run file: <name>.sock, .json or .lock.
std::vector<std::string> names_with_run_files() {
  std::set<std::string> names;
  DIR* dir = ::opendir(run_dir().c_str());
  if (!dir) return {};
  while (dirent* e = ::readdir(dir)) {
    std::string file = e->d_name;
    for (const char* suffix : {".sock", ".json", ".lock"}) {
      size_t n = std::strlen(suffix);
      if (file.size() <= n || file.compare(file.size() - n, n, suffix) != 0) continue;
      std::string name = file.substr(0, file.size() - n);
      if (name.compare(0, 6, "nvmeoe") == 0 && name.size() <= 16 &&
          name.find_first_not_of("0123456789", 6) == std::string::npos && name.size() > 6)
        names.insert(name);
    }
  }
  ::closedir(dir);
  std::vector<std::string> out(names.begin(), names.end());
  std::sort(out.begin(), out.end(), controller_name_less);
  return out;
}

// The agent's info file, read defensively: it is ours, but a truncated or foreign file must not
// stop a cleanup.
ControllerModel read_info(const std::string& name) {
  ControllerModel m;
  m.name = name;
  std::ifstream in(control_json_path(name));
  if (!in) return m;
  std::string text(kMaxInfoFileBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object() && j.contains("name")) {
    try {
      m = j.get<ControllerModel>();
    } catch (const nlohmann::json::exception&) {
    }
    m.name = name;
  }
  m.namespaces.clear();
  m.queues.clear();
  return m;
}

bool process_alive(int pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() + 0 && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct FuseMount {
  std::string mountpoint;
  unsigned minor = 0;  // the FUSE connection number
};

// The FUSE mounts of file system name "nvmeoe:<name>".
std::vector<FuseMount> fuse_mounts_of(const std::string& name, bool* fusectl_mounted) {
  std::vector<FuseMount> out;
  *fusectl_mounted = false;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string w; ls >> w;) f.push_back(w);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || dash + 2 >= f.end()) continue;
    const std::string& fstype = *(dash + 1);
    const std::string source = unescape_mount_field(*(dash + 2));
    if (fstype == "fusectl") *fusectl_mounted = true;
    if (fstype != "fuse.nvmeoe" || source != "nvmeoe:" + name) continue;
    FuseMount m;
    m.mountpoint = unescape_mount_field(f[4]);
    size_t colon = f[2].find(':');
    if (colon != std::string::npos)
      m.minor = static_cast<unsigned>(std::strtoul(f[2].c_str() + colon + 1, nullptr, 10));
    out.push_back(std::move(m));
  }
  return out;
}

// Removes the stale FUSE mounts of `name`; returns what it removed, for the message.
std::string remove_stale_fuse_mounts(const std::string& name) {
  const std::string default_mp = run_dir() + "/fuse/" + name;
  bool fusectl = false;
  auto mounts = fuse_mounts_of(name, &fusectl);
  if (!mounts.empty() && !fusectl) {
    // Without fusectl a connection's liveness cannot be seen; mount it (root) so it can.
    if (::mount("fusectl", kFuseConnections, "fusectl", 0, nullptr) == 0 || errno == EBUSY) fusectl = true;
  }
  std::string removed;
  for (const auto& m : mounts) {
    const std::string conn = std::string(kFuseConnections) + "/" + std::to_string(m.minor);
    const bool daemon_gone = fusectl && !exists(conn);
    if (m.mountpoint != default_mp && !daemon_gone) continue;  // maybe a live agent elsewhere
    if (exists(conn)) {
      // Fail whatever still waits on the dead daemon, so nothing above it hangs.
      int fd = ::open((conn + "/abort").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        if (::write(fd, "1", 1) < 0) {
          // The connection went away meanwhile: nothing left to abort.
        }
        ::close(fd);
      }
    }
    if (::umount2(m.mountpoint.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      std::fprintf(stderr, "cannot unmount the stale FUSE mount %s of %s: %s\n", m.mountpoint.c_str(), name.c_str(),
                   std::strerror(errno));
      continue;
    }
    removed += (removed.empty() ? "" : ", ") + m.mountpoint;
  }
  // The default mountpoint is the agent's to remove; a dead one cannot.
  if (exists(default_mp) && ::rmdir(default_mp.c_str()) == 0 && removed.find(default_mp) == std::string::npos)
    removed += (removed.empty() ? "" : ", ") + default_mp + " (empty)";
  return removed;
}

}  // namespace

std::vector<StaleController> find_stale_controllers() {
  std::vector<StaleController> out;
  for (const auto& name : names_with_run_files()) {
    if (!exists(control_socket_path(name)) && !exists(control_json_path(name))) continue;  // starting up
    auto stream = connect_control(name, std::chrono::seconds(2));
    if (stream) {
      auto reply = control_call(*stream, ControlRequest{ControlOp::kInfo});
      if (reply && reply->has_info) continue;  // live
    }
    StaleController s;
    s.info = read_info(name);
    LockFile lock;
    std::string error;
    bool dead = lock.try_lock(control_lock_path(name), &error) == LockFile::Outcome::kLocked;
    lock.release(false);
    if (dead) {
      s.info.state = "dead";
      s.reason = s.info.pid > 0 ? "agent pid " + std::to_string(s.info.pid) + " is gone" : "its agent is gone";
    } else {
      s.info.state = "unreachable";
      int pid = read_lock_pid(control_lock_path(name));
      s.reason = "agent" + (pid > 0 ? " pid " + std::to_string(pid) : std::string()) +
                 (process_alive(pid) ? " is running but does not answer on " : " does not answer on ") +
                 control_socket_path(name);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> clean_up_dead_controllers() {
  std::vector<std::string> cleaned;
  for (const auto& name : names_with_run_files()) {
    LockFile lock;
    std::string error;
    if (lock.try_lock(control_lock_path(name), &error) != LockFile::Outcome::kLocked) continue;  // alive
    // We hold the name now: no agent can start under it until we release it.
    ControllerModel info = read_info(name);
    std::string mounts = remove_stale_fuse_mounts(name);
    bool had_files = exists(control_socket_path(name)) || exists(control_json_path(name));
    ::unlink(control_socket_path(name).c_str());
    ::unlink(control_json_path(name).c_str());
    lock.release(true);
    if (!had_files && mounts.empty()) continue;  // only an unused lock file
    std::fprintf(stderr, "cleaned up %s%s%s: its agent%s is gone%s%s\n", name.c_str(), info.subnqn.empty() ? "" : " (",
                 info.subnqn.empty() ? "" : (info.subnqn + ")").c_str(),
                 info.pid > 0 ? (" (pid " + std::to_string(info.pid) + ")").c_str() : "",
                 mounts.empty() ? "" : "; removed its stale FUSE mount ", mounts.c_str());
    cleaned.push_back(name);
  }
  return cleaned;
}

}  // namespace nvmeoe::cli
