// Internal to src/backend: the RAM backend behind "mem:SIZE" specs. Use open_backend() instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace nvmeoe {

// Data lives sparsely in 1 MiB chunks allocated on first write, so a large size costs nothing
// until it is written. Completions are immediate (wait_fd() is -1).
std::unique_ptr<Backend> make_ram_backend(uint64_t size_bytes, bool read_only, std::string path);

}  // namespace nvmeoe
