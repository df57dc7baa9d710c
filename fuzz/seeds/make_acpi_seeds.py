#!/usr/bin/env python3
"""Writes the acpi target's seed inputs (fuzz/seeds/acpi/) from the real tables the acpi-tables
tests use (acpi/tests/fixtures/: Firecracker's MADT and MCFG), in the layout fuzz/src/acpi.rs
reads: a flags byte, then length-prefixed chunks: RSDP, root table, tables. The harness links
and checksums them (flags FIX_CHECKSUMS | LINK), through the RSDT or the XSDT."""
import pathlib
import struct

root = pathlib.Path(__file__).resolve().parents[2]
fixtures = root / "acpi" / "tests" / "fixtures"
out = root / "fuzz" / "seeds" / "acpi"
out.mkdir(parents=True, exist_ok=True)

def chunk(data: bytes) -> bytes:
    return struct.pack("<H", len(data)) + data

tables = [(fixtures / name).read_bytes() for name in ("firecracker-APIC.bin", "firecracker-MCFG.bin")]
for name, flags, rsdp_len in (("firecracker-rsdt", 0x3, 20), ("firecracker-xsdt", 0xB, 36), ("firecracker-search", 0x7, 20)):
    seed = bytes([flags]) + chunk(bytes(rsdp_len)) + chunk(bytes(36)) + b"".join(chunk(t) for t in tables)
    (out / f"{name}.bin").write_bytes(seed)
