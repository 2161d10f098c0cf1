// nvme-cli's size formatting, matched byte for byte (nvme-cli 2.3, util/suffix.c and the Usage and
// Format columns of nvme-print.c nvme_show_list_item()).
#include "cli/size_format.h"

#include <cstdio>
#include <cstdlib>

namespace nvmeoe::cli {

namespace {

struct SiSuffix {
  double magnitude;
  const char* suffix;
};
constexpr SiSuffix kSiSuffixes[] = {{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1e0, ""}};

struct BinarySuffix {
  int shift;
  const char* suffix;
};
constexpr BinarySuffix kBinarySuffixes[] = {{50, "Pi"}, {40, "Ti"}, {30, "Gi"}, {20, "Mi"}, {10, "Ki"}};

}  // namespace

const char* suffix_si_get(double* value) {
  for (const auto& s : kSiSuffixes) {
    if (*value >= s.magnitude) {
      *value /= s.magnitude;
      return s.suffix;
    }
  }
  return "";
}

const char* suffix_binary_get(long long* value) {
  for (const auto& s : kBinarySuffixes) {
    if (std::llabs(*value) >= (1LL << s.shift)) {
      *value = (*value + (1LL << (s.shift - 1))) / (1LL << s.shift);
      return s.suffix;
    }
  }
  return "";
}

std::string format_si_bytes(uint64_t bytes) {
  double v = static_cast<double>(bytes);
  const char* suffix = suffix_si_get(&v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%6.2f %2sB", v, suffix);
  return buf;
}

std::string format_usage(uint64_t used_bytes, uint64_t capacity_bytes) {
  return format_si_bytes(used_bytes) + " / " + format_si_bytes(capacity_bytes);
}

std::string format_lba_format(uint32_t block_size, uint32_t metadata_size) {
  long long lba = block_size;
  const char* suffix = suffix_binary_get(&lba);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%3.0f %2sB + %2d B", static_cast<double>(lba), suffix,
                static_cast<int>(metadata_size));
  return buf;
}

std::string format_binary_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  uint64_t whole = bytes;
  while (whole >= 1024 && unit < 6) {
    whole /= 1024;
    ++unit;
  }
  char buf[64];
  if (unit == 0 || bytes % (uint64_t(1) << (10 * unit)) == 0) {
    std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(whole), kUnits[unit]);
  } else {
    double v = static_cast<double>(bytes) / static_cast<double>(uint64_t(1) << (10 * unit));
    std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[unit]);
  }
  return buf;
}

}  // namespace nvmeoe::cli
