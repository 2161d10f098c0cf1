// Admission to a port's association table (see admission.h).
#include "target/admission.h"

namespace nvmeoe {

bool Admission::admit_handshake(uint64_t mac, size_t table_size, AdmissionEntry** evict) {
  *evict = nullptr;
  auto it = per_mac_.find(mac);
  if (it != per_mac_.end()) {
    if (it->second.queues >= limits_.max_associations_per_mac) return false;
    if (it->second.unbound >= limits_.max_unbound_per_mac) {
      // This MAC's oldest handshake gives way (at most max_unbound entries to look at).
      for (AdmissionEntry* e = pending_.front(); e; e = PendingList::next(e))
        if (e->mac == mac) {
          *evict = e;
          return false;
        }
    }
  }
  if (pending_.size() >= limits_.max_unbound || table_size >= limits_.max_associations) {
    *evict = pending_.front();  // null when every association is bound: refused
    return false;
  }
  return true;
}

bool Admission::admit_bind(bool listed, bool io_queue, uint16_t own_cntlid, AdmissionEntry** evict) {
  *evict = nullptr;
  if (listed) return true;  // already in the table: the reserve is theirs
  uint64_t room = limits_.max_associations - limits_.reserved_associations;
  if (bound_unlisted_ < room) return true;
  for (AdmissionEntry* e = setup_unlisted_.front(); e; e = SetupList::next(e))
    if (!(io_queue && e->cntlid == own_cntlid)) {
      *evict = e;
      return false;
    }
  return false;
}

void Admission::added(AdmissionEntry* e, uint64_t mac, Clock::time_point now) {
  e->mac = mac;
  e->since = now;
  MacUse& u = per_mac_[mac];
  ++u.queues;
  ++u.unbound;
  pending_.push_back(e);
}

void Admission::bound(AdmissionEntry* e, uint16_t cntlid, bool listed, bool admin, Clock::time_point now) {
  if (e->bound) return;
  pending_.remove(e);
  auto it = per_mac_.find(e->mac);
  if (it != per_mac_.end() && it->second.unbound) --it->second.unbound;
  e->bound = true;
  e->listed = listed;
  e->admin = admin;
  e->cntlid = cntlid;
  e->since = now;
  if (!listed) ++bound_unlisted_;
  if (admin) {
    admin_of_[cntlid] = e;
    (listed ? setup_listed_ : setup_unlisted_).push_back(e);
  } else {
    established(cntlid);
  }
}

void Admission::established(uint16_t cntlid) {
  auto it = admin_of_.find(cntlid);
  if (it == admin_of_.end()) return;
  setup_listed_.remove(it->second);
  setup_unlisted_.remove(it->second);
}

void Admission::removed(AdmissionEntry* e) {
  pending_.remove(e);
  setup_listed_.remove(e);
  setup_unlisted_.remove(e);
  if (auto it = per_mac_.find(e->mac); it != per_mac_.end()) {
    if (it->second.queues) --it->second.queues;
    if (!e->bound && it->second.unbound) --it->second.unbound;
    if (it->second.queues == 0) per_mac_.erase(it);
  }
  if (e->bound && !e->listed && bound_unlisted_) --bound_unlisted_;
  if (e->bound && e->admin) {
    auto it = admin_of_.find(e->cntlid);
    if (it != admin_of_.end() && it->second == e) admin_of_.erase(it);
  }
  e->bound = false;
}

AdmissionEntry* Admission::expired_handshake(Clock::time_point now) const {
  AdmissionEntry* e = pending_.front();
  return e && now - e->since >= setup_timeout() ? e : nullptr;
}

AdmissionEntry* Admission::expired_setup(Clock::time_point now) const {
  AdmissionEntry* a = setup_listed_.front();
  AdmissionEntry* b = setup_unlisted_.front();
  AdmissionEntry* e = !a ? b : !b ? a : (a->since <= b->since ? a : b);
  return e && now - e->since >= setup_timeout() ? e : nullptr;
}

}  // namespace nvmeoe
