-- Wireshark dissector for nvmeoe, NVMe over raw Ethernet (docs/PROTOCOL.md, version 2).
--
-- Usage:  wireshark -X lua_script:dissector/nvmeoe.lua capture.pcap
--         tshark -r capture.pcap -X lua_script:dissector/nvmeoe.lua -V
-- or copy this file to ~/.local/lib/wireshark/plugins/.
--
-- Decodes the 12-byte frame header and every segment of a packed frame as its own subtree: Connect
-- Request/Response, Command (SQE with opcode names, Fabrics Connect/Property Get/Set, in-capsule
-- data and connect data), Response (CQE with status names), Data (LAST, SUCCESS), Retransmit
-- Request ranges, Terminate reasons and Discover Query/Reply. Checks the header CRC (which covers
-- the Ethernet header too) and the data digest. Matches Responses (or the SUCCESS Data segment
-- that stands for one) to Commands by association (host MAC, target MAC, qid, nonce), CID and
-- generation, with "response in"/"request in" links and the service time. Frames of protocol
-- version 1 are named as such. Malformed or truncated input gives expert info, never a Lua error.
-- Written for Wireshark 4.0 (Lua 5.2, bit32).

local nvmeoe = Proto("nvmeoe", "NVMe over Ethernet")

local ETH_DEFAULT = 0x88b5
local FRAME_HEADER = 12   -- after the Ethernet header
local SEG_HEADER = 20     -- before each segment's metadata
local MAX_SEGMENTS = 64

-- ---------------------------------------------------------------- value names

local kind_names = {
  [1] = "Connect Request", [2] = "Connect Response", [3] = "Command", [4] = "Response", [5] = "Data",
  [6] = "Retransmit Request", [7] = "Terminate", [8] = "Discover Query", [9] = "Discover Reply",
}

local terminate_reasons = {
  [1] = "Host Disconnect", [2] = "Unknown Association", [3] = "Keep-Alive Timeout", [4] = "Protocol Error",
  [5] = "Target Shutdown", [6] = "Configuration Change",
}

local connect_results = {
  [0] = "Accepted", [1] = "Unsupported Version", [2] = "Invalid Queue", [3] = "No Resources",
  [4] = "Invalid Parameters",
}

local admin_opcodes = {
  [0x02] = "Get Log Page", [0x06] = "Identify", [0x08] = "Abort", [0x09] = "Set Features", [0x0a] = "Get Features",
  [0x0c] = "Asynchronous Event Request", [0x18] = "Keep Alive", [0x7f] = "Fabrics",
}

local io_opcodes = {
  [0x00] = "Flush", [0x01] = "Write", [0x02] = "Read", [0x08] = "Write Zeroes", [0x09] = "Dataset Management",
}

local fabrics_types = {
  [0x00] = "Property Set", [0x01] = "Connect", [0x04] = "Property Get", [0x05] = "Authentication Send",
  [0x06] = "Authentication Receive", [0x08] = "Disconnect",
}

-- Status in the Linux layout (SCT << 8 | SC), as src/nvme/spec.cc names them.
local status_names = {
  [0x0000] = "Success", [0x0001] = "Invalid Command Opcode", [0x0002] = "Invalid Field in Command",
  [0x0003] = "Command ID Conflict", [0x0004] = "Data Transfer Error", [0x0006] = "Internal Error",
  [0x0007] = "Command Abort Requested", [0x000b] = "Invalid Namespace or Format",
  [0x000c] = "Command Sequence Error", [0x000f] = "Data SGL Length Invalid",
  [0x0011] = "SGL Descriptor Type Invalid", [0x0020] = "Namespace is Write Protected",
  [0x0022] = "Transient Transport Error", [0x0080] = "LBA Out of Range", [0x0081] = "Capacity Exceeded",
  [0x0082] = "Namespace Not Ready", [0x0101] = "Invalid Queue Identifier", [0x0102] = "Invalid Queue Size",
  [0x0105] = "Asynchronous Event Request Limit Exceeded", [0x0109] = "Invalid Log Page",
  [0x010d] = "Feature Identifier Not Saveable", [0x0180] = "Connect Incompatible Format",
  [0x0181] = "Connect Controller Busy", [0x0182] = "Connect Invalid Parameters",
  [0x0183] = "Connect Restart Discovery", [0x0184] = "Connect Invalid Host", [0x0280] = "Write Fault",
  [0x0281] = "Unrecovered Read Error", [0x0300] = "Internal Path Error", [0x0303] = "Asymmetric Access Transition",
  [0x0371] = "Host Aborted Command",
}

local property_names = { [0x00] = "CAP", [0x08] = "VS", [0x14] = "CC", [0x1c] = "CSTS", [0x20] = "NSSR" }

-- ---------------------------------------------------------------- fields

local F = {
  version = ProtoField.uint8("nvmeoe.version", "Version", base.DEC),
  flags = ProtoField.uint8("nvmeoe.flags", "Frame flags", base.HEX),
  flag_ddgst = ProtoField.bool("nvmeoe.flags.ddgst", "Data digest (DDGST)", 8, nil, 0x01),
  flag_tag = ProtoField.bool("nvmeoe.flags.tag", "Frame tag trailer (TAG)", 8, nil, 0x02),
  flag_rsvd = ProtoField.uint8("nvmeoe.flags.reserved", "Reserved flags", base.HEX, nil, 0xfc),
  tag_seq = ProtoField.uint64("nvmeoe.tag.seq", "Frame sequence number", base.DEC),
  tag = ProtoField.bytes("nvmeoe.tag", "Frame tag (AES-256-GMAC, checked with the association's key)"),
  count = ProtoField.uint8("nvmeoe.count", "Segments", base.DEC),
  reserved = ProtoField.uint8("nvmeoe.reserved", "Reserved", base.HEX),
  qid = ProtoField.uint16("nvmeoe.qid", "Queue ID", base.DEC),
  cntlid = ProtoField.uint16("nvmeoe.cntlid", "Controller ID", base.HEX),
  nonce = ProtoField.uint32("nvmeoe.nonce", "Nonce", base.HEX),
  hcrc = ProtoField.uint32("nvmeoe.hcrc", "Header CRC32C", base.HEX),
  hcrc_ok = ProtoField.bool("nvmeoe.hcrc.ok", "Header CRC correct"),
  ddgst = ProtoField.uint32("nvmeoe.ddgst", "Data digest", base.HEX),
  ddgst_ok = ProtoField.bool("nvmeoe.ddgst.ok", "Data digest correct"),
  padding = ProtoField.bytes("nvmeoe.padding", "Padding"),

  -- Segment header
  segment = ProtoField.bytes("nvmeoe.segment", "Segment"),
  kind = ProtoField.uint8("nvmeoe.kind", "Kind", base.DEC, kind_names),
  kind_name = ProtoField.string("nvmeoe.kind_name", "Kind name"),
  seg_flags = ProtoField.uint8("nvmeoe.seg.flags", "Segment flags", base.HEX),
  flag_last = ProtoField.bool("nvmeoe.seg.flags.last", "Last of burst (LAST)", 8, nil, 0x01),
  flag_retry = ProtoField.bool("nvmeoe.seg.flags.retry", "Retransmission (RETRY)", 8, nil, 0x02),
  flag_success = ProtoField.bool("nvmeoe.seg.flags.success", "Command succeeded, no Response (SUCCESS)", 8, nil,
    0x04),
  seg_flag_rsvd = ProtoField.uint8("nvmeoe.seg.flags.reserved", "Reserved flags", base.HEX, nil, 0xf8),
  cid = ProtoField.uint16("nvmeoe.cid", "Command ID", base.DEC),
  meta_len = ProtoField.uint16("nvmeoe.meta_len", "Metadata length", base.DEC),
  data_len = ProtoField.uint16("nvmeoe.data_len", "Data length", base.DEC),
  offset = ProtoField.uint32("nvmeoe.offset", "Offset", base.DEC),
  total = ProtoField.uint32("nvmeoe.total", "Total", base.DEC),
  gen = ProtoField.uint32("nvmeoe.gen", "Generation", base.DEC),

  -- Connect Request / Response
  conn_queue_size = ProtoField.uint16("nvmeoe.connect.queue_size", "Queue size", base.DEC),
  conn_max_frame = ProtoField.uint32("nvmeoe.connect.max_frame", "Max frame (MTU)", base.DEC),
  conn_digests = ProtoField.uint8("nvmeoe.connect.digests", "Digests (bit 0: data digest)", base.HEX),
  conn_result = ProtoField.uint16("nvmeoe.connect.result", "Result", base.DEC, connect_results),
  conn_max_transfer = ProtoField.uint32("nvmeoe.connect.max_transfer", "Max transfer", base.DEC),

  -- SQE
  sqe = ProtoField.bytes("nvmeoe.sqe", "Submission queue entry"),
  opcode = ProtoField.uint8("nvmeoe.sqe.opcode", "Opcode", base.HEX),
  opcode_name = ProtoField.string("nvmeoe.sqe.opcode_name", "Opcode name"),
  sqe_flags = ProtoField.uint8("nvmeoe.sqe.flags", "Flags (FUSE/PSDT)", base.HEX),
  sqe_cid = ProtoField.uint16("nvmeoe.sqe.cid", "CID", base.DEC),
  nsid = ProtoField.uint32("nvmeoe.sqe.nsid", "NSID", base.DEC),
  fctype = ProtoField.uint8("nvmeoe.sqe.fctype", "Fabrics command type", base.HEX, fabrics_types),
  cdw10 = ProtoField.uint32("nvmeoe.sqe.cdw10", "CDW10", base.HEX),
  cdw11 = ProtoField.uint32("nvmeoe.sqe.cdw11", "CDW11", base.HEX),
  cdw12 = ProtoField.uint32("nvmeoe.sqe.cdw12", "CDW12", base.HEX),
  cdw13 = ProtoField.uint32("nvmeoe.sqe.cdw13", "CDW13", base.HEX),
  cdw14 = ProtoField.uint32("nvmeoe.sqe.cdw14", "CDW14", base.HEX),
  cdw15 = ProtoField.uint32("nvmeoe.sqe.cdw15", "CDW15", base.HEX),
  slba = ProtoField.uint64("nvmeoe.sqe.slba", "Starting LBA", base.DEC),
  nlb = ProtoField.uint16("nvmeoe.sqe.nlb", "Number of blocks (0-based)", base.DEC),
  sgl_addr = ProtoField.uint64("nvmeoe.sqe.sgl.address", "SGL address", base.HEX),
  sgl_len = ProtoField.uint32("nvmeoe.sqe.sgl.length", "SGL length", base.DEC),
  sgl_type = ProtoField.uint8("nvmeoe.sqe.sgl.type", "SGL descriptor type", base.HEX),
  cns = ProtoField.uint8("nvmeoe.sqe.identify.cns", "Identify CNS", base.HEX),
  lid = ProtoField.uint8("nvmeoe.sqe.log.lid", "Log page ID", base.HEX),
  fid = ProtoField.uint8("nvmeoe.sqe.features.fid", "Feature ID", base.HEX),
  -- Fabrics
  fc_recfmt = ProtoField.uint16("nvmeoe.fabrics.recfmt", "RECFMT", base.DEC),
  fc_qid = ProtoField.uint16("nvmeoe.fabrics.qid", "QID", base.DEC),
  fc_sqsize = ProtoField.uint16("nvmeoe.fabrics.sqsize", "SQSIZE (0-based)", base.DEC),
  fc_cattr = ProtoField.uint8("nvmeoe.fabrics.cattr", "CATTR", base.HEX),
  fc_kato = ProtoField.uint32("nvmeoe.fabrics.kato", "KATO (ms)", base.DEC),
  prop_attrib = ProtoField.uint8("nvmeoe.fabrics.prop.attrib", "Property size (0: 4 B, 1: 8 B)", base.DEC),
  prop_offset = ProtoField.uint32("nvmeoe.fabrics.prop.offset", "Property offset", base.HEX, property_names),
  prop_value = ProtoField.uint64("nvmeoe.fabrics.prop.value", "Property value", base.HEX),
  cd_hostid = ProtoField.bytes("nvmeoe.connect_data.hostid", "Host ID"),
  cd_cntlid = ProtoField.uint16("nvmeoe.connect_data.cntlid", "Controller ID", base.HEX),
  cd_subnqn = ProtoField.string("nvmeoe.connect_data.subnqn", "Subsystem NQN"),
  cd_hostnqn = ProtoField.string("nvmeoe.connect_data.hostnqn", "Host NQN"),
  icd = ProtoField.bytes("nvmeoe.icd", "In-capsule data"),

  -- CQE
  cqe = ProtoField.bytes("nvmeoe.cqe", "Completion queue entry"),
  dw0 = ProtoField.uint32("nvmeoe.cqe.dw0", "DW0", base.HEX),
  dw1 = ProtoField.uint32("nvmeoe.cqe.dw1", "DW1", base.HEX),
  sqhd = ProtoField.uint16("nvmeoe.cqe.sqhd", "SQ head", base.DEC),
  sqid = ProtoField.uint16("nvmeoe.cqe.sqid", "SQ ID", base.DEC),
  cqe_cid = ProtoField.uint16("nvmeoe.cqe.cid", "CID", base.DEC),
  status = ProtoField.uint16("nvmeoe.cqe.status", "Status (wire)", base.HEX),
  status_name = ProtoField.string("nvmeoe.cqe.status_name", "Status name"),
  sct = ProtoField.uint8("nvmeoe.cqe.sct", "Status code type", base.HEX),
  sc = ProtoField.uint8("nvmeoe.cqe.sc", "Status code", base.HEX),
  dnr = ProtoField.bool("nvmeoe.cqe.dnr", "Do not retry"),
  more = ProtoField.bool("nvmeoe.cqe.more", "More"),
  crd = ProtoField.uint8("nvmeoe.cqe.crd", "Command retry delay", base.DEC),

  -- Data
  data = ProtoField.bytes("nvmeoe.data", "Data"),

  -- Retransmit Request
  rr_count = ProtoField.uint16("nvmeoe.rr.count", "Range count", base.DEC),
  rr_offset = ProtoField.uint32("nvmeoe.rr.offset", "Range offset", base.DEC),
  rr_length = ProtoField.uint32("nvmeoe.rr.length", "Range length", base.DEC),

  -- Terminate
  term_reason = ProtoField.uint16("nvmeoe.terminate.reason", "Reason", base.DEC, terminate_reasons),

  -- Discover
  dq_hostnqn = ProtoField.string("nvmeoe.discover.hostnqn", "Host NQN"),
  dq_subnqn = ProtoField.string("nvmeoe.discover.subnqn", "Subsystem NQN filter"),
  dr_count = ProtoField.uint16("nvmeoe.discover.count", "Entries in frame", base.DEC),
  dr_entry = ProtoField.bytes("nvmeoe.discover.entry", "Entry"),
  dr_nqn_len = ProtoField.uint8("nvmeoe.discover.nqn_len", "NQN length", base.DEC),
  dr_flags = ProtoField.uint8("nvmeoe.discover.flags", "Flags", base.HEX),
  dr_readonly = ProtoField.bool("nvmeoe.discover.read_only", "Read-only", 8, nil, 0x01),
  dr_namespaces = ProtoField.uint16("nvmeoe.discover.namespaces", "Namespaces", base.DEC),
  dr_capacity = ProtoField.uint64("nvmeoe.discover.capacity", "Capacity (bytes)", base.DEC),
  dr_subnqn = ProtoField.string("nvmeoe.discover.subnqn_entry", "Subsystem NQN"),

  -- Request/response matching
  response_in = ProtoField.framenum("nvmeoe.response_in", "Response in", base.NONE, frametype.RESPONSE),
  request_in = ProtoField.framenum("nvmeoe.request_in", "Request in", base.NONE, frametype.REQUEST),
  service_time = ProtoField.double("nvmeoe.service_time", "Service time (s)"),
}

local field_list = {}
for _, f in pairs(F) do field_list[#field_list + 1] = f end
nvmeoe.fields = field_list

local E = {
  truncated = ProtoExpert.new("nvmeoe.truncated", "Truncated nvmeoe frame", expert.group.MALFORMED,
    expert.severity.ERROR),
  bad_length = ProtoExpert.new("nvmeoe.bad_length", "Extra bytes after the data (frame longer than 60 bytes)",
    expert.group.MALFORMED, expert.severity.ERROR),
  bad_version = ProtoExpert.new("nvmeoe.bad_version", "Unsupported version", expert.group.MALFORMED,
    expert.severity.WARN),
  bad_count = ProtoExpert.new("nvmeoe.bad_count", "Segment count not in 1..64", expert.group.MALFORMED,
    expert.severity.ERROR),
  bad_kind = ProtoExpert.new("nvmeoe.bad_kind", "Unknown segment kind", expert.group.MALFORMED, expert.severity.ERROR),
  bad_segment = ProtoExpert.new("nvmeoe.bad_segment", "Segment lengths do not fit its kind, or a lone kind is packed",
    expert.group.MALFORMED, expert.severity.ERROR),
  reserved = ProtoExpert.new("nvmeoe.reserved_bits", "Reserved bits set", expert.group.PROTOCOL,
    expert.severity.WARN),
  hcrc_bad = ProtoExpert.new("nvmeoe.hcrc.bad", "Header CRC mismatch: a receiver drops this frame",
    expert.group.CHECKSUM, expert.severity.ERROR),
  ddgst_bad = ProtoExpert.new("nvmeoe.ddgst.bad", "Data digest mismatch: a receiver drops this frame",
    expert.group.CHECKSUM, expert.severity.ERROR),
  status_error = ProtoExpert.new("nvmeoe.status_error", "NVMe command completed with an error",
    expert.group.RESPONSE_CODE, expert.severity.NOTE),
  retransmission = ProtoExpert.new("nvmeoe.retransmission", "Retransmitted command", expert.group.SEQUENCE,
    expert.severity.NOTE),
  version1 = ProtoExpert.new("nvmeoe.version1", "nvmeoe protocol version 1 frame (a version 2 peer answers only a Connect Request, with Unsupported Version)",
    expert.group.PROTOCOL, expert.severity.NOTE),
  internal = ProtoExpert.new("nvmeoe.internal", "Dissector could not decode this frame", expert.group.MALFORMED,
    expert.severity.ERROR),
}
nvmeoe.experts = { E.truncated, E.bad_length, E.bad_version, E.bad_count, E.bad_kind, E.bad_segment, E.reserved,
  E.hcrc_bad, E.ddgst_bad, E.status_error, E.retransmission, E.version1, E.internal }

nvmeoe.prefs.ethertype = Pref.uint("EtherType", ETH_DEFAULT, "EtherType of nvmeoe frames (default 0x88B5)")
nvmeoe.prefs.check_digests = Pref.bool("Verify digests", true, "Check the CRC32C header CRC and data digests")

-- The Ethernet header, which the header CRC covers too.
local eth_dst_f = Field.new("eth.dst")
local eth_src_f = Field.new("eth.src")
local eth_type_f = Field.new("eth.type")

-- ---------------------------------------------------------------- CRC32C (Castagnoli)

local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit32.band(c, 1) ~= 0 then
      c = bit32.bxor(bit32.rshift(c, 1), 0x82F63B78)
    else
      c = bit32.rshift(c, 1)
    end
  end
  crc_table[i] = c
end

-- CRC32C of a byte string.
local function crc32c_str(bytes)
  local crc = 0xFFFFFFFF
  if #bytes == 0 then return 0 end
  for i = 1, #bytes do
    local b = string.byte(bytes, i)
    crc = bit32.bxor(crc_table[bit32.band(bit32.bxor(crc, b), 0xff)], bit32.rshift(crc, 8))
  end
  return bit32.bxor(crc, 0xFFFFFFFF)
end

-- CRC32C of tvb bytes [offset, offset + len), after an optional prefix string.
local function crc32c(tvb, offset, len, prefix)
  local bytes = (len > 0) and tvb:raw(offset, len) or ""
  return crc32c_str((prefix or "") .. bytes)
end

-- The 14 bytes of the Ethernet header as a string, or nil when the capture has none.
local function eth_header()
  local d, s, t = eth_dst_f(), eth_src_f(), eth_type_f()
  if not (d and s and t) then return nil end
  return d.range:raw() .. s.range:raw() .. t.range:raw()
end

-- ---------------------------------------------------------------- helpers

local function le32(tvb, off) return tvb(off, 4):le_uint() end
local function le16(tvb, off) return tvb(off, 2):le_uint() end

-- A NUL-terminated string from a fixed-size field.
local function cstring(tvb, off, size)
  local s = tvb:raw(off, size)
  local nul = string.find(s, "\0", 1, true)
  if nul then s = string.sub(s, 1, nul - 1) end
  return s
end

local function opcode_name(opcode, admin, fctype)
  if opcode == 0x7f then return "Fabrics " .. (fabrics_types[fctype] or string.format("0x%02x", fctype)) end
  local name = admin and admin_opcodes[opcode] or (not admin and io_opcodes[opcode])
  return name or string.format("opcode 0x%02x", opcode)
end

-- The Linux-layout status (wire value >> 1) as "Name" or "Unknown Status (sct x sc y)", plus DNR.
local function status_text(linux)
  local code = bit32.band(linux, 0x7ff)
  local name = status_names[code]
  if not name then
    name = string.format("Unknown Status (sct 0x%x sc 0x%x)", bit32.band(bit32.rshift(linux, 8), 7),
      bit32.band(linux, 0xff))
  end
  return name
end

-- Commands and responses seen, keyed by association + cid + gen.
local commands = {}   -- key -> { frame = n, time = NSTime, name = "Read" }
local responses = {}  -- key -> frame number

local function assoc_key(host, target, qid, nonce, cid, gen)
  return string.format("%s|%s|%d|%08x|%d|%d", tostring(host), tostring(target), qid, nonce, cid, gen)
end

function nvmeoe.init()
  commands = {}
  responses = {}
end

-- ---------------------------------------------------------------- payload decoders

local function dissect_connect_request(tvb, tree, p)
  tree:add_le(F.conn_queue_size, tvb(p, 2))
  tree:add_le(F.conn_max_frame, tvb(p + 4, 4))
  tree:add(F.conn_digests, tvb(p + 8, 1))
  return string.format(" size %d, max frame %d, digests %d", le16(tvb, p), le32(tvb, p + 4), tvb(p + 8, 1):uint())
end

local function dissect_connect_response(tvb, tree, p)
  local result = le16(tvb, p)
  tree:add_le(F.conn_result, tvb(p, 2))
  tree:add_le(F.conn_queue_size, tvb(p + 2, 2))
  tree:add_le(F.conn_max_frame, tvb(p + 4, 4))
  tree:add(F.conn_digests, tvb(p + 8, 1))
  tree:add_le(F.conn_max_transfer, tvb(p + 12, 4))
  return " " .. (connect_results[result] or ("result " .. result))
end

local function dissect_connect_data(tvb, tree, off, n)
  if n < 1024 then return end
  local t = tree:add(tvb(off, 1024), "Connect data")
  t:add(F.cd_hostid, tvb(off, 16))
  t:add_le(F.cd_cntlid, tvb(off + 16, 2))
  t:add(F.cd_subnqn, tvb(off + 256, 256), cstring(tvb, off + 256, 256))
  t:add(F.cd_hostnqn, tvb(off + 512, 256), cstring(tvb, off + 512, 256))
end

-- Returns the opcode's display name.
local function dissect_sqe(tvb, pinfo, tree, p, qid)
  local t = tree:add(F.sqe, tvb(p, 64))
  local opcode = tvb(p, 1):uint()
  local fctype = tvb(p + 4, 1):uint()
  local name = opcode_name(opcode, qid == 0, fctype)
  t:set_text("Submission queue entry: " .. name)
  t:add(F.opcode, tvb(p, 1))
  t:add(F.opcode_name, tvb(p, 1), name)
  t:add(F.sqe_flags, tvb(p + 1, 1))
  t:add_le(F.sqe_cid, tvb(p + 2, 2))
  if opcode == 0x7f then
    t:add(F.fctype, tvb(p + 4, 1))
  else
    t:add_le(F.nsid, tvb(p + 4, 4))
  end
  local sgl = t:add(tvb(p + 24, 16), "SGL1")
  sgl:add_le(F.sgl_addr, tvb(p + 24, 8))
  sgl:add_le(F.sgl_len, tvb(p + 32, 4))
  sgl:add(F.sgl_type, tvb(p + 39, 1))
  local detail = ""
  if opcode == 0x7f then
    if fctype == 0x01 then
      t:add_le(F.fc_recfmt, tvb(p + 40, 2))
      t:add_le(F.fc_qid, tvb(p + 42, 2))
      t:add_le(F.fc_sqsize, tvb(p + 44, 2))
      t:add(F.fc_cattr, tvb(p + 46, 1))
      t:add_le(F.fc_kato, tvb(p + 48, 4))
      detail = string.format(" qid %d sqsize %d", le16(tvb, p + 42), le16(tvb, p + 44))
    elseif fctype == 0x00 or fctype == 0x04 then
      t:add(F.prop_attrib, tvb(p + 40, 1))
      t:add_le(F.prop_offset, tvb(p + 44, 4))
      local off = le32(tvb, p + 44)
      detail = " " .. (property_names[off] or string.format("0x%x", off))
      if fctype == 0x00 then t:add_le(F.prop_value, tvb(p + 48, 8)) end
    end
  else
    for i, f in ipairs({ F.cdw10, F.cdw11, F.cdw12, F.cdw13, F.cdw14, F.cdw15 }) do
      t:add_le(f, tvb(p + 36 + 4 * i, 4))
    end
    if qid ~= 0 and (opcode == 0x01 or opcode == 0x02 or opcode == 0x08) then
      t:add_le(F.slba, tvb(p + 40, 8))
      t:add_le(F.nlb, tvb(p + 48, 2))
      detail = string.format(" nsid %d slba %s nlb %d", le32(tvb, p + 4), tostring(tvb(p + 40, 8):le_uint64()),
        le16(tvb, p + 48) + 1)
    elseif qid == 0 and opcode == 0x06 then
      t:add(F.cns, tvb(p + 40, 1))
      detail = string.format(" CNS %d", tvb(p + 40, 1):uint())
    elseif qid == 0 and opcode == 0x02 then
      t:add(F.lid, tvb(p + 40, 1))
      detail = string.format(" LID 0x%02x", tvb(p + 40, 1):uint())
    elseif qid == 0 and (opcode == 0x09 or opcode == 0x0a) then
      t:add(F.fid, tvb(p + 40, 1))
      detail = string.format(" FID 0x%02x", tvb(p + 40, 1):uint())
    elseif opcode ~= 0x18 then
      detail = string.format(" nsid %d", le32(tvb, p + 4))
    end
  end
  return name, detail, opcode, fctype
end

local function dissect_cqe(tvb, tree, p)
  local t = tree:add(F.cqe, tvb(p, 16))
  t:add_le(F.dw0, tvb(p, 4))
  t:add_le(F.dw1, tvb(p + 4, 4))
  t:add_le(F.sqhd, tvb(p + 8, 2))
  t:add_le(F.sqid, tvb(p + 10, 2))
  t:add_le(F.cqe_cid, tvb(p + 12, 2))
  local wire = le16(tvb, p + 14)
  local linux = bit32.rshift(wire, 1)
  local name = status_text(linux)
  t:add_le(F.status, tvb(p + 14, 2))
  t:add(F.status_name, tvb(p + 14, 2), name)
  t:add(F.sct, tvb(p + 14, 2), bit32.band(bit32.rshift(linux, 8), 7))
  t:add(F.sc, tvb(p + 14, 2), bit32.band(linux, 0xff))
  t:add(F.crd, tvb(p + 14, 2), bit32.band(bit32.rshift(linux, 11), 3))
  t:add(F.more, tvb(p + 14, 2), bit32.band(linux, 0x2000) ~= 0)
  t:add(F.dnr, tvb(p + 14, 2), bit32.band(linux, 0x4000) ~= 0)
  t:set_text("Completion queue entry: " .. name)
  return name, bit32.band(linux, 0x7ff) == 0, bit32.band(linux, 0x4000) ~= 0
end

local function dissect_retransmit(tvb, tree, p, len)
  local count = le16(tvb, p)
  tree:add_le(F.rr_count, tvb(p, 2))
  if len ~= 4 + 8 * count then
    tree:add_proto_expert_info(E.bad_segment, "Metadata length is not 4 + 8 * count")
    count = math.min(count, math.floor((len - 4) / 8))
  end
  local parts = {}
  for i = 0, count - 1 do
    local o = p + 4 + 8 * i
    local r = tree:add(tvb(o, 8), string.format("Range %d: offset %d, length %d", i, le32(tvb, o), le32(tvb, o + 4)))
    r:add_le(F.rr_offset, tvb(o, 4))
    r:add_le(F.rr_length, tvb(o + 4, 4))
    if i < 4 then parts[#parts + 1] = string.format("%d+%d", le32(tvb, o), le32(tvb, o + 4)) end
  end
  if count == 0 then return " (no ranges)" end
  return " ranges " .. table.concat(parts, ",") .. (count > 4 and ",..." or "")
end

local function dissect_discover_reply(tvb, tree, p, len)
  local count = le16(tvb, p)
  tree:add_le(F.dr_count, tvb(p, 2))
  local o, stop = p + 4, p + len
  local names = {}
  for i = 1, count do
    if o + 12 > stop then tree:add_proto_expert_info(E.bad_segment, "Entry " .. i .. " truncated"); break end
    local nlen = tvb(o, 1):uint()
    if o + 12 + nlen > stop then tree:add_proto_expert_info(E.bad_segment, "Entry " .. i .. " NQN truncated"); break end
    local nqn = tvb:raw(o + 12, nlen)
    local e = tree:add(F.dr_entry, tvb(o, 12 + nlen))
    e:set_text("Entry: " .. nqn)
    e:add(F.dr_nqn_len, tvb(o, 1))
    local fl = e:add(F.dr_flags, tvb(o + 1, 1))
    fl:add(F.dr_readonly, tvb(o + 1, 1))
    e:add_le(F.dr_namespaces, tvb(o + 2, 2))
    e:add_le(F.dr_capacity, tvb(o + 4, 8))
    e:add(F.dr_subnqn, tvb(o + 12, nlen), nqn)
    names[#names + 1] = nqn
    o = o + 12 + nlen
  end
  return string.format(" %d entr%s %s", count, count == 1 and "y" or "ies", table.concat(names, " "))
end

-- ---------------------------------------------------------------- main

-- Metadata sizes a kind allows (PROTOCOL.md §4): true when the segment fits its kind.
local function sizes_valid(kind, meta, data)
  if kind == 1 or kind == 2 then return meta == 16 and data == 0 end
  if kind == 3 then return meta == 64 end
  if kind == 4 then return meta == 16 and data == 0 end
  if kind == 5 then return meta == 0 end
  if kind == 6 then return meta >= 4 and (meta - 4) % 8 == 0 and data == 0 end
  if kind == 7 then return meta == 4 and data == 0 end
  if kind == 8 then return meta == 512 and data == 0 end
  if kind == 9 then return meta >= 4 and data == 0 end
  return false
end

local function stands_alone(kind) return kind < 3 or kind > 6 end

-- One segment: header fields, metadata by kind, its data. Returns the text for the Info column.
local function dissect_segment(tvb, pinfo, tree, s, a, qid, nonce)
  local kind, flags, cid, gen = s.kind, s.flags, s.cid, s.gen
  local kname = kind_names[kind] or string.format("Unknown kind %d", kind)
  local t = tree:add(F.segment, tvb(s.at, SEG_HEADER + s.meta))
  t:set_text(string.format("Segment %d: %s", s.index, kname))
  local ki = t:add(F.kind, tvb(s.at, 1))
  t:add(F.kind_name, tvb(s.at, 1), kname)
  if not kind_names[kind] then ki:add_proto_expert_info(E.bad_kind) end
  local fi = t:add(F.seg_flags, tvb(s.at + 1, 1))
  fi:add(F.flag_last, tvb(s.at + 1, 1))
  fi:add(F.flag_retry, tvb(s.at + 1, 1))
  fi:add(F.flag_success, tvb(s.at + 1, 1))
  fi:add(F.seg_flag_rsvd, tvb(s.at + 1, 1))
  if bit32.band(flags, 0xf8) ~= 0 then fi:add_proto_expert_info(E.reserved, "Reserved segment flag bits set") end
  t:add_le(F.cid, tvb(s.at + 2, 2))
  t:add_le(F.meta_len, tvb(s.at + 4, 2))
  t:add_le(F.data_len, tvb(s.at + 6, 2))
  t:add_le(F.offset, tvb(s.at + 8, 4))
  t:add_le(F.total, tvb(s.at + 12, 4))
  t:add_le(F.gen, tvb(s.at + 16, 4))
  if not sizes_valid(kind, s.meta, s.data) then
    t:add_proto_expert_info(E.bad_segment, string.format("%s with %d bytes of metadata and %d of data", kname, s.meta,
      s.data))
    return kname .. " [malformed]"
  end
  local m = s.at + SEG_HEADER
  local text = kname
  local host, target = pinfo.dl_src, pinfo.dl_dst  -- host -> target kinds; swapped below
  if kind == 1 then
    text = text .. string.format(" nonce 0x%08x", nonce) .. dissect_connect_request(tvb, t, m)
  elseif kind == 2 then
    text = text .. string.format(" nonce 0x%08x", nonce) .. dissect_connect_response(tvb, t, m)
  elseif kind == 3 then
    local name, detail, opcode, fctype = dissect_sqe(tvb, pinfo, t, m, qid)
    local retry = bit32.band(flags, 0x02) ~= 0
    text = string.format("Command cid %d gen %d %s%s%s", cid, gen, name, detail, retry and " RETRY" or "")
    if retry then t:add_proto_expert_info(E.retransmission) end
    if s.data > 0 and s.data_at then
      local it = t:add(F.icd, tvb(s.data_at, s.data))
      it:set_text(string.format("In-capsule data (%d bytes)", s.data))
      if opcode == 0x7f and fctype == 0x01 and s.data >= 1024 then
        dissect_connect_data(tvb, it, s.data_at, s.data)
        text = text .. " " .. cstring(tvb, s.data_at + 256, 256)
      end
    end
    local key = assoc_key(host, target, qid, nonce, cid, gen)
    if not pinfo.visited and not commands[key] then
      commands[key] = { frame = pinfo.number, time = pinfo.abs_ts, name = name }
    end
    local c = commands[key]
    if c and c.frame ~= pinfo.number then
      t:add(F.request_in, c.frame):set_text("First transmission in frame " .. c.frame)
    end
    if responses[key] then t:add(F.response_in, responses[key]) end
  elseif kind == 4 or (kind == 5 and bit32.band(flags, 0x04) ~= 0) then
    local key = assoc_key(target, host, qid, nonce, cid, gen)
    local c = commands[key]
    if kind == 4 then
      local name, ok = dissect_cqe(tvb, t, m)
      text = string.format("Response cid %d gen %d %s%s", cid, gen, c and (c.name .. ": ") or "", name)
      if not ok then t:add_proto_expert_info(E.status_error, name) end
    else
      text = string.format("Data cid %d gen %d off %d len %d of %d%s SUCCESS", cid, gen, s.offset, s.data, s.total,
        bit32.band(flags, 0x01) ~= 0 and " LAST" or "")
      if c then text = text .. " (" .. c.name .. ")" end
      if s.data > 0 and s.data_at then t:add(F.data, tvb(s.data_at, s.data)) end
    end
    if not pinfo.visited and not responses[key] then responses[key] = pinfo.number end
    if c then
      t:add(F.request_in, c.frame)
      t:add(F.service_time, pinfo.abs_ts - c.time)
    end
  elseif kind == 5 then
    text = string.format("Data cid %d gen %d off %d len %d of %d%s", cid, gen, s.offset, s.data, s.total,
      bit32.band(flags, 0x01) ~= 0 and " LAST" or "")
    if s.data > 0 and s.data_at then t:add(F.data, tvb(s.data_at, s.data)) end
  elseif kind == 6 then
    text = string.format("Retransmit Request cid %d gen %d", cid, gen) .. dissect_retransmit(tvb, t, m, s.meta)
  elseif kind == 7 then
    local reason = le16(tvb, m)
    t:add_le(F.term_reason, tvb(m, 2))
    text = text .. string.format(" nonce 0x%08x: %s", nonce, terminate_reasons[reason] or ("reason " .. reason))
  elseif kind == 8 then
    local hostnqn = cstring(tvb, m, 256)
    local sub = cstring(tvb, m + 256, 256)
    t:add(F.dq_hostnqn, tvb(m, 256), hostnqn)
    t:add(F.dq_subnqn, tvb(m + 256, 256), sub)
    text = text .. string.format(" nonce 0x%08x from %s%s", nonce, hostnqn, sub ~= "" and (" for " .. sub) or "")
  elseif kind == 9 then
    text = text .. string.format(" nonce 0x%08x off %d of %d", nonce, s.offset, s.total) ..
      dissect_discover_reply(tvb, t, m, s.meta)
  end
  return text
end

-- A protocol version 1 frame: its 32-byte header names the kind; nothing more is decoded.
local function dissect_v1(tvb, pinfo, tree)
  local v1_kinds = { [1] = "Connect Request", [2] = "Connect Response", [3] = "Command", [4] = "Response",
    [5] = "Data", [6] = "Retransmit Request", [7] = "Terminate", [8] = "Discover Query", [9] = "Discover Reply" }
  tree:add(F.version, tvb(0, 1))
  tree:add_proto_expert_info(E.version1)
  local kind = tvb:len() > 1 and tvb(1, 1):uint() or 0
  local text = "v1 " .. (v1_kinds[kind] or ("kind " .. kind))
  if tvb:len() >= 16 and kind == 2 then
    text = text .. string.format(" q%d result %d", le16(tvb, 4), tvb:len() >= 34 and le16(tvb, 32) or -1)
  end
  pinfo.cols.info = "nvmeoe " .. text
  return tvb:len()
end

local function dissect(tvb, pinfo, root)
  local avail = tvb:len()
  pinfo.cols.protocol = "nvmeoe"
  local tree = root:add(nvmeoe, tvb(0, math.min(avail, FRAME_HEADER)))
  if avail < 1 then
    tree:add_proto_expert_info(E.truncated, "Empty nvmeoe frame")
    return avail
  end
  local version = tvb(0, 1):uint()
  if version == 1 then return dissect_v1(tvb, pinfo, tree) end
  if avail < FRAME_HEADER then
    tree:add_proto_expert_info(E.truncated, string.format("Frame has %d of the 12 frame header bytes", avail))
    pinfo.cols.info = "nvmeoe truncated header"
    return avail
  end
  local vi = tree:add(F.version, tvb(0, 1))
  if version ~= 2 then vi:add_proto_expert_info(E.bad_version, "Version " .. version .. " (receivers drop it)") end
  local flags = tvb(1, 1):uint()
  local count = tvb(2, 1):uint()
  local qid = le16(tvb, 4)
  local nonce = le32(tvb, 8)
  local fi = tree:add(F.flags, tvb(1, 1))
  fi:add(F.flag_ddgst, tvb(1, 1))
  fi:add(F.flag_tag, tvb(1, 1))
  fi:add(F.flag_rsvd, tvb(1, 1))
  if bit32.band(flags, 0xfc) ~= 0 or bit32.band(flags, 0x03) == 0x03 then
    fi:add_proto_expert_info(E.reserved, "Reserved frame flag bits set (or DDGST with TAG)")
  end
  local ci = tree:add(F.count, tvb(2, 1))
  local ri = tree:add(F.reserved, tvb(3, 1))
  if tvb(3, 1):uint() ~= 0 then ri:add_proto_expert_info(E.reserved, "Reserved header byte not 0") end
  tree:add_le(F.qid, tvb(4, 2))
  tree:add_le(F.cntlid, tvb(6, 2))
  tree:add_le(F.nonce, tvb(8, 4))
  pinfo.cols.info = string.format("q%d", qid)
  if count == 0 or count > MAX_SEGMENTS then
    ci:add_proto_expert_info(E.bad_count)
    pinfo.cols.info:append(" [bad segment count]")
    return avail
  end

  -- Segment headers and metadata, then the header CRC (PROTOCOL.md §3.3).
  local segs = {}
  local at = FRAME_HEADER
  local data_total = 0
  for i = 1, count do
    if at + SEG_HEADER > avail then
      tree:add_proto_expert_info(E.truncated, string.format("Segment %d header runs past the frame", i))
      pinfo.cols.info:append(" [truncated]")
      return avail
    end
    local meta = le16(tvb, at + 4)
    if at + SEG_HEADER + meta > avail then
      tree:add_proto_expert_info(E.truncated, string.format("Segment %d metadata (%d bytes) runs past the frame", i,
        meta))
      pinfo.cols.info:append(" [truncated]")
      return avail
    end
    local s = { index = i, at = at, kind = tvb(at, 1):uint(), flags = tvb(at + 1, 1):uint(), cid = le16(tvb, at + 2),
      meta = meta, data = le16(tvb, at + 6), offset = le32(tvb, at + 8), total = le32(tvb, at + 12),
      gen = le32(tvb, at + 16) }
    segs[#segs + 1] = s
    data_total = data_total + s.data
    at = at + SEG_HEADER + meta
  end
  if at + 4 > avail then
    tree:add_proto_expert_info(E.truncated, "No room for the header CRC")
    pinfo.cols.info:append(" [truncated]")
    return avail
  end
  local check = nvmeoe.prefs.check_digests
  local hi = tree:add_le(F.hcrc, tvb(at, 4))
  local bad_crc = false
  if check then
    local eth = eth_header()
    if eth then
      local want = crc32c(tvb, 0, at, eth)
      local got = le32(tvb, at)
      bad_crc = want ~= got
      tree:add(F.hcrc_ok, tvb(at, 4), not bad_crc)
      if bad_crc then
        hi:add_proto_expert_info(E.hcrc_bad, string.format("Header CRC 0x%08x, computed 0x%08x", got, want))
      end
    end
  end
  local data_at = at + 4
  local has_dd = bit32.band(flags, 0x01) ~= 0
  local has_tag = bit32.band(flags, 0x02) ~= 0
  local need = data_at + data_total + (has_dd and 4 or 0) + (has_tag and 24 or 0)
  local complete = avail >= need
  if not complete then
    tree:add_proto_expert_info(E.truncated, string.format("Segments say %d data bytes%s, frame has %d after the header CRC",
      data_total, has_dd and " + digest" or has_tag and " + tag trailer" or "", avail - data_at))
  elseif avail > need then
    if avail + 14 <= 60 then
      tree:add(F.padding, tvb(need, avail - need))
    else
      tree:add_proto_expert_info(E.bad_length, string.format("%d bytes after the data", avail - need))
    end
  end
  tree:set_len(math.min(avail, need))
  -- Each segment's data, in segment order.
  local d = data_at
  for _, s in ipairs(segs) do
    if complete then s.data_at = d end
    d = d + s.data
  end
  if complete and has_dd then
    local di = tree:add_le(F.ddgst, tvb(data_at + data_total, 4))
    if check then
      local got = le32(tvb, data_at + data_total)
      local want = crc32c(tvb, data_at, data_total)
      tree:add(F.ddgst_ok, tvb(data_at + data_total, 4), got == want)
      if got ~= want then
        di:add_proto_expert_info(E.ddgst_bad, string.format("Data digest 0x%08x, computed 0x%08x", got, want))
      end
    end
  end
  if complete and has_tag then
    -- PROTOCOL.md §10.1: the key is the association's, so the tag is shown, not checked.
    tree:add_le(F.tag_seq, tvb(data_at + data_total, 8))
    tree:add(F.tag, tvb(data_at + data_total + 8, 16))
  end
  if count > 1 then
    for _, s in ipairs(segs) do
      if stands_alone(s.kind) then
        tree:add_proto_expert_info(E.bad_segment, string.format("%s packed with other segments",
          kind_names[s.kind] or ("kind " .. s.kind)))
      end
    end
  end

  local texts = {}
  for _, s in ipairs(segs) do texts[#texts + 1] = dissect_segment(tvb, pinfo, tree, s, nil, qid, nonce) end
  local shown = {}
  for i = 1, math.min(#texts, 4) do shown[i] = texts[i] end
  local info = table.concat(shown, "; ")
  if #texts > 4 then info = info .. string.format("; ... (%d segments)", #texts) end
  tree:append_text(string.format(", q%d, %d segment%s", qid, count, count == 1 and "" or "s"))
  pinfo.cols.info = string.format("q%d %s%s%s", qid, count > 1 and ("[" .. count .. "] ") or "", info,
    bad_crc and " [BAD HEADER CRC]" or "")
  return avail
end

function nvmeoe.dissector(tvb, pinfo, root)
  local ok, result = pcall(dissect, tvb, pinfo, root)
  if not ok then
    root:add_proto_expert_info(E.internal, "Dissector error: " .. tostring(result))
    return tvb:len()
  end
  return result
end

-- ---------------------------------------------------------------- registration

local registered = nil

local function register()
  local ethertypes = DissectorTable.get("ethertype")
  if registered then ethertypes:remove(registered, nvmeoe) end
  registered = nvmeoe.prefs.ethertype
  ethertypes:add(registered, nvmeoe)
end

function nvmeoe.prefs_changed()
  if registered ~= nvmeoe.prefs.ethertype then register() end
end

register()
