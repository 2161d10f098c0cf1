// Human-readable sizes exactly as nvme-cli prints them in `nvme list`: SI units for capacities
// ("21.47  GB") and binary units for the LBA format ("512   B +  0 B"). Pure functions, so the
// list printers can be tested byte for byte.
#pragma once

#include <cstdint>
#include <string>

namespace nvmeoe::cli {

// nvme-cli util/suffix.c suffix_si_get(): divides `*value` by the largest power of 1000 (P..k, or
// none) not above it and returns the prefix ("G", "M", "", ...). Values below 1 keep "" here:
// nvme-cli would go on to milli/micro, which byte counts never need.
const char* suffix_si_get(double* value);
// nvme-cli util/suffix.c suffix_binary_get(): rounds `*value` to the nearest multiple of the
// largest power of 1024 not above it and returns "Ki", "Mi", ... or "".
const char* suffix_binary_get(long long* value);

// The Usage column: "%6.2f %2sB / %6.2f %2sB" of used and capacity bytes.
std::string format_usage(uint64_t used_bytes, uint64_t capacity_bytes);
// The Format column: "%3.0f %2sB + %2d B" of the block size and the metadata size.
std::string format_lba_format(uint32_t block_size, uint32_t metadata_size = 0);
// "%6.2f %2sB" of one byte count, e.g. " 21.47  GB".
std::string format_si_bytes(uint64_t bytes);

// "20 GiB", "512 MiB", "1.50 GiB", "4096 B": for logs, where exact binary sizes read better.
std::string format_binary_bytes(uint64_t bytes);

}  // namespace nvmeoe::cli
