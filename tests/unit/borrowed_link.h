// A Link that forwards to one the test owns, so that a restarted target or host (or a second
// sender, such as a flood) can use the same in-memory "cable" as the one it replaces.
#pragma once

#include "link/link.h"

namespace nvmeoe::test {

class BorrowedLink final : public Link {
 public:
  explicit BorrowedLink(Link* inner) : inner_(inner) {}
  MacAddress local_mac() const override { return inner_->local_mac(); }
  uint32_t mtu() const override { return inner_->mtu(); }
  uint16_t ethertype() const override { return inner_->ethertype(); }
  std::string name() const override { return inner_->name(); }
  size_t receive(FunctionRef<void(std::span<const uint8_t>)> sink, size_t max) override {
    return inner_->receive(sink, max);
  }
  Status send(std::span<const TxFrame> frames) override { return inner_->send(frames); }
  int wait_fd() const override { return inner_->wait_fd(); }
  Counters counters() const override { return inner_->counters(); }

 private:
  Link* inner_;
};

}  // namespace nvmeoe::test
