// The agent's log destination (see agent_log.h).
#include "cli/agent_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/run_files.h"

namespace nvmeoe::cli {

std::string agent_log_file() {
  if (const char* env = std::getenv("NVMEOE_AGENT_LOG"); env && *env) return env;
  struct stat st;
  if (::stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode)) return "";
  return run_dir() + "/agent.log";
}

void open_agent_log() {
  const std::string file = agent_log_file();
  int options = LOG_PID;
  if (!file.empty()) {
    struct stat st;
    if (::stat(file.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > kAgentLogRotateBytes)
      ::rename(file.c_str(), (file + ".old").c_str());
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDERR_FILENO);  // dup2 clears O_CLOEXEC on the copy: stderr stays open
      if (fd != STDERR_FILENO) ::close(fd);
      options |= LOG_PERROR;  // every syslog() line also goes to stderr, the file
    }
  }
  ::openlog("nvmeoe-agent", options, LOG_DAEMON);
}

}  // namespace nvmeoe::cli
