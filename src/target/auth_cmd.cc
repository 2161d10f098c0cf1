// Authentication Send / Receive (Fabrics FCTYPE 05h / 06h): the controller's side of DH-HMAC-CHAP,
// one transaction per queue, as drivers/nvme/target/fabrics-cmd-auth.c runs it:
//   Send Negotiate -> Receive Challenge -> Send Reply -> Receive Success1 [-> Send Success2]
// with a Failure1 to be fetched instead whenever the host's message is refused. Auth Send
// completes with success whenever its message was taken in, even a wrong one: the outcome is
// the next message the host fetches. docs/PROTOCOL.md §12.1.
#include <algorithm>
#include <cstring>

#include "auth/dhchap.h"
#include "auth/frame_key.h"
#include "common/log.h"
#include "common/log_limit.h"
#include "nvme/auth_msg.h"
#include "target/core.h"

namespace nvmeoe {

namespace am = authmsg;
using auth::DhGroup;
using auth::HashId;

namespace {

// How an Auth Receive that cannot be answered completes: a Challenge needs room for itself.
constexpr NvmeStatus kTooShort = sc::kInvalidField | sc::kDnr;

}  // namespace

void TargetCore::start_queue_auth(Controller& ctrl, uint16_t qid, Request* req) {
  if (!ctrl.auth) return;
  // A new queue, or a queue id used again after a reset: a fresh transaction either way.
  ctrl.queue_auth[qid] = std::make_unique<QueueAuth>();
  req->cqe.dw0 |= am::kConnectAuthreqAtr;
}

void TargetCore::execute_auth(Request* req) {
  const bool send = req->sqe.fctype() == fabrics_type::kAuthSend;
  am::AuthCommand c = am::decode_auth_command(req->sqe);
  if (c.secp != am::kSecpDhchap || c.spsp0 != am::kSpsp || c.spsp1 != am::kSpsp)
    return complete(req, sc::kInvalidField | sc::kDnr);
  if (c.length == 0 || c.length > am::kMaxMessageSize) return complete(req, sc::kInvalidField | sc::kDnr);
  // TL / AL must be what the SGL moves (nvmet_check_transfer_len).
  if (c.length != req->data.size()) return complete(req, sc::kDataSglLengthInvalid | sc::kDnr);
  Controller& ctrl = *req->ctrl;
  std::unique_ptr<QueueAuth>& slot = ctrl.queue_auth[req->qid];
  if (!slot) slot = std::make_unique<QueueAuth>();
  if (send) return auth_send(req, ctrl, *slot, req->data.first(c.length));
  auth_receive(req, ctrl, *slot, c.length);
}

void TargetCore::auth_failed(Controller& ctrl, QueueAuth& qa, uint16_t qid, uint8_t why) {
  qa.step = QueueAuth::Step::kFailure1;
  qa.failure = why;
  qa.authenticated = false;
  qa.forget();
  ++qa.failures;
  LOG_LIMITED(LogLevel::kWarn, "auth failed", ctrl.hostnqn(), "controller %u queue %u (host %s): DH-HMAC-CHAP: %s",
              ctrl.cntlid(), qid, ctrl.hostnqn().c_str(), am::reason_name(why));
}

void TargetCore::auth_send(Request* req, Controller& ctrl, QueueAuth& qa, std::span<const uint8_t> msg) {
  using Step = QueueAuth::Step;
  const uint16_t qid = req->qid;
  am::MessageHead h;
  if (!am::decode_head(msg, &h)) {
    auth_failed(ctrl, qa, qid, am::reason::kIncorrectPayload);
    return complete(req, sc::kSuccess);
  }
  if (h.type == am::kCommonMessages && h.id == am::kNegotiate) {
    // A Negotiate always starts over, also on an authenticated queue (re-authentication); the
    // queue stays authenticated unless the new transaction fails.
    qa.forget();
    uint8_t why = auth_negotiate(ctrl, qa, msg);
    if (why) {
      auth_failed(ctrl, qa, qid, why);
    } else {
      qa.step = Step::kChallenge;
    }
    return complete(req, sc::kSuccess);
  }
  if ((h.type == am::kCommonMessages || h.type == am::kDhchapMessages) && h.id == am::kFailure2) {
    // The host gives up (it could not verify the controller, or did not like the challenge).
    am::Failure f;
    am::decode_failure(msg, &f);
    qa.step = Step::kDone;
    qa.authenticated = false;
    qa.forget();
    ++qa.failures;
    LOG_LIMITED(LogLevel::kWarn, "auth failed", ctrl.hostnqn(),
                "controller %u queue %u (host %s): DH-HMAC-CHAP: the host ended the transaction: %s", ctrl.cntlid(),
                qid, ctrl.hostnqn().c_str(), am::reason_name(f.explanation));
    return complete(req, sc::kSuccess);
  }
  const uint8_t expected = qa.step == Step::kReply ? am::kReply : qa.step == Step::kSuccess2 ? am::kSuccess2 : 0xff;
  if (h.type != am::kDhchapMessages || h.id != expected) {
    auth_failed(ctrl, qa, qid, am::reason::kIncorrectMessage);
    return complete(req, sc::kSuccess);
  }
  if (h.tid != qa.tid) {
    auth_failed(ctrl, qa, qid, am::reason::kIncorrectPayload);
    return complete(req, sc::kSuccess);
  }
  if (h.id == am::kReply) {
    uint8_t why = auth_reply(ctrl, qa, qid, msg);
    if (why)
      auth_failed(ctrl, qa, qid, why);
    else
      qa.step = Step::kSuccess1;
    return complete(req, sc::kSuccess);
  }
  // Success2: the host accepted the controller's response.
  qa.authenticated = true;
  req->frame_keys = std::move(qa.frame_keys);
  qa.step = Step::kDone;
  qa.forget();
  LOG_LIMITED(LogLevel::kInfo, "authenticated", ctrl.hostnqn(),
              "controller %u queue %u (host %s): authenticated both ways (%s, %s)", ctrl.cntlid(), qid,
              ctrl.hostnqn().c_str(), auth::hash_name(qa.hash).c_str(), auth::dhgroup_name(qa.dhgroup).c_str());
  complete(req, sc::kSuccess);
}

uint8_t TargetCore::auth_negotiate(Controller& ctrl, QueueAuth& qa, std::span<const uint8_t> msg) {
  am::Negotiate n;
  uint8_t why = am::decode_negotiate(msg, &n);
  qa.tid = n.tid;
  if (why) return why;
  if (n.sc_c != am::kScNone) return am::reason::kConcatMismatch;  // no secure channel in nvmeoe
  if (!ctrl.auth) return am::reason::kNotUsable;                  // nothing to authenticate with
  // The configured hash when the host offers it, else the first SHA-2 it offers (as nvmet).
  const uint8_t want_hash = uint8_t(ctrl.auth->hash);
  if (std::find(n.hashes.begin(), n.hashes.end(), want_hash) != n.hashes.end()) {
    qa.hash = ctrl.auth->hash;
  } else {
    auto it = std::find_if(n.hashes.begin(), n.hashes.end(), [](uint8_t id) { return auth::valid_hash(id); });
    if (it == n.hashes.end()) return am::reason::kHashUnusable;
    qa.hash = HashId(*it);
  }
  // The configured DH group, and no other: a host must not talk the target down to a weaker one.
  const uint8_t want_group = uint8_t(ctrl.auth->dhgroup);
  if (std::find(n.dhgroups.begin(), n.dhgroups.end(), want_group) == n.dhgroups.end())
    return am::reason::kDhgroupUnusable;
  qa.dhgroup = ctrl.auth->dhgroup;
  return 0;
}

Result<std::vector<uint8_t>> TargetCore::auth_challenge(QueueAuth& qa) {
  const size_t hl = auth::hash_len(qa.hash);
  am::Challenge c;
  c.tid = qa.tid;
  c.hashid = uint8_t(qa.hash);
  c.dhgid = uint8_t(qa.dhgroup);
  qa.c1.assign(hl, 0);
  NVMEOE_RETURN_IF_ERROR(auth::random_bytes(qa.c1));
  qa.s1 = auth::next_seqnum();
  c.seqnum = qa.s1;
  c.c1 = qa.c1;
  if (qa.dhgroup != DhGroup::kNull) {
    // A fresh key per transaction: nothing of one exchange helps with another.
    auto key = auth::DhKey::generate(qa.dhgroup);
    if (!key) return key.status();
    auto pub = (*key)->public_value();
    if (!pub) return pub.status();
    qa.dh = std::move(key).value();
    c.dh = std::move(pub).value();
  }
  return am::encode_challenge(c);
}

uint8_t TargetCore::auth_reply(Controller& ctrl, QueueAuth& qa, uint16_t qid, std::span<const uint8_t> msg) {
  am::Reply r;
  if (!am::decode_reply(msg, &r)) return am::reason::kIncorrectPayload;
  const size_t hl = auth::hash_len(qa.hash);
  if (r.response.size() != hl) return am::reason::kHashUnusable;
  if (qa.dhgroup != DhGroup::kNull) {
    if (r.dh.empty() || !qa.dh) return am::reason::kIncorrectPayload;
    auto secret = qa.dh->shared_secret(r.dh);
    if (!secret) {
      LOG_LIMITED(LogLevel::kWarn, "auth failed", ctrl.hostnqn(), "controller %u queue %u: host DH value refused: %s",
                  ctrl.cntlid(), qid, secret.status().message().c_str());
      return am::reason::kDhgroupUnusable;
    }
    qa.session_key = std::move(secret).value();
  } else if (!r.dh.empty()) {
    return am::reason::kIncorrectPayload;
  }
  auto key = auth::transformed_key(ctrl.auth->host_key, ctrl.hostnqn());
  if (!key) return am::reason::kFailed;
  uint8_t expected[auth::kMaxHashLen];
  auth::ResponseInput in;
  in.hash = qa.hash;
  in.key = *key;
  in.challenge = qa.c1;
  in.session_key = qa.session_key;
  in.seqnum = qa.s1;
  in.tid = qa.tid;
  Status s = auth::host_response(in, ctrl.hostnqn(), ctrl.subsystem()->nqn, expected);
  bool match = s && auth::equal_const_time({expected, hl}, r.response);
  auth::wipe({expected, sizeof expected});
  // A wrong key and a replayed Reply (made for another C1, S1 or transaction) look the same here.
  if (match) {
    // The keys of this association's frames, from the same inputs as the response.
    qa.frame_keys = std::make_shared<auth::FrameKeys>();
    match = auth::derive_frame_keys(in, ctrl.hostnqn(), ctrl.subsystem()->nqn, qa.frame_keys.get()).is_ok();
  }
  auth::wipe(*key);
  if (!match) return am::reason::kFailed;
  if (r.cvalid && r.seqnum != 0) {
    // Bidirectional: the host wants the controller to prove its key before it trusts the queue.
    qa.c2 = r.c2;
    qa.s2 = r.seqnum;
  } else {
    qa.authenticated = true;
    LOG_LIMITED(LogLevel::kInfo, "authenticated", ctrl.hostnqn(),
                "controller %u queue %u (host %s): host authenticated (%s, %s)", ctrl.cntlid(), qid,
                ctrl.hostnqn().c_str(), auth::hash_name(qa.hash).c_str(), auth::dhgroup_name(qa.dhgroup).c_str());
  }
  return 0;
}

Result<std::vector<uint8_t>> TargetCore::auth_success1(Controller& ctrl, QueueAuth& qa) {
  am::Success1 s;
  s.tid = qa.tid;
  s.hl = uint8_t(auth::hash_len(qa.hash));
  if (!qa.c2.empty()) {
    if (ctrl.auth->ctrl_key.empty()) return Status::error("the host asks for the controller's key; none is set");
    auto key = auth::transformed_key(ctrl.auth->ctrl_key, ctrl.subsystem()->nqn);
    if (!key) return key.status();
    s.response.assign(s.hl, 0);
    auth::ResponseInput in;
    in.hash = qa.hash;
    in.key = *key;
    in.challenge = qa.c2;
    in.session_key = qa.session_key;
    in.seqnum = qa.s2;
    in.tid = qa.tid;
    Status st = auth::controller_response(in, ctrl.hostnqn(), ctrl.subsystem()->nqn, s.response.data());
    auth::wipe(*key);
    if (!st) return st;
    s.rvalid = true;
  }
  return am::encode_success1(s);
}

void TargetCore::auth_receive(Request* req, Controller& ctrl, QueueAuth& qa, uint32_t al) {
  using Step = QueueAuth::Step;
  const uint16_t qid = req->qid;
  std::vector<uint8_t> out;
  switch (qa.step) {
    case Step::kChallenge: {
      // The Challenge must fit, or the host asked wrongly; the transaction waits for a better ask.
      size_t need = am::kChallengeHeaderSize + auth::hash_len(qa.hash) + auth::dh_value_len(qa.dhgroup);
      if (al < need) return complete(req, kTooShort);
      auto c = auth_challenge(qa);
      if (!c) {
        LOG_LIMITED(LogLevel::kError, "auth failed", ctrl.hostnqn(), "controller %u queue %u: challenge: %s",
                    ctrl.cntlid(), qid, c.status().message().c_str());
        auth_failed(ctrl, qa, qid, am::reason::kFailed);
        return complete(req, sc::kInternalError);
      }
      out = std::move(c).value();
      qa.step = Step::kReply;
      break;
    }
    case Step::kSuccess1: {
      if (al < am::kSuccess1HeaderSize + (qa.c2.empty() ? 0 : auth::hash_len(qa.hash))) return complete(req, kTooShort);
      auto s = auth_success1(ctrl, qa);
      if (s) {
        out = std::move(s).value();
        qa.step = qa.c2.empty() ? Step::kDone : Step::kSuccess2;
        if (qa.c2.empty()) {
          req->frame_keys = std::move(qa.frame_keys);
          qa.forget();
        }
        break;
      }
      LOG_LIMITED(LogLevel::kWarn, "auth failed", ctrl.hostnqn(), "controller %u queue %u: %s", ctrl.cntlid(), qid,
                  s.status().message().c_str());
      auth_failed(ctrl, qa, qid, am::reason::kFailed);
      [[fallthrough]];
    }
    case Step::kFailure1: {
      if (al < am::kFailureSize) return complete(req, kTooShort);
      am::Failure f;
      f.tid = qa.tid;
      f.explanation = qa.failure ? qa.failure : am::reason::kFailed;
      out = am::encode_failure(f);
      qa.step = Step::kDone;
      qa.authenticated = false;
      break;
    }
    default: {
      // Nothing to fetch now (a Send was expected): the transaction is broken off, as nvmet does.
      if (al < am::kFailureSize) return complete(req, kTooShort);
      auth_failed(ctrl, qa, qid, am::reason::kIncorrectMessage);
      am::Failure f;
      f.tid = qa.tid;
      f.explanation = am::reason::kIncorrectMessage;
      out = am::encode_failure(f);
      qa.step = Step::kDone;
      break;
    }
  }
  // The whole allocation length goes back, zero-filled after the message (nvmet_copy_to_sgl).
  std::memset(req->data.data(), 0, al);
  std::memcpy(req->data.data(), out.data(), std::min<size_t>(out.size(), al));
  auth::wipe(out);
  req->data_len = al;
  complete(req, sc::kSuccess);
}

}  // namespace nvmeoe
