// Log page, feature, register and subsystem printers in nvme-cli 2.16's layout (stdout_smart_log,
// stdout_error_log, stdout_fw_log, d(), stdout_feature_show, stdout_ctrl_registers,
// stdout_subsystem and their JSON counterparts), and the reader helpers of admin_print_util.h.
#include <cstring>

#include "cli/admin_print.h"
#include "cli/admin_print_util.h"
#include "cli/args.h"
#include "cli/size_format.h"
#include "nvme/spec.h"

namespace nvmeoe::cli {

using nlohmann::ordered_json;

std::string strprintf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  return big;
}

std::string Bytes::text(size_t off, size_t width, bool stop_at_nul) const {
  std::string s;
  for (size_t i = 0; i < width; ++i) {
    char c = static_cast<char>(u8(off + i));
    if (c == '\0' && stop_at_nul) break;
    // The controller's bytes go to a terminal: anything but printable ASCII shows as '.'.
    s += (c >= ' ' && c <= '~') ? c : '.';
  }
  return s;
}

std::string Bytes::hex(size_t off, size_t n) const {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += strprintf("%02x", u8(off + i));
  return s;
}

std::string Bytes::uuid(size_t off) const {
  return hex(off, 4) + "-" + hex(off + 4, 2) + "-" + hex(off + 6, 2) + "-" + hex(off + 8, 2) + "-" + hex(off + 10, 6);
}

std::string Bytes::u128_text(size_t off) const {
  // Repeated division of the four 32-bit words by 10, most significant first.
  uint32_t w[4] = {u32(off + 12), u32(off + 8), u32(off + 4), u32(off)};
  std::string digits;
  do {
    uint64_t rem = 0;
    for (uint32_t& x : w) {
      uint64_t cur = rem << 32 | x;
      x = uint32_t(cur / 10);
      rem = cur % 10;
    }
    digits.insert(digits.begin(), char('0' + rem));
  } while (w[0] | w[1] | w[2] | w[3]);
  return digits;
}

void add_u128_json(ordered_json& j, const char* key, const Bytes& b, size_t off) {
  if (b.u128_fits_u64(off))
    j[key] = b.u64(off);
  else
    j[key] = b.u128_text(off);
}

namespace {

// nvme-cli's temperature strings: kelvin to whole degrees, as its kelvin_to_celsius() does.
std::string degrees(unsigned kelvin) {
  long c = long(kelvin) - 273;
  long f = c * 9 / 5 + 32;
  return strprintf("%ld °C (%u K, %ld °F)", c, kelvin, f);
}

// uint128_t_to_si_string(value, 512000): "%.2Lf %sB" of value x 512000 bytes.
std::string data_units_si(const Bytes& b, size_t off) {
  double bytes = (double(b.u64(off + 8)) * 18446744073709551616.0 + double(b.u64(off))) * 512000.0;
  const char* suffix = suffix_si_get(&bytes);
  return strprintf("%.2f %sB", bytes, suffix);
}

}  // namespace

std::string format_smart_log(ByteSpan log, uint32_t nsid, const std::string& device, bool human) {
  Bytes b(log);
  std::string out = strprintf("Smart Log for NVME device:%s namespace-id:%x\n", device.c_str(), nsid);
  const uint8_t cw = b.u8(0);
  out += strprintf("critical_warning\t\t\t: %#x\n", cw);
  if (human) {
    out += strprintf("      Available Spare[0]             : %d\n", cw & 0x01);
    out += strprintf("      Temp. Threshold[1]             : %d\n", (cw & 0x02) >> 1);
    out += strprintf("      NVM subsystem Reliability[2]   : %d\n", (cw & 0x04) >> 2);
    out += strprintf("      Read-only[3]                   : %d\n", (cw & 0x08) >> 3);
    out += strprintf("      Volatile mem. backup failed[4] : %d\n", (cw & 0x10) >> 4);
    out += strprintf("      Persistent Mem. RO[5]          : %d\n", (cw & 0x20) >> 5);
  }
  out += "temperature\t\t\t\t: " + degrees(b.u16(1)) + "\n";
  out += strprintf("available_spare\t\t\t\t: %u%%\n", b.u8(3));
  out += strprintf("available_spare_threshold\t\t: %u%%\n", b.u8(4));
  out += strprintf("percentage_used\t\t\t\t: %u%%\n", b.u8(5));
  out += strprintf("endurance group critical warning summary: %#x\n", b.u8(6));
  out += "Data Units Read\t\t\t\t: " + b.u128_text(32) + " (" + data_units_si(b, 32) + ")\n";
  out += "Data Units Written\t\t\t: " + b.u128_text(48) + " (" + data_units_si(b, 48) + ")\n";
  out += "host_read_commands\t\t\t: " + b.u128_text(64) + "\n";
  out += "host_write_commands\t\t\t: " + b.u128_text(80) + "\n";
  out += "controller_busy_time\t\t\t: " + b.u128_text(96) + "\n";
  out += "power_cycles\t\t\t\t: " + b.u128_text(112) + "\n";
  out += "power_on_hours\t\t\t\t: " + b.u128_text(128) + "\n";
  out += "unsafe_shutdowns\t\t\t: " + b.u128_text(144) + "\n";
  out += "media_errors\t\t\t\t: " + b.u128_text(160) + "\n";
  out += "num_err_log_entries\t\t\t: " + b.u128_text(176) + "\n";
  out += strprintf("Warning Temperature Time\t\t: %u\n", b.u32(192));
  out += strprintf("Critical Composite Temperature Time\t: %u\n", b.u32(196));
  for (unsigned i = 0; i < 8; ++i) {
    unsigned t = b.u16(200 + 2 * i);
    if (t) out += strprintf("Temperature Sensor %u\t\t\t: %s\n", i + 1, degrees(t).c_str());
  }
  out += strprintf("Thermal Management T1 Trans Count\t: %u\n", b.u32(216));
  out += strprintf("Thermal Management T2 Trans Count\t: %u\n", b.u32(220));
  out += strprintf("Thermal Management T1 Total Time\t: %u\n", b.u32(224));
  out += strprintf("Thermal Management T2 Total Time\t: %u\n", b.u32(228));
  return out;
}

ordered_json smart_log_json(ByteSpan log, bool human) {
  Bytes b(log);
  ordered_json j;
  const uint8_t cw = b.u8(0);
  if (human) {
    j["critical_warning"] = ordered_json{{"value", cw},
                                         {"available_spare", cw & 1},
                                         {"temp_threshold", (cw & 2) >> 1},
                                         {"reliability_degraded", (cw & 4) >> 2},
                                         {"ro", (cw & 8) >> 3},
                                         {"vmbu_failed", (cw & 0x10) >> 4},
                                         {"pmr_ro", (cw & 0x20) >> 5}};
  } else {
    j["critical_warning"] = cw;
  }
  j["temperature"] = b.u16(1);
  j["avail_spare"] = b.u8(3);
  j["spare_thresh"] = b.u8(4);
  j["percent_used"] = b.u8(5);
  j["endurance_grp_critical_warning_summary"] = b.u8(6);
  static const struct {
    const char* key;
    size_t off;
  } kCounters[] = {{"data_units_read", 32},     {"data_units_written", 48},   {"host_read_commands", 64},
                   {"host_write_commands", 80}, {"controller_busy_time", 96}, {"power_cycles", 112},
                   {"power_on_hours", 128},     {"unsafe_shutdowns", 144},    {"media_errors", 160},
                   {"num_err_log_entries", 176}};
  for (const auto& c : kCounters) add_u128_json(j, c.key, b, c.off);
  j["warning_temp_time"] = b.u32(192);
  j["critical_comp_time"] = b.u32(196);
  for (unsigned i = 0; i < 8; ++i)
    if (unsigned t = b.u16(200 + 2 * i)) j["temperature_sensor_" + std::to_string(i + 1)] = t;
  j["thm_temp1_trans_count"] = b.u32(216);
  j["thm_temp2_trans_count"] = b.u32(220);
  j["thm_temp1_total_time"] = b.u32(224);
  j["thm_temp2_total_time"] = b.u32(228);
  return j;
}

std::string format_error_log(ByteSpan log, unsigned entries, const std::string& device) {
  Bytes b(log);
  std::string out = strprintf("Error Log Entries for device:%s entries:%u\n", device.c_str(), entries);
  out += ".................\n";
  for (unsigned i = 0; i < entries; ++i) {
    const size_t p = 64 * size_t(i);
    const uint16_t sf = b.u16(p + 12);
    const uint16_t status = sf >> 1;
    out += strprintf(" Entry[%2u]\n", i);
    out += ".................\n";
    out += strprintf("error_count\t: %llu\n", (unsigned long long)b.u64(p));
    out += strprintf("sqid\t\t: %u\n", b.u16(p + 8));
    out += strprintf("cmdid\t\t: %#x\n", b.u16(p + 10));
    out += strprintf("status_field\t: %#x (%s)\n", status, status_name(status).c_str());
    out += strprintf("phase_tag\t: %#x\n", sf & 0x1);
    out += strprintf("parm_err_loc\t: %#x\n", b.u16(p + 14));
    out += strprintf("lba\t\t: %#llx\n", (unsigned long long)b.u64(p + 16));
    out += strprintf("nsid\t\t: %#x\n", b.u32(p + 24));
    out += strprintf("vs\t\t: %u\n", b.u8(p + 28));
    out += strprintf(
        "trtype\t\t: %#x (%s)\n", b.u8(p + 29),
        b.u8(p + 29) ? "Reserved" : "The transport type is not indicated or the error is not transport related");
    out += strprintf("csi\t\t: %u\n", b.u8(p + 30));
    out += strprintf("opcode\t\t: %#x\n", b.u8(p + 31));
    out += strprintf("cs\t\t: %#llx\n", (unsigned long long)b.u64(p + 32));
    out += strprintf("trtype_spec_info: %#x\n", b.u16(p + 40));
    out += strprintf("log_page_version: %u\n", b.u8(p + 63));
    out += ".................\n";
  }
  return out;
}

ordered_json error_log_json(ByteSpan log, unsigned entries) {
  Bytes b(log);
  ordered_json errors = ordered_json::array();
  for (unsigned i = 0; i < entries; ++i) {
    const size_t p = 64 * size_t(i);
    errors.push_back(ordered_json{{"error_count", b.u64(p)},
                                  {"sqid", b.u16(p + 8)},
                                  {"cmdid", b.u16(p + 10)},
                                  {"status_field", b.u16(p + 12) >> 1},
                                  {"phase_tag", b.u16(p + 12) & 0x1},
                                  {"parm_error_location", b.u16(p + 14)},
                                  {"lba", b.u64(p + 16)},
                                  {"nsid", b.u32(p + 24)},
                                  {"vs", b.u8(p + 28)},
                                  {"trtype", b.u8(p + 29)},
                                  {"cs", b.u64(p + 32)},
                                  {"trtype_spec_info", b.u16(p + 40)}});
  }
  return ordered_json{{"errors", std::move(errors)}};
}

namespace {

// util_fw_to_string(): the 8 revision bytes, non-printable ones as '.'.
std::string fw_text(const Bytes& b, size_t off) {
  std::string s;
  for (size_t i = 0; i < 8; ++i) {
    char c = static_cast<char>(b.u8(off + i));
    s += (c >= '!' && c <= '~') ? c : '.';
  }
  return s;
}

}  // namespace

std::string format_fw_log(ByteSpan log, const std::string& device) {
  Bytes b(log);
  std::string out = strprintf("Firmware Log for device:%s\n", device.c_str());
  out += strprintf("afi  : %#x\n", b.u8(0));
  for (unsigned i = 0; i < 7; ++i) {
    const size_t off = 8 + 8 * size_t(i);
    if (!b.u8(off)) continue;
    out += strprintf("frs%u : %#016llx (%s)\n", i + 1, (unsigned long long)b.u64(off), fw_text(b, off).c_str());
  }
  return out;
}

ordered_json fw_log_json(ByteSpan log, const std::string& device) {
  Bytes b(log);
  ordered_json slots;
  slots["Active Firmware Slot (afi)"] = b.u8(0);
  for (unsigned i = 0; i < 7; ++i) {
    const size_t off = 8 + 8 * size_t(i);
    if (!b.u8(off)) continue;
    slots["Firmware Rev Slot " + std::to_string(i + 1)] =
        strprintf("%llu (%s)", (unsigned long long)b.u64(off), fw_text(b, off).c_str());
  }
  ordered_json j;
  j[device] = std::move(slots);
  return j;
}

std::string format_hex_dump(ByteSpan data) {
  constexpr size_t kWidth = 16;
  std::string out = "     ";
  for (int i = 0; i <= 15; ++i) out += strprintf("%3x", i);
  std::string ascii;
  size_t offset = 0, i = 0;
  for (; i < data.size(); ++i) {
    if (i % kWidth == 0) out += strprintf("\n%04zx:", offset);
    out += strprintf(" %02x", data[i]);
    ascii += (data[i] >= '!' && data[i] <= '~') ? char(data[i]) : '.';
    if ((i + 1) % kWidth == 0) {
      out += " \"" + ascii + "\"";
      offset += kWidth;
      ascii.clear();
    }
  }
  if (!ascii.empty()) {
    const size_t left = kWidth - i % kWidth;
    out += strprintf(" %*s \"%s\"", int(3 * left), "", ascii.c_str());
  }
  return out + "\n";
}

const char* feature_name(uint8_t fid) {
  static const char* kNames[] = {nullptr,
                                 "Arbitration",
                                 "Power Management",
                                 "LBA Range Type",
                                 "Temperature Threshold",
                                 "Error Recovery",
                                 "Volatile Write Cache",
                                 "Number of Queues",
                                 "Interrupt Coalescing",
                                 "Interrupt Vector Configuration",
                                 "Write Atomicity Normal",
                                 "Async Event Configuration",
                                 "Autonomous Power State Transition",
                                 "Host Memory Buffer",
                                 "Timestamp",
                                 "Keep Alive Timer",
                                 "Host Controlled Thermal Management",
                                 "Non-Operational Power State Config",
                                 "Read Recovery Level",
                                 "Predictable Latency Mode Config",
                                 "Predictable Latency Mode Window",
                                 "LBA Status Interval",
                                 "Host Behavior",
                                 "Sanitize",
                                 "Endurance Event Group Configuration",
                                 "I/O Command Set Profile",
                                 "Spinup Control",
                                 "Power Loss Signaling Config",
                                 "Performance Characteristics",
                                 "Flexible Direct Placement",
                                 "Flexible Direct Placement Events",
                                 "Namespace Admin Label",
                                 "Key Value Configuration",
                                 "Controller Data Queue"};
  if (fid < sizeof kNames / sizeof kNames[0] && kNames[fid]) return kNames[fid];
  switch (fid) {
    case 0x78:
      return "Embedded Management Controller Address";
    case 0x79:
      return "Host Management Agent Address";
    case 0x7d:
      return "Enhanced Controller Metadata";
    case 0x7e:
      return "Controller Metadata";
    case 0x7f:
      return "Namespace Metadata";
    case 0x80:
      return "Software Progress";
    case 0x81:
      return "Host Identifier";
    case 0x82:
      return "Reservation Notification Mask";
    case 0x83:
      return "Reservation Persistence";
    case 0x84:
      return "Namespace Write Protect";
    case 0x85:
      return "Boot Partition Write Protection Config";
  }
  return "Unknown";
}

const char* select_name(uint8_t sel) {
  switch (sel) {
    case 0:
      return "Current";
    case 1:
      return "Default";
    case 2:
      return "Saved";
    case 3:
      return "Supported capabilities";
  }
  return "Reserved";
}

std::string format_get_feature(uint8_t fid, uint8_t sel, uint32_t result) {
  return strprintf("get-feature:%#0*x (%s), %s value:%#0*x\n", fid ? 4 : 2, fid, feature_name(fid), select_name(sel),
                   result ? 10 : 8, result);
}

std::string format_feature_fields(uint8_t fid, uint32_t result) {
  switch (fid) {
    case 0x07:
      return strprintf("\tNumber of IO Completion Queues Allocated (NCQA): %u\n", (result >> 16) + 1) +
             strprintf("\tNumber of IO Submission Queues Allocated (NSQA): %u\n", (result & 0xffff) + 1);
    case 0x0f:
      return strprintf("\tKeep Alive Timeout (KATO) in milliseconds: %u\n", result);
    default:
      return "";
  }
}

std::string format_select_result(uint32_t result) {
  std::string out;
  if (result & 0x1) out += "  Feature is saveable\n";
  if (result & 0x2) out += "  Feature is per-namespace\n";
  if (result & 0x4) out += "  Feature is changeable\n";
  return out;
}

void add_feature_json(ordered_json& doc, uint8_t fid, uint8_t sel, uint32_t result) {
  ordered_json show;
  show["name"] = feature_name(fid);
  show[select_name(sel)] = strprintf("%#0*x", result ? 10 : 8, result);
  doc[strprintf("feature: %#0*x", fid ? 4 : 2, fid)] = ordered_json::array({std::move(show)});
  ordered_json fields = ordered_json::object();
  if (sel == 3) {
    ordered_json caps = ordered_json::array();
    if (result & 0x1) caps.push_back("saveable");
    if (result & 0x2) caps.push_back("per-namespace");
    if (result & 0x4) caps.push_back("changeable");
    doc[strprintf("Feature: %#0*x: select", fid ? 4 : 2, fid)] = std::move(caps);
    return;
  }
  if (fid == 0x07) {
    fields["Number of IO Completion Queues Allocated (NCQA)"] = (result >> 16) + 1;
    fields["Number of IO Submission Queues Allocated (NSQA)"] = (result & 0xffff) + 1;
  } else if (fid == 0x0f) {
    fields["Keep Alive Timeout (KATO) in milliseconds"] = result;
  }
  doc[strprintf("Feature: %#0*x", fid ? 4 : 2, fid)] = ordered_json::array({std::move(fields)});
}

std::string format_set_feature(uint8_t fid, uint64_t value, uint32_t cdw12, bool save) {
  return strprintf("set-feature:%#0*x (%s), value:%#0*llx, cdw12:%#0*x, save:%#x\n", fid ? 4 : 2, fid,
                   feature_name(fid), value ? 10 : 8, (unsigned long long)value, cdw12 ? 10 : 8, cdw12, save ? 1 : 0);
}

const char* register_name(uint32_t offset) {
  switch (offset) {
    case prop::kCap:
      return "Controller Capabilities";
    case prop::kVs:
      return "Version";
    case prop::kCc:
      return "Controller Configuration";
    case prop::kCsts:
      return "Controller Status";
    case prop::kNssr:
      return "NVM Subsystem Reset";
  }
  return "Unknown";
}

std::string format_registers(const ControllerRegisters& r) {
  std::string out;
  out += strprintf("%-8s: %#llx\n", "cap", (unsigned long long)r.cap);
  out += strprintf("%-8s: %#x\n", "version", r.vs);
  out += strprintf("%-8s: %#x\n", "cc", r.cc);
  out += strprintf("%-8s: %#x\n", "csts", r.csts);
  if (r.nssr) out += strprintf("%-8s: %#x\n", "nssr", *r.nssr);
  return out;
}

ordered_json registers_json(const ControllerRegisters& r) {
  ordered_json j;
  j["cap"] = r.cap;
  j["vs"] = r.vs;
  j["cc"] = r.cc;
  j["csts"] = r.csts;
  if (r.nssr) j["nssr"] = *r.nssr;
  return j;
}

namespace {

// Subsystems in order of first appearance, named like nvme-cli's nvme-subsysN (as `list -v`).
struct Subsys {
  std::string name, nqn, hostnqn;
  std::vector<const ControllerModel*> controllers;
};

std::vector<Subsys> subsystems_of(const std::vector<ControllerModel>& controllers) {
  std::vector<Subsys> out;
  for (const auto& c : controllers) {
    Subsys* s = nullptr;
    for (auto& e : out)
      if (e.nqn == c.subnqn && e.hostnqn == c.hostnqn) s = &e;
    if (!s) {
      out.push_back({"nvmeoe-subsys" + std::to_string(out.size()), c.subnqn, c.hostnqn, {}});
      s = &out.back();
    }
    s->controllers.push_back(&c);
  }
  return out;
}

std::string address_of(const ControllerModel& c) {
  return "traddr=" + c.target_mac + ",trsvcid=" + strprintf("0x%04x", c.ethertype) + ",host_iface=" + c.iface;
}

}  // namespace

std::string format_list_subsys(const std::vector<ControllerModel>& controllers, bool verbose) {
  std::string out;
  bool first = true;
  for (const auto& s : subsystems_of(controllers)) {
    if (!first) out += "\n";
    first = false;
    const int len = int(s.name.size());
    out += s.name + " - NQN=" + s.nqn + "\n";
    out += strprintf("%*s   hostnqn=%s\n", len, " ", s.hostnqn.c_str());
    out += strprintf("%*s   iopolicy=%s\n", len, " ", "numa");
    if (verbose) {
      const ControllerModel& c = *s.controllers.front();
      out += strprintf("%*s   model=%s\n", len, " ", c.model.c_str());
      out += strprintf("%*s   serial=%s\n", len, " ", c.serial.c_str());
      out += strprintf("%*s   firmware=%s\n", len, " ", c.firmware.c_str());
      out += strprintf("%*s   type=%s\n", len, " ", "nvm");
    }
    out += "\\\n";
    for (const ControllerModel* c : s.controllers)
      out += " +- " + c->name + " eth " + address_of(*c) + " " + c->state + "\n";
  }
  return out;
}

ordered_json list_subsys_json(const std::vector<ControllerModel>& controllers, bool verbose) {
  // One host entry per host NQN, as libnvme's tree has one host per NQN.
  ordered_json hosts = ordered_json::array();
  for (const auto& s : subsystems_of(controllers)) {
    ordered_json* host = nullptr;
    for (auto& h : hosts)
      if (h["HostNQN"] == s.hostnqn) host = &h;
    if (!host) {
      hosts.push_back(ordered_json{{"HostNQN", s.hostnqn}, {"Subsystems", ordered_json::array()}});
      host = &hosts.back();
    }
    ordered_json sub;
    sub["Name"] = s.name;
    sub["NQN"] = s.nqn;
    if (verbose) {
      const ControllerModel& c = *s.controllers.front();
      sub["Model"] = c.model;
      sub["Serial"] = c.serial;
      sub["Firmware"] = c.firmware;
      sub["IOPolicy"] = "numa";
      sub["Type"] = "nvm";
    }
    ordered_json paths = ordered_json::array();
    for (const ControllerModel* c : s.controllers)
      paths.push_back(
          ordered_json{{"Name", c->name}, {"Transport", "eth"}, {"Address", address_of(*c)}, {"State", c->state}});
    sub["Paths"] = std::move(paths);
    (*host)["Subsystems"].push_back(std::move(sub));
  }
  return hosts;
}

}  // namespace nvmeoe::cli
