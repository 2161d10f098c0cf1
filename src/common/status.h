// System and transport errors (the Status domain): Status and Result<T> are the public API's
// (nvmeoe/result.h); NVMe command outcomes are NVMe status codes (nvme/spec.h).
#pragma once

#include "nvmeoe/result.h"

// Propagate a failed Status from an expression that yields Status.
#define NVMEOE_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::nvmeoe::Status nvmeoe_s_ = (expr);      \
    if (!nvmeoe_s_.is_ok()) return nvmeoe_s_; \
  } while (0)
