// Identify printers: Identify Controller and Namespace, the namespace and controller lists, in
// nvme-cli 2.16's layout (stdout_id_ctrl, json_nvme_id_ctrl, stdout_id_ns, json_nvme_id_ns, ...).
// The field tables hold the spec's byte offsets (NVMe Base 2.0, figures 275 and 280) and the
// number format nvme-cli prints each field with; text and JSON are both rendered from them.
#include <cstdarg>
#include <cstdio>

#include "cli/admin_print.h"
#include "cli/admin_print_util.h"

namespace nvmeoe::cli {

namespace {

using nlohmann::ordered_json;

// How a field is printed: "%#x", "%d", a space-padded string, the 3-byte IEEE OUI as 6 hex digits,
// a UUID, or a 128-bit counter in decimal. JSON: numbers, except text and UUID.
enum class FieldFormat { kHex, kDec, kText, kIeee, kUuid, kU128 };

struct Field {
  const char* name;
  uint16_t offset;
  uint16_t size;
  FieldFormat format;
};

// nvme-cli 2.16 stdout_id_ctrl() prints these, in this order; json_nvme_id_ctrl() the same keys.
constexpr Field kIdCtrlFields[] = {
    {"vid", 0, 2, FieldFormat::kHex},         {"ssvid", 2, 2, FieldFormat::kHex},
    {"sn", 4, 20, FieldFormat::kText},        {"mn", 24, 40, FieldFormat::kText},
    {"fr", 64, 8, FieldFormat::kText},        {"rab", 72, 1, FieldFormat::kDec},
    {"ieee", 73, 3, FieldFormat::kIeee},      {"cmic", 76, 1, FieldFormat::kHex},
    {"mdts", 77, 1, FieldFormat::kDec},       {"cntlid", 78, 2, FieldFormat::kHex},
    {"ver", 80, 4, FieldFormat::kHex},        {"rtd3r", 84, 4, FieldFormat::kHex},
    {"rtd3e", 88, 4, FieldFormat::kHex},      {"oaes", 92, 4, FieldFormat::kHex},
    {"ctratt", 96, 4, FieldFormat::kHex},     {"rrls", 100, 2, FieldFormat::kHex},
    {"bpcap", 102, 1, FieldFormat::kHex},     {"nssl", 104, 4, FieldFormat::kHex},
    {"plsi", 110, 1, FieldFormat::kDec},      {"cntrltype", 111, 1, FieldFormat::kDec},
    {"fguid", 112, 16, FieldFormat::kUuid},   {"crdt1", 128, 2, FieldFormat::kDec},
    {"crdt2", 130, 2, FieldFormat::kDec},     {"crdt3", 132, 2, FieldFormat::kDec},
    {"crcap", 134, 1, FieldFormat::kDec},     {"nvmsr", 253, 1, FieldFormat::kDec},
    {"vwci", 254, 1, FieldFormat::kDec},      {"mec", 255, 1, FieldFormat::kDec},
    {"oacs", 256, 2, FieldFormat::kHex},      {"acl", 258, 1, FieldFormat::kDec},
    {"aerl", 259, 1, FieldFormat::kDec},      {"frmw", 260, 1, FieldFormat::kHex},
    {"lpa", 261, 1, FieldFormat::kHex},       {"elpe", 262, 1, FieldFormat::kDec},
    {"npss", 263, 1, FieldFormat::kDec},      {"avscc", 264, 1, FieldFormat::kHex},
    {"apsta", 265, 1, FieldFormat::kHex},     {"wctemp", 266, 2, FieldFormat::kDec},
    {"cctemp", 268, 2, FieldFormat::kDec},    {"mtfa", 270, 2, FieldFormat::kDec},
    {"hmpre", 272, 4, FieldFormat::kDec},     {"hmmin", 276, 4, FieldFormat::kDec},
    {"tnvmcap", 280, 16, FieldFormat::kU128}, {"unvmcap", 296, 16, FieldFormat::kU128},
    {"rpmbs", 312, 4, FieldFormat::kHex},     {"edstt", 316, 2, FieldFormat::kDec},
    {"dsto", 318, 1, FieldFormat::kDec},      {"fwug", 319, 1, FieldFormat::kDec},
    {"kas", 320, 2, FieldFormat::kDec},       {"hctma", 322, 2, FieldFormat::kHex},
    {"mntmt", 324, 2, FieldFormat::kDec},     {"mxtmt", 326, 2, FieldFormat::kDec},
    {"sanicap", 328, 4, FieldFormat::kHex},   {"hmminds", 332, 4, FieldFormat::kDec},
    {"hmmaxd", 336, 2, FieldFormat::kDec},    {"nsetidmax", 338, 2, FieldFormat::kDec},
    {"endgidmax", 340, 2, FieldFormat::kDec}, {"anatt", 342, 1, FieldFormat::kDec},
    {"anacap", 343, 1, FieldFormat::kDec},    {"anagrpmax", 344, 4, FieldFormat::kDec},
    {"nanagrpid", 348, 4, FieldFormat::kDec}, {"pels", 352, 4, FieldFormat::kDec},
    {"domainid", 356, 2, FieldFormat::kDec},  {"kpioc", 358, 1, FieldFormat::kDec},
    {"mptfawr", 360, 2, FieldFormat::kDec},   {"megcap", 368, 16, FieldFormat::kU128},
    {"tmpthha", 384, 1, FieldFormat::kHex},   {"cqt", 386, 2, FieldFormat::kDec},
    {"sqes", 512, 1, FieldFormat::kHex},      {"cqes", 513, 1, FieldFormat::kHex},
    {"maxcmd", 514, 2, FieldFormat::kDec},    {"nn", 516, 4, FieldFormat::kDec},
    {"oncs", 520, 2, FieldFormat::kHex},      {"fuses", 522, 2, FieldFormat::kHex},
    {"fna", 524, 1, FieldFormat::kHex},       {"vwc", 525, 1, FieldFormat::kHex},
    {"awun", 526, 2, FieldFormat::kDec},      {"awupf", 528, 2, FieldFormat::kDec},
    {"icsvscc", 530, 1, FieldFormat::kDec},   {"nwpc", 531, 1, FieldFormat::kDec},
    {"acwu", 532, 2, FieldFormat::kDec},      {"ocfs", 534, 2, FieldFormat::kHex},
    {"sgls", 536, 4, FieldFormat::kHex},      {"mnan", 540, 4, FieldFormat::kDec},
    {"maxdna", 544, 16, FieldFormat::kU128},  {"maxcna", 560, 4, FieldFormat::kDec},
    {"oaqd", 564, 4, FieldFormat::kDec},      {"rhiri", 568, 1, FieldFormat::kDec},
    {"hirt", 569, 1, FieldFormat::kDec},      {"cmmrtd", 570, 2, FieldFormat::kDec},
    {"nmmrtd", 572, 2, FieldFormat::kDec},    {"minmrtg", 574, 1, FieldFormat::kDec},
    {"maxmrtg", 575, 1, FieldFormat::kDec},   {"trattr", 576, 1, FieldFormat::kDec},
    {"mcudmq", 578, 2, FieldFormat::kDec},    {"mnsudmq", 580, 2, FieldFormat::kDec},
    {"mcmr", 582, 2, FieldFormat::kDec},      {"nmcmr", 584, 2, FieldFormat::kDec},
    {"mcdqpc", 586, 2, FieldFormat::kDec},    {"subnqn", 768, 256, FieldFormat::kText},
    {"ioccsz", 1792, 4, FieldFormat::kDec},   {"iorcsz", 1796, 4, FieldFormat::kDec},
    {"icdoff", 1800, 2, FieldFormat::kDec},   {"fcatt", 1802, 1, FieldFormat::kHex},
    {"msdbd", 1803, 1, FieldFormat::kDec},    {"ofcs", 1804, 2, FieldFormat::kDec},
};

constexpr size_t kPsdOffset = 2048, kPsdSize = 32;

std::string field_text(const Bytes& b, const Field& f) {
  switch (f.format) {
    case FieldFormat::kHex:
      return strprintf("%#llx", static_cast<unsigned long long>(b.uint(f.offset, f.size)));
    case FieldFormat::kDec:
      return strprintf("%llu", static_cast<unsigned long long>(b.uint(f.offset, f.size)));
    case FieldFormat::kText:
      return b.text(f.offset, f.size, /*stop_at_nul=*/true);
    case FieldFormat::kIeee:
      return strprintf("%02x%02x%02x", b.u8(f.offset + 2), b.u8(f.offset + 1), b.u8(f.offset));
    case FieldFormat::kUuid:
      return b.uuid(f.offset);
    case FieldFormat::kU128:
      return b.u128_text(f.offset);
  }
  return "";
}

void add_field_json(ordered_json& j, const Bytes& b, const Field& f) {
  switch (f.format) {
    case FieldFormat::kText:
      j[f.name] = b.text(f.offset, f.size, true);
      break;
    case FieldFormat::kUuid:
      j[f.name] = b.uuid(f.offset);
      break;
    case FieldFormat::kIeee:
      j[f.name] = uint32_t(b.u8(f.offset + 2)) << 16 | uint32_t(b.u8(f.offset + 1)) << 8 | b.u8(f.offset);
      break;
    case FieldFormat::kU128:
      add_u128_json(j, f.name, b, f.offset);
      break;
    default:
      j[f.name] = b.uint(f.offset, f.size);
  }
}

// nvme-cli print_ps_power_and_scale(): the scale is the upper two bits of the byte.
std::string power_and_scale(uint16_t power, uint8_t scale_byte) {
  switch ((scale_byte >> 6) & 0x3) {
    case 0:
      return "-";
    case 1:
      return strprintf("%01u.%04uW", power / 10000, power % 10000);
    case 2:
      return strprintf("%01u.%02uW", power / 100, power % 100);
    default:
      return "reserved";
  }
}

const char* psd_workload(uint8_t apws) {
  switch (apws & 0x7) {
    case 0:
      return "-";
    case 1:
      return "1MiB 32 RW, 30s idle";
    case 2:
      return "80K 128KiB SW";
    default:
      return "reserved";
  }
}

const char* time_scale(uint8_t ts) {
  static const char* kScales[] = {"1 microsecond",    "10 microseconds",  "100 microseconds", "1 millisecond",
                                  "10 milliseconds",  "100 milliseconds", "1 second",         "10 seconds",
                                  "100 seconds",      "1,000 seconds",    "10,000 seconds",   "100,000 seconds",
                                  "1,000,000 seconds"};
  return ts < sizeof kScales / sizeof kScales[0] ? kScales[ts] : "Reserved";
}

std::string psd_time(const char* desc, uint8_t time, uint8_t ts) {
  std::string value = time == 0 ? "-" : time <= 99 ? strprintf("%d (unit: %s)", time, time_scale(ts)) : "reserved";
  return strprintf("%*s: %s\n", int(12 + std::string(desc).size()), desc, value.c_str());
}

}  // namespace

std::string format_id_ctrl(ByteSpan id) {
  Bytes b(id);
  std::string out = "NVME Identify Controller:\n";
  for (const Field& f : kIdCtrlFields) out += strprintf("%-10s: %s\n", f.name, field_text(b, f).c_str());
  const unsigned npss = b.u8(263);
  for (unsigned i = 0; i <= npss && i < 32; ++i) {
    const size_t p = kPsdOffset + i * kPsdSize;
    const uint16_t mp = b.u16(p);
    const uint8_t flags = b.u8(p + 3);
    out += strprintf("ps   %4u : mp:", i);
    out +=
        (flags & 0x1) ? strprintf("%01u.%04uW ", mp / 10000, mp % 10000) : strprintf("%01u.%02uW ", mp / 100, mp % 100);
    if (flags & 0x2) out += "non-";
    out += strprintf("operational enlat:%u exlat:%u rrt:%u rrl:%u\n            rwt:%u rwl:%u idle_power:", b.u32(p + 4),
                     b.u32(p + 8), b.u8(p + 12), b.u8(p + 13), b.u8(p + 14), b.u8(p + 15));
    out += power_and_scale(b.u16(p + 16), b.u8(p + 18));
    out += " active_power:" + power_and_scale(b.u16(p + 20), b.u8(p + 22));
    out += std::string("\n            active_power_workload:") + psd_workload(b.u8(p + 22)) + "\n";
    out += psd_time("emergency power fail recovery time", b.u8(p + 23), b.u8(p + 26) & 0xf);
    out += psd_time("forced quiescence vault time", b.u8(p + 24), b.u8(p + 26) >> 4);
    out += psd_time("emergency power fail vault time", b.u8(p + 25), b.u8(p + 27) & 0xf);
  }
  return out;
}

ordered_json id_ctrl_json(ByteSpan id) {
  Bytes b(id);
  ordered_json j;
  for (const Field& f : kIdCtrlFields) {
    if (std::string(f.name) == "subnqn" && b.text(f.offset, f.size, true).empty()) continue;  // as nvme-cli
    add_field_json(j, b, f);
  }
  ordered_json psds = ordered_json::array();
  const unsigned npss = b.u8(263);
  for (unsigned i = 0; i <= npss && i < 32; ++i) {
    const size_t p = kPsdOffset + i * kPsdSize;
    ordered_json s;
    s["max_power"] = b.u16(p);
    s["max_power_scale"] = b.u8(p + 3) & 0x1;
    s["non-operational_state"] = (b.u8(p + 3) & 0x2) ? 1 : 0;
    s["entry_lat"] = b.u32(p + 4);
    s["exit_lat"] = b.u32(p + 8);
    s["read_tput"] = b.u8(p + 12);
    s["read_lat"] = b.u8(p + 13);
    s["write_tput"] = b.u8(p + 14);
    s["write_lat"] = b.u8(p + 15);
    s["idle_power"] = b.u16(p + 16);
    s["idle_scale"] = b.u8(p + 18) >> 6;
    s["active_power"] = b.u16(p + 20);
    s["active_power_work"] = b.u8(p + 22) & 7;
    s["active_scale"] = b.u8(p + 22) >> 6;
    s["emerg_power_fail_recover_time"] = b.u8(p + 23);
    s["emerg_power_fail_recover_scale"] = b.u8(p + 26) & 0xf;
    s["force_quiesce_vault_time"] = b.u8(p + 24);
    s["force_quiesce_vault_scale"] = b.u8(p + 26) >> 4;
    s["emerg_power_fail_vault_time"] = b.u8(p + 25);
    s["emerg_power_fail_vault_scale"] = b.u8(p + 27) & 0xf;
    psds.push_back(std::move(s));
  }
  j["psds"] = std::move(psds);
  return j;
}

std::string format_id_ns(ByteSpan id, uint32_t nsid) {
  Bytes b(id);
  std::string out = strprintf("NVME Identify Namespace %u:\n", nsid);
  auto hex = [&](const char* name, uint64_t v) { out += strprintf("%-8s: %#llx\n", name, (unsigned long long)v); };
  auto dec = [&](const char* name, uint64_t v) { out += strprintf("%-8s: %llu\n", name, (unsigned long long)v); };
  hex("nsze", b.u64(0));
  hex("ncap", b.u64(8));
  hex("nuse", b.u64(16));
  const uint8_t nsfeat = b.u8(24);
  hex("nsfeat", nsfeat);
  dec("nlbaf", b.u8(25));
  hex("flbas", b.u8(26));
  hex("mc", b.u8(27));
  hex("dpc", b.u8(28));
  hex("dps", b.u8(29));
  hex("nmic", b.u8(30));
  hex("rescap", b.u8(31));
  hex("fpi", b.u8(32));
  dec("dlfeat", b.u8(33));
  dec("nawun", b.u16(34));
  dec("nawupf", b.u16(36));
  dec("nacwu", b.u16(38));
  dec("nabsn", b.u16(40));
  dec("nabo", b.u16(42));
  dec("nabspf", b.u16(44));
  dec("noiob", b.u16(46));
  out += strprintf("%-8s: %s\n", "nvmcap", b.u128_text(48).c_str());
  if (nsfeat & 0x30) {
    dec("npwg", b.u16(64));
    dec("npwa", b.u16(66));
    if (nsfeat & 0x10) dec("npdg", b.u16(68));
    dec("npda", b.u16(70));
    dec("nows", b.u16(72));
  }
  dec("mssrl", b.u16(74));
  dec("mcl", b.u32(76));
  dec("msrc", b.u8(80));
  dec("kpios", b.u8(81));
  dec("nulbaf", b.u8(82));
  dec("kpiodaag", b.u32(84));
  dec("anagrpid", b.u32(92));
  out += strprintf("nsattr\t: %u\n", b.u8(99));  // nvme-cli's own tab
  dec("nvmsetid", b.u16(100));
  dec("endgid", b.u16(102));
  out += "nguid   : " + b.hex(104, 16) + "\n";
  out += "eui64   : " + b.hex(120, 8) + "\n";
  const unsigned in_use = (b.u8(26) & 0xf) | ((b.u8(26) >> 1) & 0x30);
  const unsigned formats = unsigned(b.u8(25)) + b.u8(82);
  for (unsigned i = 0; i <= formats && i < 64; ++i) {
    const size_t p = 128 + 4 * i;
    out += strprintf("lbaf %2u : ms:%-3u lbads:%-2u rp:%#x %s\n", i, b.u16(p), b.u8(p + 2), b.u8(p + 3) & 0x3,
                     i == in_use ? "(in use)" : "");
  }
  return out;
}

ordered_json id_ns_json(ByteSpan id) {
  Bytes b(id);
  ordered_json j;
  const uint8_t nsfeat = b.u8(24);
  j["nsze"] = b.u64(0);
  j["ncap"] = b.u64(8);
  j["nuse"] = b.u64(16);
  j["nsfeat"] = nsfeat;
  j["nlbaf"] = b.u8(25);
  j["flbas"] = b.u8(26);
  j["mc"] = b.u8(27);
  j["dpc"] = b.u8(28);
  j["dps"] = b.u8(29);
  j["nmic"] = b.u8(30);
  j["rescap"] = b.u8(31);
  j["fpi"] = b.u8(32);
  j["dlfeat"] = b.u8(33);
  j["nawun"] = b.u16(34);
  j["nawupf"] = b.u16(36);
  j["nacwu"] = b.u16(38);
  j["nabsn"] = b.u16(40);
  j["nabo"] = b.u16(42);
  j["nabspf"] = b.u16(44);
  j["noiob"] = b.u16(46);
  add_u128_json(j, "nvmcap", b, 48);
  if (nsfeat & 0x30) {
    j["npwg"] = b.u16(64);
    j["npwa"] = b.u16(66);
    if (nsfeat & 0x10) j["npdg"] = b.u16(68);
    j["npda"] = b.u16(70);
    j["nows"] = b.u16(72);
  }
  j["mssrl"] = b.u16(74);
  j["mcl"] = b.u32(76);
  j["msrc"] = b.u8(80);
  j["kpios"] = b.u8(81);
  j["nulbaf"] = b.u8(82);
  j["kpiodaag"] = b.u32(84);
  j["anagrpid"] = b.u32(92);
  j["nsattr"] = b.u8(99);
  j["nvmsetid"] = b.u16(100);
  j["endgid"] = b.u16(102);
  j["nguid"] = b.hex(104, 16);
  j["eui64"] = b.hex(120, 8);
  const unsigned in_use = (b.u8(26) & 0xf) | ((b.u8(26) >> 1) & 0x30);
  ordered_json lbafs = ordered_json::array();
  for (unsigned i = 0; i <= b.u8(25) && i < 64; ++i) {
    const size_t p = 128 + 4 * i;
    lbafs.push_back(ordered_json{{"lbaf", i},
                                 {"ms", b.u16(p)},
                                 {"ds", b.u8(p + 2)},
                                 {"rp", b.u8(p + 3) & 0x3},
                                 {"in_use", i == in_use ? 1 : 0}});
  }
  j["lbafs"] = std::move(lbafs);
  j["vs"] = ordered_json::array();
  return j;
}

std::string format_ns_list(ByteSpan list, bool verbose) {
  Bytes b(list);
  std::string out = "NVME Namespace List:\n";
  for (unsigned i = 0; i < 1024; ++i) {
    uint32_t nsid = b.u32(4 * i);
    if (!nsid) continue;
    out += verbose ? strprintf("Identifier %4u: NSID %#x\n", i, nsid) : strprintf("[%4u]:%#x\n", i, nsid);
  }
  return out;
}

ordered_json ns_list_json(ByteSpan list) {
  Bytes b(list);
  ordered_json ids = ordered_json::array();
  for (unsigned i = 0; i < 1024; ++i)
    if (uint32_t nsid = b.u32(4 * i)) ids.push_back(ordered_json{{"nsid", nsid}});
  return ordered_json{{"nsid_list", std::move(ids)}};
}

std::string format_ctrl_list(ByteSpan list) {
  Bytes b(list);
  const unsigned num = b.u16(0);
  std::string out = strprintf("num of ctrls present: %u\n", num);
  for (unsigned i = 0; i < num && i < 2047; ++i) out += strprintf("[%4u]:%#x\n", i, b.u16(2 + 2 * i));
  return out;
}

ordered_json ctrl_list_json(ByteSpan list) {
  Bytes b(list);
  const unsigned num = b.u16(0);
  ordered_json ids = ordered_json::array();
  for (unsigned i = 0; i < num && i < 2047; ++i) ids.push_back(ordered_json{{"ctrl_id", b.u16(2 + 2 * i)}});
  return ordered_json{{"num_ctrl", num}, {"ctrl_list", std::move(ids)}};
}

}  // namespace nvmeoe::cli
