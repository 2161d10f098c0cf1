// The host's side of DH-HMAC-CHAP (NVMe in-band authentication), run on a queue right after its
// Fabrics Connect when the Connect response asks for it (DW0 bit 17, ATR), as
// drivers/nvme/host/auth.c does: Negotiate, Challenge, Reply, Success1 and, when the host holds
// the controller's key, Success2 after checking the controller's response. Part of bring-up, so a
// reconnect authenticates again. docs/PROTOCOL.md §12.1, docs/SECURITY.md.
#include <cstring>
#include <future>

#include "auth/dhchap.h"
#include "auth/frame_key.h"
#include "common/log.h"
#include "host/host_impl.h"
#include "nvme/auth_msg.h"

namespace nvmeoe {

namespace am = authmsg;
using auth::DhGroup;
using auth::HashId;

namespace {

// Room for the largest Challenge (SHA-512, ffdhe8192) and Success1 (SHA-512).
constexpr uint32_t kChallengeAl = am::kChallengeHeaderSize + auth::kMaxHashLen + 1024;
constexpr uint32_t kSuccess1Al = am::kSuccess1HeaderSize + auth::kMaxHashLen;

std::string queue_name(uint16_t qid) {
  return qid == 0 ? "admin queue" : "I/O queue " + std::to_string(qid);
}

}  // namespace

Completion HostControllerImpl::auth_send(uint16_t qid, const std::vector<uint8_t>& msg) {
  auto buf = std::make_shared<std::vector<uint8_t>>(msg);
  am::AuthCommand c;
  c.length = uint32_t(buf->size());
  Sqe s;
  am::encode_auth_command(true, c, s);
  Completion r = internal_wait(qid, s, buf->data(), c.length, buf);
  auth::wipe(*buf);
  return r;
}

Completion HostControllerImpl::auth_receive(uint16_t qid, std::vector<uint8_t>* out) {
  auto buf = std::make_shared<std::vector<uint8_t>>(out->size(), 0);
  am::AuthCommand c;
  c.length = uint32_t(buf->size());
  Sqe s;
  am::encode_auth_command(false, c, s);
  Completion r = internal_wait(qid, s, buf->data(), c.length, buf);
  *out = *buf;
  auth::wipe(*buf);
  return r;
}

Status HostControllerImpl::install_frame_keys(uint16_t qid, const auth::FrameKeys& keys) {
  struct Pair {
    std::unique_ptr<auth::FrameKey> tx, rx;
  };
  auto pair = std::make_shared<Pair>();
  auto tx = auth::FrameKey::create(keys.host_to_ctrl);
  if (!tx) return tx.status();
  auto rx = auth::FrameKey::create(keys.ctrl_to_host);
  if (!rx) return rx.status();
  pair->tx = std::move(tx).value();
  pair->rx = std::move(rx).value();
  auto p = std::make_shared<std::promise<bool>>();
  auto f = p->get_future();
  post([this, qid, p, pair] {
    HostQueue* q = qid < queues_.size() ? queues_[qid].get() : nullptr;
    // A queue keeps the keys of its first transaction; a new association starts without any.
    if (q && !q->rx_key) {
      q->tx_key = std::move(pair->tx);
      q->rx_key = std::move(pair->rx);
    }
    p->set_value(q != nullptr);
  });
  return f.get() ? Status::ok() : Status::error("frame keys: the queue is gone", EIO);
}

bool HostControllerImpl::frames_authenticated(uint16_t qid) {
  auto p = std::make_shared<std::promise<bool>>();
  auto f = p->get_future();
  post([this, qid, p] { p->set_value(qid < queues_.size() && queues_[qid] && queues_[qid]->keyed); });
  return f.get();
}

Status HostControllerImpl::authenticate(uint16_t qid, uint32_t connect_dw0) {
  const std::string where = "DH-HMAC-CHAP on " + queue_name(qid) + ": ";
  if (connect_dw0 & am::kConnectAuthreqAscr)
    return Status::error(where + "the target requires a secure channel (ASCR), which nvmeoe does not have", EPROTO);
  if (!(connect_dw0 & am::kConnectAuthreqAtr)) {
    // A controller key says the target must prove itself: one that does not authenticate cannot.
    if (!ctrl_secret_.empty())
      return Status::error("target " + target_.str() + " does not authenticate (no AUTHREQ in the Connect response) " +
                               "but --dhchap-ctrl-secret asks it to prove its key: refused",
                           EACCES);
    return Status::ok();
  }
  if (host_secret_.empty())
    return Status::error("target requires DH-HMAC-CHAP authentication of host NQN '" + opts_.hostnqn +
                             "' (Authentication Required); give its secret with --dhchap-secret",
                         EACCES);

  const uint16_t tid = auth_tid_.fetch_add(1);
  // Any refusal after the Challenge is told to the target with a Failure2, as the kernel does.
  auto give_up = [&](uint8_t why, const std::string& message, int err) {
    am::Failure f;
    f.host = true;
    f.tid = tid;
    f.explanation = why;
    auth_send(qid, am::encode_failure(f));
    return Status::error(where + message, err);
  };
  auto refused = [&](const std::vector<uint8_t>& msg, const char* stage) -> Status {
    am::Failure f;
    if (am::decode_failure(msg, &f) && !f.host) {
      std::string why = am::reason_name(f.explanation);
      if (f.explanation == am::reason::kFailed && std::string(stage) == "Success1")
        return Status::error(where + "the target refused the host's response (" + why +
                                 "): --dhchap-secret is not the key the target holds for '" + opts_.hostnqn + "'" +
                                 (ctrl_secret_.empty() ? ""
                                                       : ", or the target holds no controller key for it "
                                                         "(--dhchap-ctrl-secret asks it to prove one)"),
                             EACCES);
      return Status::error(where + "the target refused the " + stage + " stage: " + why, EACCES);
    }
    return Status::error(where + std::string("unexpected message instead of ") + stage, EPROTO);
  };

  // 1. Negotiate: every hash and group Linux offers, in its order.
  am::Negotiate n;
  n.tid = tid;
  n.hashes = {uint8_t(HashId::kSha256), uint8_t(HashId::kSha384), uint8_t(HashId::kSha512)};
  n.dhgroups = {0, 1, 2, 3, 4, 5};
  Completion r = auth_send(qid, am::encode_negotiate(n));
  if (!r.ok()) return Status::error(where + "Authentication Send (Negotiate) failed: " + status_name(r.status), EIO);

  // 2. Challenge.
  std::vector<uint8_t> msg(kChallengeAl);
  r = auth_receive(qid, &msg);
  if (!r.ok()) return Status::error(where + "Authentication Receive (Challenge) failed: " + status_name(r.status), EIO);
  am::MessageHead h;
  am::decode_head(msg, &h);
  if (h.type != am::kDhchapMessages || h.id != am::kChallenge) return refused(msg, "Negotiate");
  am::Challenge ch;
  if (h.tid != tid || !am::decode_challenge(msg, &ch))
    return give_up(am::reason::kIncorrectPayload, "malformed Challenge", EPROTO);
  if (!auth::valid_hash(ch.hashid) || ch.c1.size() != auth::hash_len(HashId(ch.hashid)))
    return give_up(am::reason::kHashUnusable, "the target chose hash " + std::to_string(ch.hashid), EPROTO);
  if (!auth::valid_dhgroup(ch.dhgid))
    return give_up(am::reason::kDhgroupUnusable, "the target chose DH group " + std::to_string(ch.dhgid), EPROTO);
  const HashId hash = HashId(ch.hashid);
  const DhGroup group = DhGroup(ch.dhgid);
  const size_t hl = auth::hash_len(hash);
  if (ch.dh.size() != auth::dh_value_len(group))
    return give_up(group == DhGroup::kNull ? am::reason::kIncorrectPayload : am::reason::kDhgroupUnusable,
                   "the Challenge's DH value does not fit " + auth::dhgroup_name(group), EPROTO);

  // 3. Reply: the host's response, its DH value, and its challenge to the controller.
  am::Reply reply;
  reply.tid = tid;
  std::vector<uint8_t> session;
  if (group != DhGroup::kNull) {
    auto key = auth::DhKey::generate(group);
    if (!key) return give_up(am::reason::kFailed, key.status().message(), EIO);
    auto pub = (*key)->public_value();
    auto secret = (*key)->shared_secret(ch.dh);
    if (!pub) return give_up(am::reason::kFailed, pub.status().message(), EIO);
    if (!secret)
      return give_up(am::reason::kIncorrectPayload, "the target's DH value: " + secret.status().message(), EPROTO);
    reply.dh = std::move(pub).value();
    session = std::move(secret).value();
  }
  auto kh = auth::transformed_key(host_secret_, opts_.hostnqn);
  if (!kh) return give_up(am::reason::kFailed, kh.status().message(), EINVAL);
  reply.response.assign(hl, 0);
  auth::ResponseInput in;
  in.hash = hash;
  in.key = *kh;
  in.challenge = ch.c1;
  in.session_key = session;
  in.seqnum = ch.seqnum;
  in.tid = tid;
  Status st = auth::host_response(in, opts_.hostnqn, opts_.subnqn, reply.response.data());
  // The keys of the queue's frames, from the same inputs: the target tags its answers with them
  // once the transaction has succeeded, so the queue needs them before the last step.
  auth::FrameKeys keys;
  if (st) st = auth::derive_frame_keys(in, opts_.hostnqn, opts_.subnqn, &keys);
  if (st) st = install_frame_keys(qid, keys);
  auth::wipe(*kh);
  if (!st) return give_up(am::reason::kFailed, st.message(), EIO);
  const bool bidirectional = !ctrl_secret_.empty();
  reply.c2.assign(hl, 0);
  if (bidirectional) {
    if (Status rs = auth::random_bytes(reply.c2); !rs) return give_up(am::reason::kFailed, rs.message(), EIO);
    reply.cvalid = true;
    reply.seqnum = auth::next_seqnum();
  }
  r = auth_send(qid, am::encode_reply(reply));
  if (!r.ok()) {
    auth::wipe(session);
    return Status::error(where + "Authentication Send (Reply) failed: " + status_name(r.status), EIO);
  }

  // 4. Success1, with the controller's response when asked for.
  msg.assign(kSuccess1Al, 0);
  r = auth_receive(qid, &msg);
  if (!r.ok()) {
    auth::wipe(session);
    return Status::error(where + "Authentication Receive (Success1) failed: " + status_name(r.status), EIO);
  }
  am::decode_head(msg, &h);
  if (h.type != am::kDhchapMessages || h.id != am::kSuccess1) {
    auth::wipe(session);
    return refused(msg, "Success1");
  }
  am::Success1 s1;
  if (h.tid != tid || !am::decode_success1(msg, &s1) || s1.hl != hl) {
    auth::wipe(session);
    return give_up(am::reason::kIncorrectPayload, "malformed Success1", EPROTO);
  }
  if (bidirectional) {
    // Unlike the kernel, a Success1 without a response is not taken as enough: the host asked.
    if (!s1.rvalid) {
      auth::wipe(session);
      return give_up(am::reason::kFailed, "the target did not answer the controller challenge", EACCES);
    }
    auto kc = auth::transformed_key(ctrl_secret_, opts_.subnqn);
    if (!kc) return give_up(am::reason::kFailed, kc.status().message(), EINVAL);
    uint8_t expected[auth::kMaxHashLen];
    auth::ResponseInput cin;
    cin.hash = hash;
    cin.key = *kc;
    cin.challenge = reply.c2;
    cin.session_key = session;
    cin.seqnum = reply.seqnum;
    cin.tid = tid;
    st = auth::controller_response(cin, opts_.hostnqn, opts_.subnqn, expected);
    auth::wipe(*kc);
    auth::wipe(session);
    bool match = st.is_ok() && auth::equal_const_time({expected, hl}, s1.response);
    auth::wipe({expected, sizeof expected});
    if (!match)
      return give_up(am::reason::kFailed,
                     "the controller's response does not match --dhchap-ctrl-secret: the target does not hold that "
                     "key (a wrong controller key, or not the target it claims to be)",
                     EACCES);
    // 5. Success2.
    r = auth_send(qid, am::encode_success2(tid));
    if (!r.ok()) return Status::error(where + "Authentication Send (Success2) failed: " + status_name(r.status), EIO);
  }
  auth::wipe(session);
  // Without tags on the target's answers now, the target does not authenticate frames (or the
  // answer was not the target's): the queue would be open to forged frames.
  if (!frames_authenticated(qid))
    return Status::error(where +
                             "the target's answer to the last step carries no frame tag: it does not authenticate "
                             "frames (docs/PROTOCOL.md §10.1); refused",
                         EPROTO);
  if (qid == 0)
    LOG_INFO("%s: authenticated with %s, DH group %s%s", target_.str().c_str(), auth::hash_name(hash).c_str(),
             auth::dhgroup_name(group).c_str(), bidirectional ? ", controller authenticated" : "");
  return Status::ok();
}

}  // namespace nvmeoe
