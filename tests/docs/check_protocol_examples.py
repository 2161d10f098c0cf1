#!/usr/bin/env python3
"""Checks the worked examples of docs/PROTOCOL.md with a CRC32C written here, independently of
the C++ code: every version 2 example's header CRC (and data digest, where the dump holds the whole
frame) matches its bytes, every "CRC32C(bytes A..B) = 0x..." the document states matches the dump
above it, and the segment walk of each frame lands exactly on its header CRC. Exits 1 with a
message per mismatch. tests/unit/protocol_examples_test.cc checks that the dumps are what the
encoders produce."""
import re
import struct
import sys
from pathlib import Path


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def connect_data() -> bytes:
    """The connect data of example 15.2, from the values the document gives."""
    d = bytearray(1024)
    d[0:16] = bytes(range(0x10, 0x20))
    d[16:18] = b"\xff\xff"
    sub = b"nqn.2024-01.io.example:disk1"
    host = b"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"
    d[256:256 + len(sub)] = sub
    d[512:512 + len(host)] = host
    return bytes(d)


def main() -> int:
    doc_path = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
    doc = doc_path.read_text()
    errors = []
    assert crc32c(b"123456789") == 0xE3069283 and crc32c(bytes(32)) == 0x8A9136AA
    examples = list(re.finditer(r"<!-- example: (\S+) -->\n```\n(.*?)```", doc, re.S))
    if len(examples) < 10:
        errors.append(f"only {len(examples)} examples found")
    checked = 0
    for i, m in enumerate(examples):
        name = m.group(1)
        frame = bytes(int(b, 16) for line in m.group(2).strip().splitlines() for b in line.split()[1:])
        if name == "fabrics-connect":
            full = frame + connect_data()
            full += struct.pack("<I", crc32c(connect_data()))
        else:
            full = frame
        # Stated CRCs between this dump and the next one.
        end = examples[i + 1].start() if i + 1 < len(examples) else len(doc)
        for s in re.finditer(r"CRC32C\(bytes (\d+)\.\.(\d+)\) = 0x([0-9A-Fa-f]{8})", doc[m.end():end]):
            a, b, want = int(s.group(1)), int(s.group(2)), int(s.group(3), 16)
            if b >= len(full):
                errors.append(f"{name}: stated CRC over bytes {a}..{b} beyond the frame ({len(full)} bytes)")
            elif crc32c(full[a:b + 1]) != want:
                errors.append(f"{name}: CRC32C(bytes {a}..{b}) is {crc32c(full[a:b + 1]):#010x}, document says {want:#010x}")
            else:
                checked += 1
        if frame[14] != 2:
            continue  # the version 1 frames carry no CRC
        count = frame[16]
        at = 26
        for _ in range(count):
            at += 20 + struct.unpack_from("<H", frame, at + 4)[0]
        hcrc = struct.unpack_from("<I", frame, at)[0]
        if crc32c(frame[:at]) != hcrc:
            errors.append(f"{name}: header CRC {hcrc:#010x}, computed {crc32c(frame[:at]):#010x}")
        checked += 1
        data_len, at2 = 0, 26
        for _ in range(count):
            data_len += struct.unpack_from("<H", full, at2 + 6)[0]
            at2 += 20 + struct.unpack_from("<H", full, at2 + 4)[0]
        data_at = at + 4
        if frame[15] & 1:
            if len(full) < data_at + data_len + 4:
                errors.append(f"{name}: data digest missing")
                continue
            ddgst = struct.unpack_from("<I", full, data_at + data_len)[0]
            if crc32c(full[data_at:data_at + data_len]) != ddgst:
                errors.append(f"{name}: data digest {ddgst:#010x}, computed {crc32c(full[data_at:data_at + data_len]):#010x}")
            checked += 1
            expect = data_at + data_len + 4
        else:
            expect = data_at + data_len
        if len(full) != expect:
            errors.append(f"{name}: {len(full)} bytes, its segments say {expect}")
    for e in errors:
        print("FAIL", e)
    print(f"{len(examples)} examples, {checked} CRCs checked, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
