// The target's DH-HMAC-CHAP state: the keys configured for a host, and the authentication
// transaction of one queue (nvmet's sq->dhchap_* fields). The state machine that drives it is
// src/target/auth_cmd.cc; docs/PROTOCOL.md §12.1 and docs/SECURITY.md describe it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/crypto.h"
#include "auth/frame_key.h"
#include "auth/secret.h"

namespace nvmeoe {

// What the target holds for one host NQN ("hosts"[].dhchap in a configuration file,
// --dhchap-key / --dhchap-ctrl-key on the command line).
struct HostAuth {
  auth::Secret host_key;                         // the host proves it holds this one
  auth::Secret ctrl_key;                         // empty: the controller cannot prove itself
  auth::HashId hash = auth::HashId::kSha256;     // preferred HMAC (another one the host offers is used else)
  auth::DhGroup dhgroup = auth::DhGroup::kNull;  // required DH group
};

// One queue's authentication transaction.
struct QueueAuth {
  // What the queue expects next: a Negotiate (Send), the Challenge to be fetched (Receive), a
  // Reply (Send), Success1 to be fetched, Success2 (Send), a Failure1 to be fetched; kDone when
  // the transaction is over (successfully or not).
  enum class Step { kNegotiate, kChallenge, kReply, kSuccess1, kSuccess2, kFailure1, kDone };

  Step step = Step::kNegotiate;
  bool authenticated = false;
  uint8_t failure = 0;  // the explanation the next Failure1 carries
  uint16_t tid = 0;
  auth::HashId hash = auth::HashId::kSha256;
  auth::DhGroup dhgroup = auth::DhGroup::kNull;
  uint32_t s1 = 0, s2 = 0;
  std::vector<uint8_t> c1, c2, session_key;
  std::unique_ptr<auth::DhKey> dh;  // the controller's ephemeral key of this transaction
  // Derived once the host's response matched; handed to the transport with the command that
  // ends the transaction successfully (Request::frame_keys).
  std::shared_ptr<auth::FrameKeys> frame_keys;
  uint64_t failures = 0;  // transactions that failed on this queue

  ~QueueAuth() { forget(); }
  // Drops the secrets of the transaction (not `authenticated`).
  void forget() {
    auth::wipe(c1);
    auth::wipe(c2);
    auth::wipe(session_key);
    c1.clear();
    c2.clear();
    session_key.clear();
    dh.reset();
    frame_keys.reset();
  }
};

}  // namespace nvmeoe
