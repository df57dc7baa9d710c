//! Virtio device IDs (virtio 1.2, section 5 "Device Types") and the names `lsdev` shows.

pub const NET: u32 = 1;
pub const BLOCK: u32 = 2;
pub const CONSOLE: u32 = 3;
pub const ENTROPY: u32 = 4;
pub const BALLOON: u32 = 5;
pub const SCSI: u32 = 8;
pub const NINE_P: u32 = 9;
pub const GPU: u32 = 16;
pub const INPUT: u32 = 18;
pub const VSOCK: u32 = 19;
pub const CRYPTO: u32 = 20;
pub const IOMMU: u32 = 23;
pub const MEMORY: u32 = 24;
pub const SOUND: u32 = 25;
pub const FS: u32 = 26;

/// The child device's name for a virtio device ID, e.g. `virtio-net`.
pub fn device_name(device_id: u32) -> alloc::string::String {
    let known = match device_id {
        NET => "net",
        BLOCK => "blk",
        CONSOLE => "console",
        ENTROPY => "rng",
        BALLOON => "balloon",
        SCSI => "scsi",
        NINE_P => "9p",
        GPU => "gpu",
        INPUT => "input",
        VSOCK => "vsock",
        CRYPTO => "crypto",
        IOMMU => "iommu",
        MEMORY => "mem",
        SOUND => "sound",
        FS => "fs",
        other => return alloc::format!("virtio-{other}"),
    };
    alloc::format!("virtio-{known}")
}
