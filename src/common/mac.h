// Ethernet MAC addresses: parsing "aa:bb:cc:dd:ee:ff" and formatting.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace nvmeoe {

struct MacAddress {
  std::array<uint8_t, 6> b{};

  static Result<MacAddress> parse(std::string_view text);
  static MacAddress broadcast() { return MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static MacAddress from_bytes(const uint8_t* p) {
    MacAddress m;
    for (int i = 0; i < 6; ++i) m.b[i] = p[i];
    return m;
  }
  std::string str() const;
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return b[0] & 1; }
  bool is_zero() const { return *this == MacAddress{}; }
  bool operator==(const MacAddress&) const = default;
};

}  // namespace nvmeoe
