//! ITS commands as the GICv3 architecture specification (IHI 0069, 5.3 "ITS commands") lays
//! them out: 32 bytes, four little-endian doublewords DW0-DW3, the command number in DW0 bits
//! 7:0. Only those this driver issues.

/// Command numbers.
const SYNC: u8 = 0x05;
const MAPD: u8 = 0x08;
const MAPC: u8 = 0x09;
const MAPTI: u8 = 0x0a;
const INV: u8 = 0x0c;
const INVALL: u8 = 0x0d;
const DISCARD: u8 = 0x0f;

/// DW2 bit 63 of MAPD and MAPC: the mapping is valid (0 unmaps).
const VALID: u64 = 1 << 63;
/// MAPD DW2: ITT_addr, bits 51:8 of the ITT's address (256-byte aligned).
const ITT_ADDRESS: u64 = 0x000f_ffff_ffff_ff00;
/// MAPC and SYNC DW2: RDbase, bits 51:16.
const RD_BASE: u64 = 0x000f_ffff_ffff_0000;

/// A redistributor as collections (MAPC) and SYNC name it: by processor number or physical
/// address, as `GITS_TYPER.PTA` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdBase {
    /// PTA 0: `GICR_TYPER.Processor_Number`.
    ProcessorNumber(u16),
    /// PTA 1: the physical address of the redistributor's RD_base frame (64 KiB aligned).
    Physical(u64),
}

impl RdBase {
    /// The RDbase field in place (DW2 bits 51:16).
    fn field(self) -> u64 {
        match self {
            RdBase::ProcessorNumber(number) => u64::from(number) << 16,
            RdBase::Physical(address) => address & RD_BASE,
        }
    }
}

/// One command, ready for the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command([u64; 4]);

impl Command {
    /// MAPD: device `device_id`'s events (`event_bits` of EventID, 1-32) translate through the
    /// interrupt translation table at `itt` (256-byte aligned).
    pub fn mapd(device_id: u32, itt: u64, event_bits: u32) -> Command {
        let size = u64::from(event_bits.clamp(1, 32) - 1);
        Command([with_device(MAPD, device_id), size, VALID | itt & ITT_ADDRESS, 0])
    }

    /// MAPD with V = 0: the device has no table any more; its events are dropped.
    pub fn unmapd(device_id: u32) -> Command {
        Command([with_device(MAPD, device_id), 0, 0, 0])
    }

    /// MAPC: collection `collection` is served by redistributor `target`.
    pub fn mapc(collection: u16, target: RdBase) -> Command {
        Command([u64::from(MAPC), 0, VALID | target.field() | u64::from(collection), 0])
    }

    /// MAPTI: event `event_id` of device `device_id` raises LPI `lpi` in `collection`.
    pub fn mapti(device_id: u32, event_id: u32, lpi: u32, collection: u16) -> Command {
        Command([with_device(MAPTI, device_id), u64::from(lpi) << 32 | u64::from(event_id), u64::from(collection), 0])
    }

    /// INV: the redistributor re-reads the configuration of the LPI the event maps to.
    pub fn inv(device_id: u32, event_id: u32) -> Command {
        Command([with_device(INV, device_id), u64::from(event_id), 0, 0])
    }

    /// INVALL: the redistributor re-reads the configuration of every LPI in `collection`.
    pub fn invall(collection: u16) -> Command {
        Command([u64::from(INVALL), 0, u64::from(collection), 0])
    }

    /// DISCARD: the event no longer maps to an LPI; a pending one is dropped.
    pub fn discard(device_id: u32, event_id: u32) -> Command {
        Command([with_device(DISCARD, device_id), u64::from(event_id), 0, 0])
    }

    /// SYNC: every earlier command's effects on redistributor `target` are complete when the
    /// ITS reads past this one.
    pub fn sync(target: RdBase) -> Command {
        Command([u64::from(SYNC), 0, target.field(), 0])
    }

    /// The four doublewords as the ITS reads them.
    pub fn words(&self) -> [u64; 4] {
        self.0
    }

    /// The command's name for errors, from its first doubleword.
    pub fn name(first_word: u64) -> &'static str {
        match first_word as u8 {
            SYNC => "SYNC",
            MAPD => "MAPD",
            MAPC => "MAPC",
            MAPTI => "MAPTI",
            INV => "INV",
            INVALL => "INVALL",
            DISCARD => "DISCARD",
            _ => "unknown",
        }
    }
}

/// DW0 of the commands that name a device: DeviceID in bits 63:32.
fn with_device(command: u8, device_id: u32) -> u64 {
    u64::from(device_id) << 32 | u64::from(command)
}
