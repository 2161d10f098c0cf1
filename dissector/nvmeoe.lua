-- Wireshark dissector for nvmeoe, NVMe over raw Ethernet (docs/PROTOCOL.md, version 1).
--
-- Usage:  wireshark -X lua_script:dissector/nvmeoe.lua capture.pcap
--         tshark -r capture.pcap -X lua_script:dissector/nvmeoe.lua -V
-- or copy this file to ~/.local/lib/wireshark/plugins/.
--
-- Decodes every frame kind: the 32-byte header and its flags, Connect Request/Response, Command
-- (SQE with opcode names, Fabrics Connect/Property Get/Set, in-capsule data and connect data),
-- Response (CQE with status names), Data, Retransmit Request ranges, Terminate reasons and
-- Discover Query/Reply. Checks header and data digests (CRC32C) when the flags say they are there.
-- Matches Responses to Commands by association (host MAC, target MAC, qid, nonce), CID and
-- generation, with "response in"/"request in" links and the service time. Malformed or truncated
-- input gives expert info, never a Lua error. Written for Wireshark 4.0 (Lua 5.2, bit32).

local nvmeoe = Proto("nvmeoe", "NVMe over Ethernet")

local ETH_DEFAULT = 0x88b5
local HEADER_SIZE = 32

-- ---------------------------------------------------------------- value names

local kind_names = {
  [1] = "Connect Request", [2] = "Connect Response", [3] = "Command", [4] = "Response", [5] = "Data",
  [6] = "Retransmit Request", [7] = "Terminate", [8] = "Discover Query", [9] = "Discover Reply",
}

local terminate_reasons = {
  [1] = "Host Disconnect", [2] = "Unknown Association", [3] = "Keep-Alive Timeout", [4] = "Protocol Error",
  [5] = "Target Shutdown",
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
  kind = ProtoField.uint8("nvmeoe.kind", "Kind", base.DEC, kind_names),
  kind_name = ProtoField.string("nvmeoe.kind_name", "Kind name"),
  flags = ProtoField.uint8("nvmeoe.flags", "Flags", base.HEX),
  flag_hdgst = ProtoField.bool("nvmeoe.flags.hdgst", "Header digest (HDGST)", 8, nil, 0x01),
  flag_ddgst = ProtoField.bool("nvmeoe.flags.ddgst", "Data digest (DDGST)", 8, nil, 0x02),
  flag_last = ProtoField.bool("nvmeoe.flags.last", "Last of burst (LAST)", 8, nil, 0x04),
  flag_retry = ProtoField.bool("nvmeoe.flags.retry", "Retransmission (RETRY)", 8, nil, 0x08),
  flag_rsvd = ProtoField.uint8("nvmeoe.flags.reserved", "Reserved flags", base.HEX, nil, 0xf0),
  reserved = ProtoField.uint8("nvmeoe.reserved", "Reserved", base.HEX),
  qid = ProtoField.uint16("nvmeoe.qid", "Queue ID", base.DEC),
  cntlid = ProtoField.uint16("nvmeoe.cntlid", "Controller ID", base.HEX),
  nonce = ProtoField.uint32("nvmeoe.nonce", "Nonce", base.HEX),
  cid = ProtoField.uint16("nvmeoe.cid", "Command ID", base.DEC),
  length = ProtoField.uint16("nvmeoe.length", "Payload length", base.DEC),
  offset = ProtoField.uint32("nvmeoe.offset", "Offset", base.DEC),
  total = ProtoField.uint32("nvmeoe.total", "Total", base.DEC),
  gen = ProtoField.uint32("nvmeoe.gen", "Generation", base.DEC),
  hdgst = ProtoField.uint32("nvmeoe.hdgst", "Header digest", base.HEX),
  hdgst_ok = ProtoField.bool("nvmeoe.hdgst.ok", "Header digest correct"),
  ddgst = ProtoField.uint32("nvmeoe.ddgst", "Data digest", base.HEX),
  ddgst_ok = ProtoField.bool("nvmeoe.ddgst.ok", "Data digest correct"),
  padding = ProtoField.bytes("nvmeoe.padding", "Padding"),

  -- Connect Request / Response
  conn_queue_size = ProtoField.uint16("nvmeoe.connect.queue_size", "Queue size", base.DEC),
  conn_max_payload = ProtoField.uint32("nvmeoe.connect.max_payload", "Max payload", base.DEC),
  conn_digests = ProtoField.uint8("nvmeoe.connect.digests", "Digests", base.HEX),
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
  bad_length = ProtoExpert.new("nvmeoe.bad_length", "Extra bytes after the payload (frame longer than 60 bytes)",
    expert.group.MALFORMED, expert.severity.ERROR),
  bad_version = ProtoExpert.new("nvmeoe.bad_version", "Unsupported version", expert.group.MALFORMED,
    expert.severity.WARN),
  bad_kind = ProtoExpert.new("nvmeoe.bad_kind", "Unknown frame kind", expert.group.MALFORMED, expert.severity.ERROR),
  reserved = ProtoExpert.new("nvmeoe.reserved_bits", "Reserved bits set", expert.group.PROTOCOL,
    expert.severity.WARN),
  hdgst_bad = ProtoExpert.new("nvmeoe.hdgst.bad", "Header digest mismatch", expert.group.CHECKSUM,
    expert.severity.ERROR),
  hdgst_nonzero = ProtoExpert.new("nvmeoe.hdgst.nonzero", "HDGST clear but digest field not 0",
    expert.group.PROTOCOL, expert.severity.WARN),
  ddgst_bad = ProtoExpert.new("nvmeoe.ddgst.bad", "Data digest mismatch", expert.group.CHECKSUM,
    expert.severity.ERROR),
  payload_short = ProtoExpert.new("nvmeoe.payload_short", "Payload too short for its kind",
    expert.group.MALFORMED, expert.severity.ERROR),
  status_error = ProtoExpert.new("nvmeoe.status_error", "NVMe command completed with an error",
    expert.group.RESPONSE_CODE, expert.severity.NOTE),
  retransmission = ProtoExpert.new("nvmeoe.retransmission", "Retransmitted command", expert.group.SEQUENCE,
    expert.severity.NOTE),
  internal = ProtoExpert.new("nvmeoe.internal", "Dissector could not decode this frame", expert.group.MALFORMED,
    expert.severity.ERROR),
}
nvmeoe.experts = { E.truncated, E.bad_length, E.bad_version, E.bad_kind, E.reserved, E.hdgst_bad, E.hdgst_nonzero,
  E.ddgst_bad, E.payload_short, E.status_error, E.retransmission, E.internal }

nvmeoe.prefs.ethertype = Pref.uint("EtherType", ETH_DEFAULT, "EtherType of nvmeoe frames (default 0x88B5)")
nvmeoe.prefs.check_digests = Pref.bool("Verify digests", true, "Check CRC32C header and data digests")

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

-- CRC32C of tvb bytes [offset, offset + len).
local function crc32c(tvb, offset, len)
  local crc = 0xFFFFFFFF
  if len <= 0 then return 0 end
  local bytes = tvb:raw(offset, len)
  for i = 1, len do
    local b = string.byte(bytes, i)
    crc = bit32.bxor(crc_table[bit32.band(bit32.bxor(crc, b), 0xff)], bit32.rshift(crc, 8))
  end
  return bit32.bxor(crc, 0xFFFFFFFF)
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

local function dissect_connect_request(tvb, pinfo, tree, p, len)
  if len < 16 then tree:add_proto_expert_info(E.payload_short); return end
  tree:add_le(F.conn_queue_size, tvb(p, 2))
  tree:add_le(F.conn_max_payload, tvb(p + 4, 4))
  tree:add(F.conn_digests, tvb(p + 8, 1))
  pinfo.cols.info:append(string.format(" size %d, max payload %d, digests %d", le16(tvb, p), le32(tvb, p + 4),
    tvb(p + 8, 1):uint()))
end

local function dissect_connect_response(tvb, pinfo, tree, p, len)
  if len < 16 then tree:add_proto_expert_info(E.payload_short); return end
  local result = le16(tvb, p)
  tree:add_le(F.conn_result, tvb(p, 2))
  tree:add_le(F.conn_queue_size, tvb(p + 2, 2))
  tree:add_le(F.conn_max_payload, tvb(p + 4, 4))
  tree:add(F.conn_digests, tvb(p + 8, 1))
  tree:add_le(F.conn_max_transfer, tvb(p + 12, 4))
  pinfo.cols.info:append(" " .. (connect_results[result] or ("result " .. result)))
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

local function dissect_retransmit(tvb, pinfo, tree, p, len)
  if len < 4 then tree:add_proto_expert_info(E.payload_short); return end
  local count = le16(tvb, p)
  tree:add_le(F.rr_count, tvb(p, 2))
  if len < 4 + 8 * count then
    tree:add_proto_expert_info(E.payload_short, "Payload shorter than 4 + 8 * count")
    count = math.floor((len - 4) / 8)
  end
  local parts = {}
  for i = 0, count - 1 do
    local o = p + 4 + 8 * i
    local r = tree:add(tvb(o, 8), string.format("Range %d: offset %d, length %d", i, le32(tvb, o), le32(tvb, o + 4)))
    r:add_le(F.rr_offset, tvb(o, 4))
    r:add_le(F.rr_length, tvb(o + 4, 4))
    if i < 4 then parts[#parts + 1] = string.format("%d+%d", le32(tvb, o), le32(tvb, o + 4)) end
  end
  if count == 0 then
    pinfo.cols.info:append(" (no ranges)")
  else
    pinfo.cols.info:append(" ranges " .. table.concat(parts, ",") .. (count > 4 and ",..." or ""))
  end
end

local function dissect_discover_reply(tvb, pinfo, tree, p, len)
  if len < 4 then tree:add_proto_expert_info(E.payload_short); return end
  local count = le16(tvb, p)
  tree:add_le(F.dr_count, tvb(p, 2))
  local o, stop = p + 4, p + len
  local names = {}
  for i = 1, count do
    if o + 12 > stop then tree:add_proto_expert_info(E.payload_short, "Entry " .. i .. " truncated"); break end
    local nlen = tvb(o, 1):uint()
    if o + 12 + nlen > stop then tree:add_proto_expert_info(E.payload_short, "Entry " .. i .. " NQN truncated"); break end
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
  pinfo.cols.info:append(string.format(" %d entr%s %s", count, count == 1 and "y" or "ies", table.concat(names, " ")))
end

-- ---------------------------------------------------------------- main

local function dissect(tvb, pinfo, root)
  local avail = tvb:len()
  pinfo.cols.protocol = "nvmeoe"
  local tree = root:add(nvmeoe, tvb(0, math.min(avail, HEADER_SIZE)))
  if avail < HEADER_SIZE then
    tree:add_proto_expert_info(E.truncated, string.format("Frame has %d of the 32 header bytes", avail))
    pinfo.cols.info = "nvmeoe truncated header"
    return avail
  end

  local version = tvb(0, 1):uint()
  local kind = tvb(1, 1):uint()
  local flags = tvb(2, 1):uint()
  local qid = le16(tvb, 4)
  local cntlid = le16(tvb, 6)
  local nonce = le32(tvb, 8)
  local cid = le16(tvb, 12)
  local len = le16(tvb, 14)
  local offset = le32(tvb, 16)
  local total = le32(tvb, 20)
  local gen = le32(tvb, 24)
  local hd = le32(tvb, 28)
  local kname = kind_names[kind] or string.format("Unknown kind %d", kind)
  tree:append_text(", " .. kname)

  local vi = tree:add(F.version, tvb(0, 1))
  if version ~= 1 then vi:add_proto_expert_info(E.bad_version, "Version " .. version .. " (v1 peers drop it)") end
  local ki = tree:add(F.kind, tvb(1, 1))
  tree:add(F.kind_name, tvb(1, 1), kname)
  if not kind_names[kind] then ki:add_proto_expert_info(E.bad_kind) end
  local fi = tree:add(F.flags, tvb(2, 1))
  fi:add(F.flag_hdgst, tvb(2, 1))
  fi:add(F.flag_ddgst, tvb(2, 1))
  fi:add(F.flag_last, tvb(2, 1))
  fi:add(F.flag_retry, tvb(2, 1))
  fi:add(F.flag_rsvd, tvb(2, 1))
  if bit32.band(flags, 0xf0) ~= 0 then fi:add_proto_expert_info(E.reserved, "Reserved flag bits set") end
  local ri = tree:add(F.reserved, tvb(3, 1))
  if tvb(3, 1):uint() ~= 0 then ri:add_proto_expert_info(E.reserved, "Reserved header byte not 0") end
  tree:add_le(F.qid, tvb(4, 2))
  tree:add_le(F.cntlid, tvb(6, 2))
  tree:add_le(F.nonce, tvb(8, 4))
  tree:add_le(F.cid, tvb(12, 2))
  tree:add_le(F.length, tvb(14, 2))
  tree:add_le(F.offset, tvb(16, 4))
  tree:add_le(F.total, tvb(20, 4))
  tree:add_le(F.gen, tvb(24, 4))
  local hi = tree:add_le(F.hdgst, tvb(28, 4))
  local has_hd = bit32.band(flags, 0x01) ~= 0
  local has_dd = bit32.band(flags, 0x02) ~= 0
  local check = nvmeoe.prefs.check_digests
  if has_hd then
    if check then
      local want = crc32c(tvb, 0, 28)
      local ok = want == hd
      tree:add(F.hdgst_ok, tvb(28, 4), ok)
      if not ok then
        hi:add_proto_expert_info(E.hdgst_bad, string.format("Header digest 0x%08x, computed 0x%08x", hd, want))
      end
    end
  elseif hd ~= 0 then
    hi:add_proto_expert_info(E.hdgst_nonzero)
  end

  pinfo.cols.info = string.format("%s q%d", kname, qid)

  -- Payload bounds (PROTOCOL.md §3.2 checks 7 and 8).
  local p = HEADER_SIZE
  local need = HEADER_SIZE + len + (has_dd and 4 or 0)
  local plen = len
  if avail < need then
    tree:add_proto_expert_info(E.truncated,
      string.format("Header says %d payload bytes%s, frame has %d after the header", len, has_dd and " + digest" or "",
        avail - HEADER_SIZE))
    plen = math.max(0, math.min(len, avail - HEADER_SIZE))
    has_dd = false  -- no digest to check
    pinfo.cols.info:append(" [truncated]")
  elseif avail > need then
    if avail + 14 <= 60 then
      tree:add(F.padding, tvb(need, avail - need))
    else
      tree:add_proto_expert_info(E.bad_length, string.format("%d bytes after the payload", avail - need))
    end
  end
  tree:set_len(math.min(avail, need))

  if has_dd then
    local di = tree:add_le(F.ddgst, tvb(p + len, 4))
    if check then
      local got = le32(tvb, p + len)
      local want = crc32c(tvb, p, len)
      local ok = got == want
      tree:add(F.ddgst_ok, tvb(p + len, 4), ok)
      if not ok then
        di:add_proto_expert_info(E.ddgst_bad, string.format("Data digest 0x%08x, computed 0x%08x", got, want))
      end
    end
  end

  local src, dst = pinfo.dl_src, pinfo.dl_dst
  if kind == 1 then
    pinfo.cols.info:append(string.format(" nonce 0x%08x", nonce))
    dissect_connect_request(tvb, pinfo, tree, p, plen)
  elseif kind == 2 then
    pinfo.cols.info:append(string.format(" nonce 0x%08x", nonce))
    dissect_connect_response(tvb, pinfo, tree, p, plen)
  elseif kind == 3 then
    if plen < 64 then
      tree:add_proto_expert_info(E.payload_short, "Command payload shorter than the 64-byte SQE")
    else
      local name, detail, opcode, fctype = dissect_sqe(tvb, pinfo, tree, p, qid)
      local retry = bit32.band(flags, 0x08) ~= 0
      pinfo.cols.info:append(string.format(" cid %d gen %d %s%s%s", cid, gen, name, detail, retry and " RETRY" or ""))
      if retry then tree:add_proto_expert_info(E.retransmission) end
      local icd = plen - 64
      if icd > 0 then
        local it = tree:add(F.icd, tvb(p + 64, icd))
        it:set_text(string.format("In-capsule data (%d bytes)", icd))
        if opcode == 0x7f and fctype == 0x01 then dissect_connect_data(tvb, it, p + 64, icd) end
        if opcode == 0x7f and fctype == 0x01 and icd >= 1024 then
          pinfo.cols.info:append(" " .. cstring(tvb, p + 64 + 256, 256))
        end
      end
      local key = assoc_key(src, dst, qid, nonce, cid, gen)
      if not pinfo.visited and not commands[key] then
        commands[key] = { frame = pinfo.number, time = pinfo.abs_ts, name = name }
      end
      local c = commands[key]
      if c and c.frame ~= pinfo.number then
        tree:add(F.request_in, c.frame):set_text("First transmission in frame " .. c.frame)
      end
      if responses[key] then tree:add(F.response_in, responses[key]) end
    end
  elseif kind == 4 then
    if plen < 16 then
      tree:add_proto_expert_info(E.payload_short, "Response payload shorter than the 16-byte CQE")
    else
      local name, ok = dissect_cqe(tvb, tree, p)
      local key = assoc_key(dst, src, qid, nonce, cid, gen)
      local c = commands[key]
      pinfo.cols.info:append(string.format(" cid %d gen %d %s%s", cid, gen, c and (c.name .. ": ") or "", name))
      if not ok then tree:add_proto_expert_info(E.status_error, name) end
      if not pinfo.visited and not responses[key] then responses[key] = pinfo.number end
      if c then
        tree:add(F.request_in, c.frame)
        local dt = pinfo.abs_ts - c.time
        tree:add(F.service_time, dt)
      end
    end
  elseif kind == 5 then
    pinfo.cols.info:append(string.format(" cid %d gen %d off %d len %d of %d%s", cid, gen, offset, len, total,
      bit32.band(flags, 0x04) ~= 0 and " LAST" or ""))
    if plen > 0 then tree:add(F.data, tvb(p, plen)) end
  elseif kind == 6 then
    pinfo.cols.info:append(string.format(" cid %d gen %d", cid, gen))
    dissect_retransmit(tvb, pinfo, tree, p, plen)
  elseif kind == 7 then
    if plen < 4 then
      tree:add_proto_expert_info(E.payload_short)
    else
      local reason = le16(tvb, p)
      tree:add_le(F.term_reason, tvb(p, 2))
      pinfo.cols.info:append(string.format(" nonce 0x%08x: %s", nonce, terminate_reasons[reason] or ("reason " .. reason)))
    end
  elseif kind == 8 then
    if plen < 512 then
      tree:add_proto_expert_info(E.payload_short, "Discover Query shorter than 512 bytes")
    else
      local host = cstring(tvb, p, 256)
      local sub = cstring(tvb, p + 256, 256)
      tree:add(F.dq_hostnqn, tvb(p, 256), host)
      tree:add(F.dq_subnqn, tvb(p + 256, 256), sub)
      pinfo.cols.info:append(string.format(" nonce 0x%08x from %s%s", nonce, host, sub ~= "" and (" for " .. sub) or ""))
    end
  elseif kind == 9 then
    pinfo.cols.info:append(string.format(" nonce 0x%08x off %d of %d", nonce, offset, total))
    dissect_discover_reply(tvb, pinfo, tree, p, plen)
  end
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
