//! virtio-blk over a simulated disk that answers from the fuzzer's bytes (see `fuzz::virtio`):
//! bring-up, reads, writes, flushes, requests left in flight, capacity changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use virtio::sim::BlockModel;
use std::sync::Arc;

use virtio_blk::{BlockClass, Request, SECTOR_SIZE};

/// The disk's size in sectors at most (the driver's operations stay small and fast).
const MAX_SECTORS: usize = 64;
/// virtio-blk's config space (capacity .. the fields this driver reads).
const CONFIG_LEN: usize = 60;

fuzz_target!(|data: &[u8]| {
    let mut rig = fuzz::virtio::bring_up(data, |bytes, _, _| {
        let shape = bytes.u8();
        let mut model = BlockModel::new(1 + bytes.below(MAX_SECTORS));
        if shape & 1 != 0 {
            model = model.read_only();
        }
        if shape & 2 != 0 {
            model = model.with_blk_size(bytes.u32());
        }
        if shape & 4 != 0 {
            model = model.with_segment_limits(bytes.u32(), bytes.u32());
        }
        if shape & 8 != 0 {
            model = model.with_capacity(bytes.u64());
        }
        if shape & 16 != 0 {
            let id = bytes.take(20).to_vec();
            model = model.with_id((shape & 32 == 0).then_some(&id[..]));
        }
        if shape & 64 != 0 {
            model = model.without_flush();
        }
        model
    });
    let script = rig.script.clone();
    for _ in 0..64 {
        if !rig.device_step(CONFIG_LEN, 1) {
            break;
        }
        let Some((_, class)) = rig.registry.driver_data::<Arc<BlockClass>>().next() else { break };
        let mut disk = class.lock();
        let (op, sector, sectors) = script.with(|b| (b.u8(), b.u64() % 80, 1 + b.below(8)));
        let mut data = vec![0u8; sectors * SECTOR_SIZE];
        match op % 8 {
            0 => drop(disk.read(sector, &mut data)),
            1 => drop(disk.write(sector, &data)),
            2 => drop(disk.flush()),
            3 => drop(disk.read_with(sector, sectors as u64, |_, _| {})),
            4 => {
                if let Ok(buffer) = disk.buffer(sectors as u32) {
                    let request = match op & 8 != 0 {
                        true => Request::read(sector, buffer),
                        false => Request::write(sector, buffer),
                    };
                    let _ = disk.submit(request);
                }
            }
            5 => drop(disk.poll()),
            6 => drop(disk.wait()),
            _ => drop(disk.refresh_capacity()),
        }
        let _ = (disk.info().capacity_label(), disk.failure(), disk.pending());
    }
    let _ = registry::lsdev::text(&rig.registry);
    rig.finish();
});
