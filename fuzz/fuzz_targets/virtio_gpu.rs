//! virtio-gpu over a simulated GPU that answers from the fuzzer's bytes (see `fuzz::virtio`):
//! bring-up (display info, resource, backing, scanout), drawing and flushes, waited for or
//! left in flight.
#![no_main]

use libfuzzer_sys::fuzz_target;
use virtio::sim::gpu::GpuModel;
use std::sync::Arc;

use virtio_gpu::{DisplayClass, Rect, Rgb};

/// virtio-gpu's config space: events_read, events_clear, num_scanouts, num_capsets.
const CONFIG_LEN: usize = 16;

fuzz_target!(|data: &[u8]| {
    let mut rig = fuzz::virtio::bring_up(data, |bytes, _, platform| {
        let scanouts: Vec<(u32, u32, bool)> =
            (0..1 + bytes.below(4)).map(|_| (u32::from(bytes.u8()), u32::from(bytes.u8()), bytes.u8() != 1)).collect();
        GpuModel::with_scanouts(platform, &scanouts)
    });
    let script = rig.script.clone();
    let mut tickets = Vec::new();
    for _ in 0..64 {
        if !rig.device_step(CONFIG_LEN, 2) {
            break;
        }
        let Some((_, class)) = rig.registry.driver_data::<Arc<DisplayClass>>().next() else { break };
        let mut gpu = class.lock();
        let (op, rect) = script.with(|b| {
            (b.u8(), Rect::new(u32::from(b.u16()), u32::from(b.u16()), u32::from(b.u8()), u32::from(b.u8())))
        });
        match op % 5 {
            0 => gpu.framebuffer().into_iter().for_each(|mut fb| fb.fill_rect(rect, Rgb::new(op, 0x80, 0x40))),
            1 => drop(gpu.flush(rect)),
            2 => {
                if let Ok(ticket) = gpu.submit_flush(rect) {
                    tickets.push(ticket);
                }
            }
            3 => drop(gpu.poll_completions()),
            _ => {
                for ticket in &tickets {
                    let _ = gpu.flush_outcome(ticket);
                }
            }
        }
        let _ = gpu.mode();
    }
    let _ = registry::lsdev::text(&rig.registry);
    rig.finish();
});
