// Blocking forms of the asynchronous host API.
#include <future>

#include "nvmeoe/host.h"

namespace nvmeoe {
namespace {

template <typename Start>
Completion wait_on(Start start) {
  auto promise = std::make_shared<std::promise<Completion>>();
  auto fut = promise->get_future();
  start([promise](const Completion& r) { promise->set_value(r); });
  return fut.get();
}

}  // namespace

Completion HostController::read_sync(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf) {
  return wait_on([&](IoCallback cb) { read(nsid, slba, nlb, buf, std::move(cb)); });
}
Completion HostController::write_sync(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf) {
  return wait_on([&](IoCallback cb) { write(nsid, slba, nlb, buf, std::move(cb)); });
}
Completion HostController::flush_sync(uint32_t nsid) {
  return wait_on([&](IoCallback cb) { flush(nsid, std::move(cb)); });
}
Completion HostController::write_zeroes_sync(uint32_t nsid, uint64_t slba, uint32_t nlb) {
  return wait_on([&](IoCallback cb) { write_zeroes(nsid, slba, nlb, std::move(cb)); });
}
Completion HostController::deallocate_sync(uint32_t nsid, std::vector<DsmRange> ranges) {
  return wait_on([&](IoCallback cb) { deallocate(nsid, std::move(ranges), std::move(cb)); });
}
Completion HostController::admin_sync(std::span<const uint8_t> sqe, std::span<uint8_t> data) {
  return wait_on([&](IoCallback cb) { admin(sqe, data, std::move(cb)); });
}

}  // namespace nvmeoe
