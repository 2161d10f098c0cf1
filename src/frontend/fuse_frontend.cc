// FUSE frontend (one regular file per namespace). This build does not serve it yet.
#include "frontend/frontend.h"

namespace nvmeoe {

Result<std::unique_ptr<Frontend>> start_fuse_frontend(HostController*, const FrontendOptions&) {
  return Status::error("the FUSE frontend is not available in this build; use --frontend none", ENOSYS);
}

}  // namespace nvmeoe
