// Internal to src/backend: the io_uring backend for regular files and block devices. Use
// open_backend() instead, which validates the path and fills in the capabilities.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "common/status.h"

namespace nvmeoe {

// Takes ownership of `fd` (closed on failure too) and reports `caps` unchanged. `direct` says
// whether `fd` was opened with O_DIRECT; it only affects logging, since callers always keep to
// O_DIRECT alignment.
Result<std::unique_ptr<Backend>> make_uring_backend(int fd, BackendCaps caps, bool direct);

}  // namespace nvmeoe
