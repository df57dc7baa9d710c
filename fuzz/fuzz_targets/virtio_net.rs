//! virtio-net over a simulated NIC that answers from the fuzzer's bytes (see `fuzz::virtio`):
//! bring-up, frames sent and received (the received ones from the fuzzer), the link status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use virtio::sim::net::{NetLink, NetModel};
use std::sync::Arc;

use virtio_net::NetClass;

/// virtio-net's config space: mac, status, max_virtqueue_pairs.
const CONFIG_LEN: usize = 10;
/// The longest Ethernet frame (no FCS) the NIC's receive buffers take.
const MAX_FRAME: usize = 1514;

fuzz_target!(|data: &[u8]| {
    let mut link: Option<NetLink> = None;
    let mut rig = fuzz::virtio::bring_up(data, |bytes, interface, _| {
        let (model, wire) = NetModel::new(interface, bytes.array());
        link = Some(wire);
        model
    });
    let link = link.expect("made by bring_up");
    let script = rig.script.clone();
    for _ in 0..64 {
        if !rig.device_step(CONFIG_LEN, 2) {
            break;
        }
        let Some((_, class)) = rig.registry.driver_data::<Arc<NetClass>>().next() else { break };
        let mut nic = class.lock();
        let op = script.u8();
        match op % 6 {
            0 => {
                let frame = script.with(|b| {
                    let len = b.below(MAX_FRAME + 20);
                    let mut frame = b.take(len).to_vec();
                    frame.resize(len, 0);
                    frame
                });
                let _ = nic.transmit(&frame);
            }
            1 => {
                let _ = nic.receive().map(|frame| frame.map(<[u8]>::len));
            }
            2 => {
                let frame = script.with(|b| {
                    let len = 14 + b.below(MAX_FRAME - 14 + 1);
                    let (flags, gso) = (b.u8(), b.u8());
                    let mut frame = b.take(len).to_vec();
                    frame.resize(len, 0);
                    (flags, gso, frame)
                });
                link.hand_in_with_header(frame.0, frame.1, frame.2);
            }
            3 => {
                let _ = (nic.link(), nic.link_label(), nic.take_link_change());
            }
            4 => {
                let _ = nic.reclaim_transmitted();
            }
            _ => {
                let _ = link.take_sent();
                let _ = (nic.mac(), nic.queue_sizes(), nic.error());
            }
        }
    }
    let _ = registry::lsdev::text(&rig.registry);
    rig.finish();
});
