// Tests of the `nvmeoe list` model and printers against nvme-cli 2.3's exact output, and of the
// SI/binary size helpers they use.
#include <gtest/gtest.h>

#include <string>

#include "cli/list_model.h"
#include "cli/list_print.h"
#include "cli/size_format.h"

namespace nvmeoe::cli {
namespace {

constexpr uint64_t kGiB = uint64_t(1) << 30;

ListModel sample_model() {
  ControllerModel c;
  c.name = "nvmeoe0";
  c.pid = 4242;
  c.target_mac = "02:00:00:00:00:01";
  c.iface = "veth0";
  c.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001";
  c.subnqn = "nqn.2024-01.io.nvmeoe:disk1";
  c.serial = "a1b2c3d4e5f6a7b8c9d0";
  c.model = "nvmeoe";
  c.firmware = "0.1.0";
  c.cntlid = 1;
  c.max_transfer = 1 << 20;
  c.io_queues = 1;
  c.namespaces.push_back(NamespaceModel{1, 20 * kGiB / 512, 20 * kGiB / 512, 512});
  c.namespaces.push_back(NamespaceModel{2, 30 * kGiB / 512, 0, 512});
  c.queues.push_back(QueueModel{0, 32, 10, 0, 0, 0, 0, 0, 0});
  c.queues.push_back(QueueModel{1, 128, 1000, 2, 0, 1, 0, 4096, 8192});
  ListModel m;
  m.controllers.push_back(c);
  return m;
}

TEST(SizeFormatTest, SiSuffixLikeNvmeCli) {
  EXPECT_EQ(format_si_bytes(20 * kGiB), " 21.47  GB");
  EXPECT_EQ(format_si_bytes(30 * kGiB), " 32.21  GB");
  EXPECT_EQ(format_si_bytes(0), "  0.00   B");
  EXPECT_EQ(format_si_bytes(999), "999.00   B");
  EXPECT_EQ(format_si_bytes(1000), "  1.00  kB");
  EXPECT_EQ(format_si_bytes(512ull << 20), "536.87  MB");
  EXPECT_EQ(format_si_bytes(1ull << 40), "  1.10  TB");
  EXPECT_EQ(format_si_bytes(2000000000000000ull), "  2.00  PB");
}

TEST(SizeFormatTest, UsageColumn) {
  EXPECT_EQ(format_usage(20 * kGiB, 20 * kGiB), " 21.47  GB /  21.47  GB");
  EXPECT_EQ(format_usage(0, 30 * kGiB), "  0.00   B /  32.21  GB");
}

TEST(SizeFormatTest, FormatColumnUsesRoundedBinarySuffix) {
  EXPECT_EQ(format_lba_format(512), "512   B +  0 B");
  EXPECT_EQ(format_lba_format(4096), "  4 KiB +  0 B");
  EXPECT_EQ(format_lba_format(4096, 8), "  4 KiB +  8 B");
  long long v = 1536;  // rounds half up, like nvme-cli: (1536 + 512) / 1024
  EXPECT_STREQ(suffix_binary_get(&v), "Ki");
  EXPECT_EQ(v, 2);
}

TEST(SizeFormatTest, BinaryBytesForLogs) {
  EXPECT_EQ(format_binary_bytes(20 * kGiB), "20 GiB");
  EXPECT_EQ(format_binary_bytes(4096), "4 KiB");
  EXPECT_EQ(format_binary_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_binary_bytes(100), "100 B");
}

TEST(ListPrintTest, TableMatchesNvmeCliByteForByte) {
  const std::string expected =
      "Node                  Generic               SN                   Model                                    "
      "Namespace Usage                      Format           FW Rev  \n"
      "--------------------- --------------------- -------------------- ---------------------------------------- "
      "--------- -------------------------- ---------------- --------\n"
      "nvmeoe0n1             -                     a1b2c3d4e5f6a7b8c9d0 nvmeoe                                   "
      "1          21.47  GB /  21.47  GB    512   B +  0 B   0.1.0   \n"
      "nvmeoe0n2             -                     a1b2c3d4e5f6a7b8c9d0 nvmeoe                                   "
      "2           0.00   B /  32.21  GB    512   B +  0 B   0.1.0   \n";
  EXPECT_EQ(format_list_table(sample_model()), expected);
}

TEST(ListPrintTest, EmptyListStillPrintsHeader) {
  std::string out = format_list_table(ListModel{});
  EXPECT_EQ(out.find("Node                  Generic"), 0u);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
}

TEST(ListPrintTest, ColumnsStartAtNvmeCliOffsets) {
  std::string out = format_list_table(sample_model());
  std::string row = out.substr(out.find("nvmeoe0n1"));
  row = row.substr(0, row.find('\n'));
  // Widths 21, 21, 20, 40, 9, 26, 16 plus one space each.
  EXPECT_EQ(row.find('-'), 22u);
  EXPECT_EQ(row.find("a1b2"), 44u);
  EXPECT_EQ(row.find("nvmeoe", 1), 65u);
  EXPECT_EQ(row[106], '1');
  EXPECT_EQ(row.find("21.47"), 117u);
  EXPECT_EQ(row.find("512"), 143u);
  EXPECT_EQ(row.find("0.1.0"), 160u);
  EXPECT_EQ(row.size(), 168u);
}

TEST(ListPrintTest, LongFieldsWidenTheirColumnLikePrintf) {
  ListModel m = sample_model();
  m.controllers[0].model = std::string(45, 'M');
  std::string out = format_list_table(m);
  EXPECT_NE(out.find(std::string(45, 'M') + " 1 "), std::string::npos);
}

TEST(ListPrintTest, JsonHasNvmeCliKeysInOrder) {
  auto j = list_json(sample_model(), false);
  ASSERT_EQ(j["Devices"].size(), 2u);
  const auto& d = j["Devices"][0];
  std::vector<std::string> keys;
  for (auto it = d.begin(); it != d.end(); ++it) keys.push_back(it.key());
  // nvme-cli's keys in its order, then nvmeoe's own.
  EXPECT_EQ(keys, (std::vector<std::string>{"NameSpace", "DevicePath", "GenericPath", "Firmware", "ModelNumber",
                                            "SerialNumber", "UsedBytes", "MaximumLBA", "PhysicalSize", "SectorSize",
                                            "Name", "Frontend"}));
  EXPECT_EQ(d["NameSpace"], 1);
  EXPECT_EQ(d["DevicePath"], "nvmeoe0n1");
  EXPECT_EQ(d["GenericPath"], "nvmeoe0n1");
  EXPECT_EQ(d["UsedBytes"], 20 * kGiB);
  EXPECT_EQ(d["MaximumLBA"], 20 * kGiB / 512);
  EXPECT_EQ(d["PhysicalSize"], 20 * kGiB);
  EXPECT_EQ(d["SectorSize"], 512);
  EXPECT_EQ(d["Name"], "nvmeoe0n1");
  EXPECT_EQ(d["Frontend"], "none");
  EXPECT_EQ(j["Devices"][1]["UsedBytes"], 0);
  EXPECT_EQ(list_json(ListModel{}, false).dump(), R"({"Devices":[]})");
}

TEST(ListPrintTest, VerboseJsonHasNvmeCliLayout) {
  auto j = list_json(sample_model(), true);
  // nvme-cli 2.16: Devices[] (per host) > Subsystems[] > Controllers[] > Namespaces[].
  ASSERT_EQ(j["Devices"].size(), 1u);
  const auto& host = j["Devices"][0];
  EXPECT_EQ(host.begin().key(), "HostNQN");
  ASSERT_EQ(host["Subsystems"].size(), 1u);
  const auto& sub = host["Subsystems"][0];
  EXPECT_EQ(sub["Subsystem"], "nvmeoe-subsys0");
  EXPECT_EQ(sub["SubsystemNQN"], "nqn.2024-01.io.nvmeoe:disk1");
  EXPECT_EQ(sub["Namespaces"], nlohmann::ordered_json::array());
  ASSERT_EQ(sub["Controllers"].size(), 1u);
  const auto& c = sub["Controllers"][0];
  std::vector<std::string> keys;
  for (auto it = c.begin(); it != c.end() && keys.size() < 8; ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"Controller", "Cntlid", "SerialNumber", "ModelNumber", "Firmware",
                                            "Transport", "Address", "Slot"}));
  EXPECT_EQ(c["Controller"], "nvmeoe0");
  EXPECT_EQ(c["Cntlid"], "1");
  EXPECT_EQ(c["Transport"], "eth");
  EXPECT_EQ(c["Address"], "traddr=02:00:00:00:00:01,trsvcid=0x88b5,host_iface=veth0");
  EXPECT_EQ(c["TargetMAC"], "02:00:00:00:00:01");
  EXPECT_EQ(c["HostInterface"], "veth0");
  EXPECT_EQ(c["State"], "live");
  ASSERT_EQ(c["Queues"].size(), 2u);
  EXPECT_EQ(c["Queues"][1]["Retransmits"], 2);
  ASSERT_EQ(c["Namespaces"].size(), 2u);
  const auto& ns = c["Namespaces"][0];
  keys.clear();
  for (auto it = ns.begin(); it != ns.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"NameSpace", "Generic", "NSID", "UsedBytes", "MaximumLBA", "PhysicalSize",
                                            "SectorSize", "DevicePath"}));
  EXPECT_EQ(ns["NameSpace"], "nvmeoe0n1");
  EXPECT_EQ(ns["NSID"], 1);
}

TEST(ListPrintTest, VerboseTablesFollowNvmeCliLayout) {
  std::string out = format_list_verbose(sample_model());
  const std::string subsys_header = "Subsystem        Subsystem-NQN" + std::string(83, ' ') + " Controllers\n";
  EXPECT_EQ(out.find(subsys_header), 0u);
  EXPECT_NE(out.find("nvmeoe-subsys0   nqn.2024-01.io.nvmeoe:disk1"), std::string::npos);
  EXPECT_NE(
      out.find("Device   SN                   MN                                       FR       TxPort Address        "
               "Subsystem    Namespaces      \n"),
      std::string::npos);
  EXPECT_NE(out.find("nvmeoe0  a1b2c3d4e5f6a7b8c9d0 nvmeoe                                   0.1.0    eth    "
                     "traddr=02:00:00:00:00:01,trsvcid=0x88b5,host_iface=veth0 nvmeoe-subsys0 nvmeoe0n1, nvmeoe0n2\n"),
            std::string::npos);
  EXPECT_NE(
      out.find("Device       Generic      NSID     Usage                      Format           Controllers     \n"),
      std::string::npos);
  EXPECT_NE(out.find("nvmeoe0n2    -            2          0.00   B /  32.21  GB    512   B +  0 B   nvmeoe0\n"),
            std::string::npos);
  EXPECT_NE(out.find("target MAC:    02:00:00:00:00:01 (EtherType 0x88b5) via veth0"), std::string::npos);
  EXPECT_NE(out.find("nvmeoe0: live, cntlid 1, agent pid 4242, 1 I/O queue(s), max transfer 1 MiB, 0 reconnect(s)"),
            std::string::npos);
}

// A controller whose namespaces are FUSE files (frontend.h).
ListModel fuse_model() {
  ListModel m = sample_model();
  m.controllers[0].frontend = "fuse";
  m.controllers[0].namespaces[0].node = "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1";
  m.controllers[0].namespaces[1].node = "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n2";
  return m;
}

TEST(ListPrintTest, NodeColumnShowsShortDevicePathsAtNvmeCliWidth) {
  ListModel m = sample_model();
  m.controllers[0].frontend = "ublk";
  m.controllers[0].namespaces[0].node = "/dev/ublkb0";
  m.controllers[0].namespaces[1].node = "/dev/ublkb1";
  std::string out = format_list_table(m);
  EXPECT_EQ(out.find("Node                  Generic"), 0u);
  EXPECT_NE(out.find("\n/dev/ublkb0           -                     a1b2c3d4e5f6a7b8c9d0 "), std::string::npos);
  EXPECT_NE(out.find("\n/dev/ublkb1           -  "), std::string::npos);
}

TEST(ListPrintTest, LongFilePathsWidenTheNodeColumnAndItsDashes) {
  std::string out = format_list_table(fuse_model());
  const std::string path = "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1";  // 34 characters
  std::string header = out.substr(0, out.find('\n'));
  EXPECT_EQ(header.find("Generic"), path.size() + 1);
  std::string dashes = out.substr(header.size() + 1);
  dashes = dashes.substr(0, dashes.find('\n'));
  EXPECT_EQ(dashes.find(' '), path.size());
  EXPECT_NE(out.find("\n" + path + " -                     a1b2"), std::string::npos);
  EXPECT_NE(out.find("\n/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n2 -"), std::string::npos);
  // Every row keeps the other columns aligned with the header.
  size_t row_at = out.find(path);
  std::string row = out.substr(row_at, out.find('\n', row_at) - row_at);
  EXPECT_EQ(row.find("a1b2"), header.find("SN"));
  EXPECT_EQ(row.find("21.47"), header.find("Usage") + 1);
}

TEST(ListPrintTest, JsonAndVerboseCarryTheFrontend) {
  ListModel m = fuse_model();
  auto plain = list_json(m, false);
  EXPECT_EQ(plain["Devices"][0]["DevicePath"], "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1");
  EXPECT_EQ(plain["Devices"][0]["Name"], "nvmeoe0n1");
  EXPECT_EQ(plain["Devices"][1]["Frontend"], "fuse");
  auto j = list_json(m, true);
  const auto& c = j["Devices"][0]["Subsystems"][0]["Controllers"][0];
  EXPECT_EQ(c["Frontend"], "fuse");
  EXPECT_EQ(c["Namespaces"][0]["NameSpace"], "nvmeoe0n1");
  EXPECT_EQ(c["Namespaces"][1]["DevicePath"], "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n2");
  std::string out = format_list_verbose(m);
  EXPECT_NE(out.find("  frontend:      fuse: /run/nvmeoe/fuse/nvmeoe0/nvmeoe0n1, /run/nvmeoe/fuse/nvmeoe0/nvmeoe0n2\n"),
            std::string::npos);
  EXPECT_NE(format_list_verbose(sample_model()).find("  frontend:      none\n"), std::string::npos);
}

TEST(ListModelTest, JsonRoundTripKeepsFrontendAndNodes) {
  ControllerModel c = fuse_model().controllers[0];
  ControllerModel back = nlohmann::json(c).get<ControllerModel>();
  EXPECT_EQ(back.frontend, "fuse");
  EXPECT_EQ(back.namespaces[1].node, "/run/nvmeoe/fuse/nvmeoe0/nvmeoe0n2");
  // An info reply without the fields (an older agent) means no frontend.
  nlohmann::json j = c;
  j.erase("frontend");
  j["namespaces"][0].erase("node");
  back = j.get<ControllerModel>();
  EXPECT_EQ(back.frontend, "none");
  EXPECT_EQ(namespace_display_node(back, back.namespaces[0]), "nvmeoe0n1");
}

TEST(ListModelTest, JsonRoundTrip) {
  ControllerModel c = sample_model().controllers[0];
  nlohmann::json j = c;
  ControllerModel back = j.get<ControllerModel>();
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_EQ(back.namespaces.size(), 2u);
  EXPECT_EQ(back.namespaces[1].capacity_bytes(), 30 * kGiB);
  ASSERT_NE(back.find_namespace(2), nullptr);
  EXPECT_EQ(back.find_namespace(3), nullptr);
}

TEST(ListModelTest, NaturalNameOrder) {
  EXPECT_TRUE(controller_name_less("nvmeoe2", "nvmeoe10"));
  EXPECT_FALSE(controller_name_less("nvmeoe10", "nvmeoe2"));
  EXPECT_TRUE(controller_name_less("nvmeoe1", "nvmeoe1n1"));
  EXPECT_FALSE(controller_name_less("nvmeoe1", "nvmeoe1"));
}

}  // namespace
}  // namespace nvmeoe::cli
