// Tests of the admin printers against nvme-cli 2.16's layout: Identify Controller and Namespace,
// the namespace and controller lists, SMART, error and firmware logs, nvme-cli's hex dump, the
// get/set-feature lines and the registers, from data encoded by the target's own encoders.
#include <gtest/gtest.h>

#include "cli/admin_print.h"
#include "cli/admin_print_util.h"
#include "nvme/identify.h"

namespace nvmeoe::cli {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

std::vector<uint8_t> identify_controller() {
  IdentifyController id;
  id.serial = "SERIAL42";
  id.model = "nvmeoe";
  id.firmware = "0.1.0";
  id.mdts = 5;
  id.cntlid = 7;
  id.nn = 3;
  id.oncs = idctl::kOncsDsm | idctl::kOncsWriteZeroes;
  id.subnqn = "nqn.2024-01.io.nvmeoe:print";
  id.maxcmd = 128;
  id.elpe = 63;
  std::vector<uint8_t> b(kIdentifySize);
  encode_identify_controller(id, b.data());
  return b;
}

TEST(AdminPrintTest, IdentifyControllerAsNvmeCli) {
  auto b = identify_controller();
  std::string text = format_id_ctrl(b);
  EXPECT_EQ(text.rfind("NVME Identify Controller:\nvid       : 0\nssvid     : 0\n", 0), 0u) << text;
  EXPECT_TRUE(has_line(text, "sn        : SERIAL42            "));  // the field's 20 bytes, space padded
  EXPECT_TRUE(has_line(text, "fr        : 0.1.0   "));
  EXPECT_TRUE(has_line(text, "mdts      : 5"));
  EXPECT_TRUE(has_line(text, "cntlid    : 0x7"));
  EXPECT_TRUE(has_line(text, "ver       : 0x20000"));
  EXPECT_TRUE(has_line(text, "cntrltype : 1"));
  EXPECT_TRUE(has_line(text, "fguid     : 00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(has_line(text, "sqes      : 0x66"));
  EXPECT_TRUE(has_line(text, "nn        : 3"));
  EXPECT_TRUE(has_line(text, "oncs      : 0xc"));
  EXPECT_TRUE(has_line(text, "tnvmcap   : 0"));
  EXPECT_TRUE(has_line(text, "subnqn    : nqn.2024-01.io.nvmeoe:print"));
  EXPECT_TRUE(has_line(text, "ioccsz    : 4"));
  EXPECT_TRUE(has_line(text, "ps      0 : mp:0.00W operational enlat:0 exlat:0 rrt:0 rrl:0"));
  EXPECT_TRUE(has_line(text, "            rwt:0 rwl:0 idle_power:- active_power:-"));
  EXPECT_TRUE(has_line(text, "            active_power_workload:-"));
  EXPECT_TRUE(has_line(text, "            emergency power fail recovery time: -"));

  auto j = id_ctrl_json(b);
  EXPECT_EQ(j.begin().key(), "vid");
  EXPECT_EQ(j["sn"], "SERIAL42            ");
  EXPECT_EQ(j["mn"].get<std::string>().size(), 40u);
  EXPECT_EQ(j["cntlid"], 7);
  EXPECT_EQ(j["ver"], 0x20000);
  EXPECT_EQ(j["maxcmd"], 128);
  EXPECT_EQ(j["subnqn"], "nqn.2024-01.io.nvmeoe:print");
  EXPECT_EQ(j["tnvmcap"], 0);
  EXPECT_EQ(j["sqes"], 0x66);
  ASSERT_EQ(j["psds"].size(), 1u);
  EXPECT_EQ(j["psds"][0]["max_power"], 0);
  for (const char* key : {"ieee", "cmic", "oacs", "frmw", "lpa", "elpe", "kas", "sgls", "mnan", "maxdna", "iorcsz",
                          "icdoff", "fcatt", "msdbd", "ofcs"})
    EXPECT_TRUE(j.contains(key)) << key;
}

TEST(AdminPrintTest, ShortOrHostileDataReadsAsZeroes) {
  std::vector<uint8_t> tiny(10, 0xff);
  std::string text = format_id_ctrl(tiny);
  EXPECT_TRUE(has_line(text, "vid       : 0xffff"));
  EXPECT_TRUE(has_line(text, "mdts      : 0"));
  // Control characters in a controller's strings never reach the terminal.
  auto b = identify_controller();
  b[idctl::kSn] = '\x1b';
  EXPECT_TRUE(has_line(format_id_ctrl(b), "sn        : .ERIAL42            "));
  // An npss of 255 prints at most the 32 descriptors the structure has.
  b[263] = 255;
  EXPECT_EQ(id_ctrl_json(b)["psds"].size(), 32u);
}

TEST(AdminPrintTest, IdentifyNamespaceAsNvmeCli) {
  IdentifyNamespace ns;
  ns.nsze = ns.ncap = ns.nuse = 40960;
  ns.nsfeat = 1;
  ns.dlfeat = 9;
  ns.nguid[0] = 0xab;
  std::vector<uint8_t> b(kIdentifySize);
  encode_identify_namespace(ns, b.data());
  std::string text = format_id_ns(b, 2);
  EXPECT_EQ(text.rfind("NVME Identify Namespace 2:\nnsze    : 0xa000\nncap    : 0xa000\n", 0), 0u) << text;
  EXPECT_TRUE(has_line(text, "dlfeat  : 9"));
  EXPECT_TRUE(has_line(text, "nsattr\t: 0"));
  EXPECT_TRUE(has_line(text, "nguid   : ab000000000000000000000000000000"));
  EXPECT_TRUE(has_line(text, "lbaf  0 : ms:0   lbads:9  rp:0 (in use)"));
  auto j = id_ns_json(b);
  EXPECT_EQ(j["nsze"], 40960);
  EXPECT_EQ(j["nguid"], "ab000000000000000000000000000000");
  ASSERT_EQ(j["lbafs"].size(), 1u);
  EXPECT_EQ(j["lbafs"][0]["ds"], 9);
  EXPECT_EQ(j["lbafs"][0]["in_use"], 1);
}

TEST(AdminPrintTest, NamespaceAndControllerLists) {
  std::vector<uint8_t> b(kIdentifySize);
  encode_active_ns_list({1, 2, 9}, 0, b.data());
  EXPECT_EQ(format_ns_list(b, false), "NVME Namespace List:\n[   0]:0x1\n[   1]:0x2\n[   2]:0x9\n");
  EXPECT_EQ(format_ns_list(b, true).substr(21),
            "Identifier    0: NSID 0x1\nIdentifier    1: NSID 0x2\nIdentifier    2: NSID 0x9\n");
  EXPECT_EQ(ns_list_json(b).dump(), R"({"nsid_list":[{"nsid":1},{"nsid":2},{"nsid":9}]})");
  encode_controller_list({1, 4, 6}, 2, b.data());
  EXPECT_EQ(format_ctrl_list(b), "num of ctrls present: 2\n[   0]:0x4\n[   1]:0x6\n");
  EXPECT_EQ(ctrl_list_json(b).dump(), R"({"num_ctrl":2,"ctrl_list":[{"ctrl_id":4},{"ctrl_id":6}]})");
}

TEST(AdminPrintTest, SmartLogAsNvmeCli) {
  SmartLog s;
  s.data_units_written = 2;
  s.host_writes = 42;
  s.temperature_k = 300;
  s.error_log_entries = 3;
  std::vector<uint8_t> b(kSmartLogSize);
  encode_smart_log(s, b.data());
  std::string text = format_smart_log(b, 0xffffffff, "nvmeoe0", false);
  EXPECT_EQ(text.rfind("Smart Log for NVME device:nvmeoe0 namespace-id:ffffffff\ncritical_warning\t\t\t: 0\n", 0), 0u)
      << text;
  EXPECT_TRUE(has_line(text, "temperature\t\t\t\t: 27 °C (300 K, 80 °F)"));
  EXPECT_TRUE(has_line(text, "available_spare\t\t\t\t: 100%"));
  EXPECT_TRUE(has_line(text, "Data Units Written\t\t\t: 2 (1.02 MB)"));
  EXPECT_TRUE(has_line(text, "host_write_commands\t\t\t: 42"));
  EXPECT_TRUE(has_line(text, "num_err_log_entries\t\t\t: 3"));
  EXPECT_FALSE(has_line(text, "      Available Spare[0]             : 0"));
  EXPECT_TRUE(has_line(format_smart_log(b, 1, "nvmeoe0", true), "      Available Spare[0]             : 0"));
  auto j = smart_log_json(b, false);
  EXPECT_EQ(j["temperature"], 300);
  EXPECT_EQ(j["data_units_written"], 2);
  EXPECT_EQ(j["host_write_commands"], 42);
  EXPECT_EQ(j["num_err_log_entries"], 3);
  EXPECT_EQ(smart_log_json(b, true)["critical_warning"]["value"], 0);
}

TEST(AdminPrintTest, ErrorAndFirmwareLogs) {
  std::vector<uint8_t> b(2 * kErrorLogEntrySize);
  encode_error_log_entry(ErrorLogEntry{5, 1, 0x22, sc::kLbaOutOfRange, 0x1000, 1}, b.data());
  std::string text = format_error_log(b, 2, "nvmeoe0");
  EXPECT_EQ(text.rfind("Error Log Entries for device:nvmeoe0 entries:2\n.................\n Entry[ 0]\n", 0), 0u)
      << text;
  EXPECT_TRUE(has_line(text, "error_count\t: 5"));
  EXPECT_TRUE(has_line(text, "cmdid\t\t: 0x22"));
  EXPECT_TRUE(has_line(text, "status_field\t: 0x80 (" + status_name(sc::kLbaOutOfRange) + ")"));
  EXPECT_TRUE(has_line(text, "lba\t\t: 0x1000"));
  auto j = error_log_json(b, 2);
  ASSERT_EQ(j["errors"].size(), 2u);
  EXPECT_EQ(j["errors"][0]["status_field"], 0x80);
  EXPECT_EQ(j["errors"][0]["parm_error_location"], 0xffff);

  std::vector<uint8_t> fw(kFirmwareLogSize);
  encode_firmware_log("0.1.0", fw.data());
  EXPECT_EQ(format_fw_log(fw, "nvmeoe0"),
            "Firmware Log for device:nvmeoe0\nafi  : 0x1\nfrs1 : 0x202020302e312e30 (0.1.0...)\n");
  EXPECT_EQ(fw_log_json(fw, "nvmeoe0").dump(),
            R"j({"nvmeoe0":{"Active Firmware Slot (afi)":1,"Firmware Rev Slot 1":"2314885599773929008 (0.1.0...)"}})j");
}

TEST(AdminPrintTest, HexDumpAsNvmeCliD) {
  // The last row's ASCII column sits one place right of the full rows' (nvme-cli pads with
  // " %*s " of 3 characters per missing byte).
  std::vector<uint8_t> b = {'n', 'v', 'm', 'e', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 'o', 'e'};
  EXPECT_EQ(format_hex_dump(b),
            "       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f\n"
            "0000: 6e 76 6d 65 00 01 02 03 04 05 06 07 08 09 0a 0b \"nvme............\"\n"
            "0010: 6f 65" +
                std::string(44, ' ') + "\"oe\"\n");
}

TEST(AdminPrintTest, FeatureLinesAsNvmeCli) {
  EXPECT_EQ(format_get_feature(0x0f, 0, 5000), "get-feature:0x0f (Keep Alive Timer), Current value:0x00001388\n");
  EXPECT_EQ(format_get_feature(0x07, 1, 0), "get-feature:0x07 (Number of Queues), Default value:00000000\n");
  EXPECT_EQ(format_get_feature(0xee, 3, 4), "get-feature:0xee (Unknown), Supported capabilities value:0x00000004\n");
  EXPECT_EQ(format_feature_fields(0x07, 0x00030001),
            "\tNumber of IO Completion Queues Allocated (NCQA): 4\n"
            "\tNumber of IO Submission Queues Allocated (NSQA): 2\n");
  EXPECT_EQ(format_select_result(4), "  Feature is changeable\n");
  EXPECT_EQ(format_set_feature(0x0f, 10000, 0, false),
            "set-feature:0x0f (Keep Alive Timer), value:0x00002710, cdw12:00000000, save:0\n");
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  add_feature_json(doc, 0x0f, 0, 5000);
  EXPECT_EQ(doc.dump(), R"({"feature: 0x0f":[{"name":"Keep Alive Timer","Current":"0x00001388"}],)"
                        R"("Feature: 0x0f":[{"Keep Alive Timeout (KATO) in milliseconds":5000}]})");
}

TEST(AdminPrintTest, RegistersAndWideCounters) {
  ControllerRegisters r{0x200f0103ffULL, 0x20000, 0x460001, 1, std::nullopt};
  EXPECT_EQ(format_registers(r), "cap     : 0x200f0103ff\nversion : 0x20000\ncc      : 0x460001\ncsts    : 0x1\n");
  EXPECT_EQ(registers_json(r).dump(), R"({"cap":137690678271,"vs":131072,"cc":4587521,"csts":1})");
  std::vector<uint8_t> b(16);
  b[8] = 1;  // 2^64
  EXPECT_EQ(Bytes(b).u128_text(0), "18446744073709551616");
  nlohmann::ordered_json j;
  add_u128_json(j, "big", Bytes(b), 0);
  EXPECT_EQ(j["big"], "18446744073709551616");
}

}  // namespace
}  // namespace nvmeoe::cli
