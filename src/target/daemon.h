// A whole target as nvmeoe-target runs it, apart from the process plumbing (arguments, lock files,
// signals, opening interfaces): the core built from a TargetConfig (subsystems and their backends,
// DH-HMAC-CHAP keys, ports), one transport over the given links, configuration reload from a file,
// and the statistics socket. tools/nvmeoe_target_main.cc wraps it; tests run it over memory links.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "link/link.h"
#include "target/config.h"
#include "target/control_server.h"
#include "target/core.h"
#include "target/target.h"

namespace nvmeoe {

struct DaemonOptions {
  TargetOptions transport;  // its limits come from the configuration's "limits"
  // The file request_reload() re-reads (SIGHUP); empty: the configuration came from flags and a
  // reload changes nothing.
  std::string config_file;
  // Resource limits given as flags: they win over the file's, at start and at every reload.
  std::map<std::string, uint64_t> limit_flags;
  // The statistics socket (`nvmeoe target-stats`); empty: none. The target serves without it
  // when it cannot be made (a warning says why).
  std::string control_socket;
};

class TargetDaemon {
 public:
  // Builds what `config` describes over `links`, one open link per config.ports entry in the same
  // order. Errors (a device that does not open, a bad key, bad limits) name the file and the
  // field; nothing is left behind.
  static Result<std::unique_ptr<TargetDaemon>> create(const TargetConfig& config,
                                                      std::vector<std::unique_ptr<Link>> links, DaemonOptions options);
  ~TargetDaemon();
  TargetDaemon(const TargetDaemon&) = delete;
  TargetDaemon& operator=(const TargetDaemon&) = delete;

  // Serves until request_stop(), then stops as TargetTransport::run() says.
  Status run();
  // Both async-signal-safe. A reload re-reads options.config_file on the transport thread and
  // applies the difference; a file with an error changes nothing (the log says why).
  void request_stop() { transport_->request_stop(); }
  void request_reload() { transport_->request_reload(); }

  TargetCore& core() { return core_; }
  const TargetTransport& transport() const { return *transport_; }
  // The configuration the core now serves (the last one applied).
  const TargetConfig& config() const { return current_; }

 private:
  TargetDaemon(TargetConfig config, DaemonOptions options)
      : current_(std::move(config)), options_(std::move(options)) {}
  void reload();
  void log_what_is_served(const std::vector<std::string>& macs) const;

  TargetCore core_;
  TargetConfig current_;
  DaemonOptions options_;
  std::unique_ptr<TargetTransport> transport_;
};

}  // namespace nvmeoe
