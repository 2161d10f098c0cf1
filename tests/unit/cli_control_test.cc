// Tests of the control protocol: request/reply codec round trips and limits, the buffered stream,
// and the agent's request handling over a socketpair against an in-memory HostController.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "cli/admin_control.h"
#include "cli/agent_server.h"
#include "cli/control.h"
#include "nvme/spec.h"

namespace nvmeoe::cli {
namespace {

TEST(ControlCodecTest, RequestsRoundTrip) {
  std::vector<ControlRequest> reqs;
  reqs.push_back(ControlRequest{ControlOp::kInfo});
  reqs.push_back(ControlRequest{ControlOp::kRead, 1, 1ull << 40, 8});
  ControlRequest w{ControlOp::kWrite, 2, 16, 8};
  w.bytes = 4096;
  reqs.push_back(w);
  reqs.push_back(ControlRequest{ControlOp::kFlush, 3});
  reqs.push_back(ControlRequest{ControlOp::kWriteZeroes, 1, 0, 65536});
  ControlRequest d{ControlOp::kDeallocate, 1};
  d.ranges = {{0, 8}, {4096, 0xffffffffu}};
  reqs.push_back(d);
  reqs.push_back(ControlRequest{ControlOp::kDisconnect});
  for (const auto& r : reqs) {
    std::string line = encode_request(r);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line only";
    auto back = decode_request(line);
    ASSERT_TRUE(back) << line << ": " << back.status().message();
    EXPECT_EQ(back->op, r.op);
    EXPECT_EQ(back->nsid, r.nsid);
    EXPECT_EQ(back->slba, r.slba);
    EXPECT_EQ(back->nlb, r.nlb);
    EXPECT_EQ(back->bytes, r.bytes);
    ASSERT_EQ(back->ranges.size(), r.ranges.size());
    for (size_t i = 0; i < r.ranges.size(); ++i) {
      EXPECT_EQ(back->ranges[i].slba, r.ranges[i].slba);
      EXPECT_EQ(back->ranges[i].nlb, r.ranges[i].nlb);
    }
  }
  EXPECT_EQ(encode_request(ControlRequest{ControlOp::kRead, 1, 0, 8}),
            "{\"nlb\":8,\"nsid\":1,\"op\":\"read\",\"slba\":0}\n");
}

TEST(ControlCodecTest, BadRequestsAreRejected) {
  EXPECT_FALSE(decode_request("not json"));
  EXPECT_FALSE(decode_request("[1,2]"));
  EXPECT_FALSE(decode_request(R"({"op":"format"})"));
  EXPECT_FALSE(decode_request(R"({"op":"read","nsid":1,"slba":0})"));
  EXPECT_FALSE(decode_request(R"({"op":"read","nsid":1,"slba":0,"nlb":0})"));
  EXPECT_FALSE(decode_request(R"({"op":"read","nsid":-1,"slba":0,"nlb":1})"));
  EXPECT_FALSE(decode_request(R"({"op":"read","nsid":1,"slba":0,"nlb":4294967296})"));
  EXPECT_FALSE(decode_request(R"({"op":"read","nsid":"1","slba":0,"nlb":1})"));
  EXPECT_FALSE(decode_request(R"({"op":"write","nsid":1,"slba":0,"nlb":1})"));
  EXPECT_FALSE(decode_request(R"({"op":"deallocate","nsid":1,"ranges":[]})"));
  EXPECT_FALSE(decode_request(R"({"op":"deallocate","nsid":1,"ranges":[{"slba":0}]})"));
}

TEST(ControlCodecTest, RepliesRoundTrip) {
  auto ok = decode_reply(encode_reply(ControlReply::ok(4096)));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->kind, ControlReply::Kind::kOk);
  EXPECT_EQ(ok->bytes, 4096u);

  auto err = decode_reply(encode_reply(ControlReply::failure("namespace 9 does not exist")));
  ASSERT_TRUE(err);
  EXPECT_EQ(err->kind, ControlReply::Kind::kError);
  EXPECT_EQ(err->describe(), "namespace 9 does not exist");

  auto st = decode_reply(encode_reply(ControlReply::nvme_status(sc::kLbaOutOfRange)));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kind, ControlReply::Kind::kNvmeStatus);
  EXPECT_EQ(st->status, sc::kLbaOutOfRange);
  EXPECT_EQ(st->describe(), "NVMe status: " + status_name(sc::kLbaOutOfRange) + "(0x80)");

  ControlReply info = ControlReply::ok();
  info.has_info = true;
  info.info.name = "nvmeoe0";
  info.info.namespaces.push_back(NamespaceModel{1, 100, 50, 4096});
  auto back = decode_reply(encode_reply(info));
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->has_info);
  EXPECT_EQ(back->info.name, "nvmeoe0");
  EXPECT_EQ(back->info.namespaces.at(0).block_size, 4096u);

  EXPECT_FALSE(decode_reply("{}"));
  EXPECT_FALSE(decode_reply(R"({"ok":true,"bytes":68719476736})"));
  EXPECT_FALSE(decode_reply(R"({"ok":true,"info":{"nope":1}})"));
}

// An in-memory controller: one namespace of 64 blocks of 512 bytes, 4 KiB maximum transfer.
class FakeController : public HostController {
 public:
  FakeController() : data_(64 * 512, 0) {
    info_.cntlid = 7;
    info_.serial = "SERIAL  ";
    info_.model = "nvmeoe";
    info_.firmware = "0.1.0";
    info_.subnqn = "nqn.2024-01.io.nvmeoe:test";
    info_.max_transfer = 4096;
    NamespaceInfo ns;
    ns.nsid = 1;
    ns.blocks = 64;
    ns.used_blocks = 64;
    namespaces_.push_back(ns);
  }
  const ControllerInfo& controller() const override { return info_; }
  const std::vector<NamespaceInfo>& namespaces() const override { return namespaces_; }
  std::string hostnqn() const override { return "nqn.2014-08.org.nvmexpress:uuid:host"; }
  std::string target_mac() const override { return "02:00:00:00:00:01"; }
  std::string local_iface() const override { return "veth0"; }
  uint16_t io_queue_count() const override { return 1; }
  std::vector<QueueStats> stats() const override { return {QueueStats{1, 128, commands_}}; }
  bool alive() const override { return alive_; }
  bool connected() const override { return alive_; }
  uint64_t reconnects() const override { return 0; }

  void read(uint32_t nsid, uint64_t slba, uint32_t nlb, void* buf, IoCallback cb, uint16_t) override {
    ++commands_;
    max_nlb_ = std::max(max_nlb_, nlb);
    if (nsid != 1) return cb(Completion{sc::kInvalidNamespace});
    if (slba + nlb > 64) return cb(Completion{sc::kLbaOutOfRange});
    std::memcpy(buf, data_.data() + slba * 512, nlb * 512);
    cb(Completion{});
  }
  void write(uint32_t nsid, uint64_t slba, uint32_t nlb, const void* buf, IoCallback cb, uint16_t, bool) override {
    ++commands_;
    max_nlb_ = std::max(max_nlb_, nlb);
    if (nsid != 1) return cb(Completion{sc::kInvalidNamespace});
    if (slba + nlb > 64) return cb(Completion{sc::kLbaOutOfRange});
    std::memcpy(data_.data() + slba * 512, buf, nlb * 512);
    cb(Completion{});
  }
  void flush(uint32_t, IoCallback cb, uint16_t) override {
    ++flushes_;
    cb(Completion{});
  }
  void write_zeroes(uint32_t, uint64_t slba, uint32_t nlb, IoCallback cb, uint16_t) override {
    if (slba + nlb > 64) return cb(Completion{sc::kLbaOutOfRange});
    std::memset(data_.data() + slba * 512, 0, nlb * 512);
    cb(Completion{});
  }
  void deallocate(uint32_t, std::vector<DsmRange> ranges, IoCallback cb, uint16_t) override {
    dsm_ranges_ = ranges.size();
    cb(Completion{});
  }
  // Answers Identify (the data filled with its CNS) and counts every admin command it sees.
  void admin(std::span<const uint8_t> sqe, std::span<uint8_t> data, IoCallback cb) override {
    ++admin_commands_;
    Sqe s = decode_sqe(sqe.data());
    if (s.opcode != admin_opcode::kIdentify) return cb(Completion{sc::kInvalidOpcode});
    std::fill(data.begin(), data.end(), uint8_t(s.cdw10));
    cb(Completion{0, 0x1234, 0x5678});
  }
  int admin_commands_ = 0;
  void disconnect() override { alive_ = false; }

  std::vector<uint8_t> data_;
  uint32_t max_nlb_ = 0;
  uint64_t commands_ = 0;
  int flushes_ = 0;
  size_t dsm_ranges_ = 0;
  bool alive_ = true;

 private:
  ControllerInfo info_;
  std::vector<NamespaceInfo> namespaces_;
};

// The agent's request loop on one end of a socketpair, a client stream on the other.
class AgentServerTest : public testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client_ = std::make_unique<ControlStream>(sv[0]);
    client_->set_timeout(std::chrono::seconds(5));
    server_fd_ = sv[1];
    thread_ = std::thread([this] {
      ControlStream s(server_fd_);
      s.set_timeout(std::chrono::seconds(5));
      AgentServer server(&fake_, "nvmeoe0", 1234, 0x88b5);
      disconnect_requested_ = server.serve_connection(s);
    });
  }
  void TearDown() override {
    client_.reset();  // closing our end ends the server loop
    thread_.join();
  }

  FakeController fake_;
  std::unique_ptr<ControlStream> client_;
  int server_fd_ = -1;
  std::thread thread_;
  bool disconnect_requested_ = false;
};

TEST(ControllerModelTest, CarriesTheFrontendAndItsNodes) {
  FakeController fake;
  ControllerModel m = controller_model(fake, "nvmeoe0", 1, 0x88b5);
  EXPECT_EQ(m.frontend, "none");
  ASSERT_EQ(m.namespaces.size(), 1u);
  EXPECT_EQ(m.namespaces[0].node, "");
  FrontendSummary fuse{"fuse", {{m.namespaces[0].nsid, "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1"}, {99, "/elsewhere"}}};
  m = controller_model(fake, "nvmeoe0", 1, 0x88b5, fuse);
  EXPECT_EQ(m.frontend, "fuse");
  EXPECT_EQ(m.namespaces[0].node, "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1");
  // The model travels as the info reply: both survive the JSON round trip.
  ControllerModel back = nlohmann::json(m).get<ControllerModel>();
  EXPECT_EQ(back.frontend, "fuse");
  EXPECT_EQ(back.namespaces[0].node, "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1");
}

TEST_F(AgentServerTest, InfoDescribesTheController) {
  auto r = control_call(*client_, ControlRequest{ControlOp::kInfo});
  ASSERT_TRUE(r) << r.status().message();
  ASSERT_TRUE(r->has_info);
  EXPECT_EQ(r->info.name, "nvmeoe0");
  EXPECT_EQ(r->info.pid, 1234);
  EXPECT_EQ(r->info.cntlid, 7);
  EXPECT_EQ(r->info.serial, "SERIAL");  // padding trimmed
  EXPECT_EQ(r->info.target_mac, "02:00:00:00:00:01");
  EXPECT_EQ(r->info.state, "live");
  EXPECT_EQ(r->info.subnqn, "nqn.2024-01.io.nvmeoe:test");
  ASSERT_EQ(r->info.namespaces.size(), 1u);
  EXPECT_EQ(r->info.namespaces[0].blocks, 64u);
  ASSERT_EQ(r->info.queues.size(), 1u);
}

TEST_F(AgentServerTest, WriteThenReadBackSplitByMaxTransfer) {
  std::vector<uint8_t> data(16 * 512);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  ControlRequest w{ControlOp::kWrite, 1, 4, 16};
  w.bytes = data.size();
  auto wr = control_call(*client_, w, data);
  ASSERT_TRUE(wr) << wr.status().message();
  EXPECT_EQ(wr->kind, ControlReply::Kind::kOk) << wr->describe();
  EXPECT_EQ(fake_.max_nlb_, 8u) << "4 KiB max transfer means 8-block commands";

  std::vector<uint8_t> in;
  auto rd = control_call(*client_, ControlRequest{ControlOp::kRead, 1, 4, 16}, {}, &in);
  ASSERT_TRUE(rd) << rd.status().message();
  EXPECT_EQ(rd->kind, ControlReply::Kind::kOk);
  EXPECT_EQ(in, data);
}

TEST_F(AgentServerTest, NvmeErrorsComeBackAsStatus) {
  std::vector<uint8_t> in;
  auto rd = control_call(*client_, ControlRequest{ControlOp::kRead, 1, 60, 8}, {}, &in);
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->kind, ControlReply::Kind::kNvmeStatus);
  EXPECT_EQ(rd->status, sc::kLbaOutOfRange);
  EXPECT_TRUE(in.empty());
  // The connection stays usable after an NVMe error.
  auto fl = control_call(*client_, ControlRequest{ControlOp::kFlush, 1});
  ASSERT_TRUE(fl);
  EXPECT_EQ(fl->kind, ControlReply::Kind::kOk);
  EXPECT_EQ(fake_.flushes_, 1);
}

TEST_F(AgentServerTest, UnknownNamespaceAndWrongDataSizeAreErrors) {
  auto rd = control_call(*client_, ControlRequest{ControlOp::kRead, 9, 0, 1});
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->kind, ControlReply::Kind::kError);
  EXPECT_NE(rd->error.find("namespace 9 does not exist"), std::string::npos);

  std::vector<uint8_t> data(100);
  ControlRequest w{ControlOp::kWrite, 1, 0, 1};
  w.bytes = data.size();
  auto wr = control_call(*client_, w, data);
  ASSERT_TRUE(wr);
  EXPECT_EQ(wr->kind, ControlReply::Kind::kError);
  EXPECT_NE(wr->error.find("needs 512 bytes"), std::string::npos);
}

TEST_F(AgentServerTest, OversizedRequestIsRejectedWithoutReadingData) {
  ControlRequest w{ControlOp::kWrite, 1, 0, 1};
  w.bytes = kMaxDataBytes + 1;
  ASSERT_TRUE(client_->write_all(encode_request(w)));
  std::string line;
  ASSERT_TRUE(client_->read_line(&line));
  auto r = decode_reply(line);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, ControlReply::Kind::kError);
  EXPECT_NE(r->error.find("over the limit"), std::string::npos);
  bool eof = false;
  EXPECT_FALSE(client_->read_line(&line, &eof));
  EXPECT_TRUE(eof) << "the agent closes a stream that is out of step";
}

TEST_F(AgentServerTest, WriteZeroesDeallocateAndDisconnect) {
  std::fill(fake_.data_.begin(), fake_.data_.end(), 0xee);
  auto wz = control_call(*client_, ControlRequest{ControlOp::kWriteZeroes, 1, 2, 3});
  ASSERT_TRUE(wz);
  EXPECT_EQ(wz->kind, ControlReply::Kind::kOk);
  EXPECT_EQ(fake_.data_[2 * 512], 0);
  EXPECT_EQ(fake_.data_[5 * 512 - 1], 0);
  EXPECT_EQ(fake_.data_[5 * 512], 0xee);

  ControlRequest d{ControlOp::kDeallocate, 1};
  d.ranges = {{0, 8}, {16, 8}};
  auto dr = control_call(*client_, d);
  ASSERT_TRUE(dr);
  EXPECT_EQ(dr->kind, ControlReply::Kind::kOk);
  EXPECT_EQ(fake_.dsm_ranges_, 2u);

  auto dc = control_call(*client_, ControlRequest{ControlOp::kDisconnect});
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->kind, ControlReply::Kind::kOk);
  thread_.join();
  thread_ = std::thread([] {});
  EXPECT_TRUE(disconnect_requested_);
}

TEST_F(AgentServerTest, LostAssociationIsReported) {
  fake_.alive_ = false;
  auto rd = control_call(*client_, ControlRequest{ControlOp::kRead, 1, 0, 1});
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->kind, ControlReply::Kind::kError);
  EXPECT_NE(rd->error.find("lost"), std::string::npos);
}

TEST(ControlStreamTest, LinesAndRawBytesShareTheBuffer) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ControlStream a(sv[0]), b(sv[1]);
  std::string payload = "{\"ok\":true,\"bytes\":5}\nHELLO{\"ok\":true}\n";
  ASSERT_TRUE(a.write_all(payload));
  std::string line;
  ASSERT_TRUE(b.read_line(&line));
  EXPECT_EQ(line, "{\"ok\":true,\"bytes\":5}");
  uint8_t raw[5];
  ASSERT_TRUE(b.read_exact(raw, 5));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(raw), 5), "HELLO");
  ASSERT_TRUE(b.read_line(&line));
  EXPECT_EQ(line, "{\"ok\":true}");
}

TEST(ControlStreamTest, OverlongLineIsRefused) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ControlStream a(sv[0]), b(sv[1]);
  b.set_timeout(std::chrono::seconds(5));
  std::thread writer([&] { (void)a.write_all(std::string(kMaxLineBytes + 8192, 'x')); });
  std::string line;
  Status s = b.read_line(&line);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("too long"), std::string::npos);
  ::shutdown(b.fd(), SHUT_RDWR);
  writer.join();
}

TEST_F(AgentServerTest, AdminCommandsPassThroughWithTheirData) {
  Sqe id;
  id.opcode = admin_opcode::kIdentify;
  id.cdw10 = 1;
  std::vector<uint8_t> in;
  auto r = control_call(*client_, make_admin_request(id, 4096), {}, &in);
  ASSERT_TRUE(r) << r.status().message();
  ASSERT_EQ(r->kind, ControlReply::Kind::kOk) << r->describe();
  EXPECT_TRUE(r->has_cqe);
  EXPECT_EQ(r->dw0, 0x1234u);
  EXPECT_EQ(r->dw1, 0x5678u);
  ASSERT_EQ(in.size(), 4096u);
  EXPECT_EQ(in[0], 1);
  EXPECT_EQ(in[4095], 1);
  // An NVMe error comes back as a status; the connection stays usable.
  Sqe gf;
  gf.opcode = admin_opcode::kGetFeatures;
  auto e = control_call(*client_, make_admin_request(gf, 0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, ControlReply::Kind::kNvmeStatus);
  EXPECT_EQ(e->status, sc::kInvalidOpcode);
}

TEST_F(AgentServerTest, AdminCommandsThatWouldDisturbTheAssociationAreRefused) {
  Sqe connect;
  connect.opcode = admin_opcode::kFabrics;
  connect.nsid = fabrics_type::kConnect;
  Sqe prop_set;
  prop_set.opcode = admin_opcode::kFabrics;
  prop_set.nsid = fabrics_type::kPropertySet;
  Sqe aer;
  aer.opcode = admin_opcode::kAsyncEventRequest;
  Sqe vendor;
  vendor.opcode = 0xc1;
  for (const Sqe& s : {connect, prop_set, aer, vendor}) {
    auto r = control_call(*client_, make_admin_request(s, 0));
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_EQ(r->kind, ControlReply::Kind::kError) << int(s.opcode);
    EXPECT_NE(r->error.find("not allowed"), std::string::npos) << r->error;
  }
  // Over the controller's maximum transfer (4 KiB here): refused before it reaches the controller.
  Sqe id;
  id.opcode = admin_opcode::kIdentify;
  auto big = control_call(*client_, make_admin_request(id, 8192));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->kind, ControlReply::Kind::kError);
  EXPECT_NE(big->error.find("maximum transfer"), std::string::npos) << big->error;
  // Data for a command that transfers none.
  Sqe ka;
  ka.opcode = admin_opcode::kKeepAlive;
  ControlRequest bad = make_admin_request(ka, 0);
  bad.data_len = 16;
  auto none = control_call(*client_, bad);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->kind, ControlReply::Kind::kError);
  EXPECT_EQ(fake_.admin_commands_, 0) << "nothing refused reached the controller";
}

TEST(ControlCodecTest, AdminRequestsRoundTripAndBadOnesAreRejected) {
  Sqe s;
  s.opcode = admin_opcode::kGetLogPage;
  s.nsid = 0xffffffff;
  s.cdw10 = 0x007f0002;
  s.cdw12 = 0x200;
  ControlRequest req = make_admin_request(s, 512);
  auto back = decode_request(encode_request(req));
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(back->op, ControlOp::kAdmin);
  EXPECT_EQ(back->data_len, 512u);
  EXPECT_EQ(back->bytes, 0u);
  Sqe d = decode_sqe(back->sqe.data());
  EXPECT_EQ(d.opcode, s.opcode);
  EXPECT_EQ(d.nsid, s.nsid);
  EXPECT_EQ(d.cdw10, s.cdw10);
  EXPECT_EQ(d.cdw12, s.cdw12);
  EXPECT_FALSE(decode_request(R"({"op":"admin","sqe":"00","data_len":0})"));
  EXPECT_FALSE(decode_request(R"({"op":"admin","data_len":0})"));
  std::string zeros(128, '0');
  EXPECT_TRUE(decode_request(R"({"op":"admin","sqe":")" + zeros + R"(","data_len":0})"));
  EXPECT_FALSE(decode_request(R"({"op":"admin","sqe":")" + std::string(127, '0') + R"(g","data_len":0})"));
  EXPECT_FALSE(decode_request(R"({"op":"admin","sqe":")" + zeros + R"(","data_len":1000000})"));
  EXPECT_FALSE(decode_request(R"({"op":"admin","sqe":")" + zeros + R"(","data_len":8,"bytes":9})"));
  ControlReply ok = ControlReply::ok(16);
  ok.has_cqe = true;
  ok.dw0 = 7;
  ok.dw1 = 0xffffffff;
  auto rep = decode_reply(encode_reply(ok));
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->has_cqe);
  EXPECT_EQ(rep->dw0, 7u);
  EXPECT_EQ(rep->dw1, 0xffffffffu);
  EXPECT_EQ(rep->bytes, 16u);
}

}  // namespace
}  // namespace nvmeoe::cli
