// Controllers whose agent is gone (killed, crashed) leave their run files (<name>.sock, .json,
// .lock) and possibly a FUSE mount whose daemon is dead, on which a new agent of the same name
// could not mount. `connect` and `disconnect` clean them up first, so that no manual recipe is
// needed; `list` shows them as dead or unreachable instead of hiding them.
//
// A controller is dead when nobody holds its lock file (an agent holds it from before it has any
// other file until after it removed them all). Its FUSE mount is recognized by the file system name
// the FUSE frontend gives it ("nvmeoe:<name>") at the default mountpoint <run dir>/fuse/<name>, or
// anywhere when its FUSE connection is gone from /sys/fs/fuse/connections (its daemon is dead, so
// it is not a live agent of another run directory that uses the same name).
#pragma once

#include <string>
#include <vector>

#include "cli/list_model.h"

namespace nvmeoe::cli {

// What a dead or unreachable controller left, from its <name>.json (empty fields if none).
struct StaleController {
  ControllerModel info;  // state "dead" (no agent) or "unreachable" (agent alive, not answering)
  std::string reason;    // for messages: "agent pid 123 is gone", ...
};

// The controllers in the run directory whose agent does not answer on its socket.
std::vector<StaleController> find_stale_controllers();

// Removes what dead agents left: aborts and lazily unmounts their stale FUSE mounts, removes the
// mountpoints created under the run directory, and unlinks their socket, info and lock files.
// Prints one line per controller cleaned up on stderr; returns the names cleaned up. A file system
// the user mounted on a loop device over a stale FUSE file is left alone (its I/O fails with EIO);
// only the FUSE mount under it goes.
std::vector<std::string> clean_up_dead_controllers();

}  // namespace nvmeoe::cli
