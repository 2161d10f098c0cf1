#include "common/mac.h"

#include <cstdio>

namespace nvmeoe {

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<MacAddress> MacAddress::parse(std::string_view text) {
  // Accepts aa:bb:cc:dd:ee:ff and aa-bb-cc-dd-ee-ff.
  MacAddress m;
  if (text.size() != 17)
    return Status::error("invalid MAC address '" + std::string(text) + "': expected aa:bb:cc:dd:ee:ff");
  for (int i = 0; i < 6; ++i) {
    int hi = hex_value(text[i * 3]), lo = hex_value(text[i * 3 + 1]);
    char sep = i < 5 ? text[i * 3 + 2] : ':';
    if (hi < 0 || lo < 0 || (sep != ':' && sep != '-'))
      return Status::error("invalid MAC address '" + std::string(text) + "': expected aa:bb:cc:dd:ee:ff");
    m.b[i] = uint8_t(hi << 4 | lo);
  }
  return m;
}

std::string MacAddress::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return buf;
}

}  // namespace nvmeoe
