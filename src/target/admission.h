// Who may take a place in a port's association table, and who gives way (resource_limits.h has
// the bounds). A Connect Request (a queue handshake) is admitted while its source MAC has room
// and the table has room; handshakes that never reach Fabrics Connect are few (max_unbound, and
// per MAC) and the oldest gives way to a new one. After Fabrics Connect, the associations of
// hosts no allow-list names may fill the table only up to max_associations -
// reserved_associations, so there is always room for the hosts an allow-list names; a
// controller still being set up (no I/O queue yet; for a discovery controller: no command after
// Fabrics Connect) gives way, oldest first, to a new one, and expires after setup_timeout_ms.
// The transport owns the entries (one per queue) and removes what this says must go.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "common/clock.h"
#include "common/intrusive_list.h"
#include "target/resource_limits.h"

namespace nvmeoe {

struct AdmissionEntry {
  uint64_t mac = 0;
  SteadyClock::time_point since;  // the handshake; after Fabrics Connect, that
  bool bound = false;             // Fabrics Connect done
  bool listed = false;            // the host NQN is on an allow-list
  bool admin = false;
  uint16_t cntlid = 0;
  void* owner = nullptr;                  // the transport's queue
  ListHook<AdmissionEntry> pending_hook;  // bound == false
  ListHook<AdmissionEntry> setup_hook;    // admin queue of a controller not yet set up
};

class Admission {
 public:
  using Clock = SteadyClock;

  explicit Admission(const ResourceLimits& limits) : limits_(limits) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A Connect Request from `mac`, with `table_size` queues on the port. Returns true to admit;
  // false with `*evict` set: remove that entry first and ask again; false with `*evict` null:
  // refuse.
  bool admit_handshake(uint64_t mac, size_t table_size, AdmissionEntry** evict);
  // A Fabrics Connect from a host (`listed` or not) about to bind a queue; `own_cntlid` is the
  // controller the queue joins (I/O queue), which never gives way to itself. Same answers.
  bool admit_bind(bool listed, bool io_queue, uint16_t own_cntlid, AdmissionEntry** evict);

  void added(AdmissionEntry* e, uint64_t mac, Clock::time_point now);
  void bound(AdmissionEntry* e, uint16_t cntlid, bool listed, bool admin, Clock::time_point now);
  // The controller is set up (an I/O queue is connected, or a discovery controller is used).
  void established(uint16_t cntlid);
  bool setting_up(const AdmissionEntry* e) const { return SetupList::linked(e); }
  void removed(AdmissionEntry* e);

  // The oldest handshake, or controller being set up, that has had setup_timeout_ms; null if none.
  AdmissionEntry* expired_handshake(Clock::time_point now) const;
  AdmissionEntry* expired_setup(Clock::time_point now) const;

  size_t unbound() const { return pending_.size(); }
  size_t setting_up_count() const { return setup_listed_.size() + setup_unlisted_.size(); }
  size_t bound_unlisted() const { return bound_unlisted_; }

 private:
  using PendingList = IntrusiveList<AdmissionEntry, &AdmissionEntry::pending_hook>;
  using SetupList = IntrusiveList<AdmissionEntry, &AdmissionEntry::setup_hook>;
  struct MacUse {
    uint32_t queues = 0, unbound = 0;
  };
  Clock::duration setup_timeout() const { return std::chrono::milliseconds(limits_.setup_timeout_ms); }

  const ResourceLimits& limits_;
  std::unordered_map<uint64_t, MacUse> per_mac_;
  PendingList pending_;                                     // oldest first
  SetupList setup_listed_, setup_unlisted_;                 // oldest first
  std::unordered_map<uint16_t, AdmissionEntry*> admin_of_;  // cntlid -> its admin queue
  size_t bound_unlisted_ = 0;
};

}  // namespace nvmeoe
