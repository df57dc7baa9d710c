//! Configuration-space register offsets and bits (PCI Local Bus 3.0, PCI-to-PCI Bridge 1.2).

pub const VENDOR_DEVICE: u16 = 0x00;
pub const COMMAND: u16 = 0x04;
pub const STATUS: u16 = 0x06;
pub const CLASS_REVISION: u16 = 0x08;
/// Cache line size, latency timer, header type, BIST.
pub const HEADER_TYPE_WORD: u16 = 0x0c;
pub const BAR0: u16 = 0x10;
pub const SUBSYSTEM: u16 = 0x2c;
pub const CAPABILITIES_POINTER: u16 = 0x34;
/// Interrupt line (low byte) and pin (next byte).
pub const INTERRUPT: u16 = 0x3c;

// Type 1 (bridge) header.
/// Primary, secondary, subordinate bus numbers, secondary latency timer.
pub const BRIDGE_BUSES: u16 = 0x18;
/// I/O base and limit (low byte each), secondary status.
pub const BRIDGE_IO: u16 = 0x1c;
/// Memory base and limit (bits 31:20 of each in the top 12 bits of each half).
pub const BRIDGE_MEMORY: u16 = 0x20;
pub const BRIDGE_PREFETCH: u16 = 0x24;
pub const BRIDGE_PREFETCH_BASE_UPPER: u16 = 0x28;
pub const BRIDGE_PREFETCH_LIMIT_UPPER: u16 = 0x2c;
pub const BRIDGE_IO_UPPER: u16 = 0x30;

pub const COMMAND_IO: u16 = 1 << 0;
pub const COMMAND_MEMORY: u16 = 1 << 1;
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;

pub const STATUS_CAPABILITIES: u16 = 1 << 4;

pub const HEADER_MULTI_FUNCTION: u8 = 0x80;
pub const HEADER_KIND_MASK: u8 = 0x7f;
pub const HEADER_ENDPOINT: u8 = 0;
pub const HEADER_BRIDGE: u8 = 1;

/// Endpoints have six BARs, bridges two.
pub const ENDPOINT_BARS: u8 = 6;
pub const BRIDGE_BARS: u8 = 2;
