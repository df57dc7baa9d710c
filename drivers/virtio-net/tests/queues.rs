//! The queue paths on legacy and modern simulated devices: the receive queue stays full, frames
//! arrive intact behind the right header size, transmit buffers come back in any order, and
//! nothing is leaked.

mod common;

use common::{frame, Rig, BUFFERS, MAC};
use virtio::sim::net::{CONFIG_STATUS, F_MAC, RX_QUEUE, STATUS_LINK_UP};
use virtio::sim::{CompletionOrder, Interface, Misbehaviour};
use virtio::status::{DRIVER_OK, FAILED};
use registry::DmaDirection;
use virtio_net::{Link, MacAddress, NetError, MAX_FRAME_LEN};

const BOTH: [Interface; 2] = [Interface::Legacy, Interface::Modern];

#[test]
fn receive_queue_starts_full_and_every_frame_refills_it() {
    for interface in BOTH {
        let mut rig = Rig::new(interface);
        assert_eq!(rig.device.status() & DRIVER_OK, DRIVER_OK);
        assert_eq!(rig.posted(), BUFFERS, "{interface:?}: every buffer given at start");
        assert_eq!(rig.nic.receive(), Ok(None));
        // More frames than buffers, of every length from the smallest to the largest: each one
        // must come out exactly as delivered (a wrong header size shifts it), and its buffer
        // must go straight back.
        for (seed, len) in (14..=MAX_FRAME_LEN).step_by(5).enumerate() {
            let sent = frame(seed as u32, len);
            rig.device_delivers(sent.clone());
            assert_eq!(rig.nic.receive(), Ok(Some(&sent[..])), "{interface:?}: frame {seed} of {len} bytes");
            assert_eq!(rig.posted(), BUFFERS, "{interface:?}: refilled after frame {seed}");
        }
        assert_eq!(rig.nic.receive(), Ok(None));
    }
}

#[test]
fn every_receive_buffer_can_hold_a_frame_at_once() {
    for interface in BOTH {
        let mut rig = Rig::new(interface);
        // Fill every buffer before the driver looks: overlapping buffers would corrupt frames.
        let frames: Vec<Vec<u8>> = (0..BUFFERS as u32).map(|seed| frame(seed, 60 + seed as usize * 11)).collect();
        for sent in &frames {
            rig.device_delivers(sent.clone());
        }
        assert_eq!(rig.posted(), 0);
        for sent in &frames {
            assert_eq!(rig.nic.receive(), Ok(Some(&sent[..])), "{interface:?}");
        }
        assert_eq!(rig.posted(), BUFFERS);
    }
}

#[test]
fn transmit_buffers_are_reclaimed_whatever_the_completion_order() {
    for interface in BOTH {
        let mut rig = Rig::new(interface);
        let orders = [CompletionOrder::InOrder, CompletionOrder::Reversed, CompletionOrder::Shuffled(7)];
        for (round, order) in orders.into_iter().enumerate() {
            let frames: Vec<Vec<u8>> = (0..BUFFERS).map(|i| frame((round * 1000 + i) as u32, 14 + i * 11)).collect();
            for sent in &frames {
                assert_eq!(rig.nic.transmit(sent), Ok(true));
            }
            assert_eq!(rig.device.held(1), BUFFERS, "{interface:?}: all in flight at once");
            assert_eq!(rig.nic.transmit(&frames[0]), Ok(false), "no buffer left");
            let mut received = rig.device_sends(order);
            assert_eq!(received.len(), BUFFERS);
            if order == CompletionOrder::InOrder {
                assert_eq!(received, frames, "{interface:?}: frames intact, in order");
            }
            let mut expected = frames.clone();
            expected.sort();
            received.sort();
            assert_eq!(received, expected, "{interface:?}: every frame sent once, intact ({order:?})");
        }
        // The transmits of the last round reclaim the buffers of the round before.
        rig.nic.reclaim_transmitted().unwrap();
        assert!(rig.nic.transmit(&frame(0, 64)).unwrap());
    }
}

#[test]
fn frames_of_impossible_lengths_are_refused_without_harm() {
    let mut rig = Rig::new(Interface::Modern);
    for len in [0, 13, MAX_FRAME_LEN + 1] {
        assert_eq!(rig.nic.transmit(&vec![0; len]), Err(NetError::FrameLength { len }));
    }
    assert_eq!(rig.device.held(1), 0);
    assert!(rig.nic.transmit(&frame(1, 14)).unwrap(), "the NIC still works");
    assert_eq!(rig.device_sends(CompletionOrder::InOrder), [frame(1, 14)]);
}

#[test]
fn link_state_follows_the_device() {
    let mut rig = Rig::new(Interface::Modern);
    assert_eq!(rig.nic.link(), Ok(Link::Up));
    rig.device.change_config(CONFIG_STATUS, &0u16.to_le_bytes());
    assert_eq!(rig.nic.link(), Ok(Link::Down));
    rig.device.change_config(CONFIG_STATUS, &STATUS_LINK_UP.to_le_bytes());
    assert_eq!(rig.nic.link(), Ok(Link::Up));

    let (_, _, _, nic) = Rig::start(Interface::Legacy, MAC, |device| device.set_offered_features(F_MAC));
    assert_eq!(nic.unwrap().link(), Ok(Link::Unreported), "no STATUS feature: assumed up");
}

#[test]
fn mac_comes_from_the_device_and_must_be_unicast() {
    let rig = Rig::new(Interface::Legacy);
    assert_eq!(rig.nic.mac(), MacAddress(MAC));
    assert_eq!(rig.nic.mac().to_string(), "52:54:00:12:34:56");

    for bad in [[0x01, 0, 0x5e, 0, 0, 1], [0; 6]] {
        let (_, device, _, nic) = Rig::start(Interface::Modern, bad, |_| {});
        assert_eq!(nic.err(), Some(NetError::MacNotUnicast(MacAddress(bad))));
        assert_eq!(device.status() & FAILED, FAILED);
    }

    let (_, _, _, nic) = Rig::start(Interface::Modern, MAC, |device| device.set_offered_features(virtio::features::VERSION_1));
    let nic = nic.unwrap();
    assert!(nic.mac().is_unicast() && nic.mac() != MacAddress(MAC), "a locally administered fallback");
    assert_eq!(nic.mac().0[0] & 2, 2);
}

#[test]
fn queue_sizes_are_what_the_device_allows() {
    let (_, _, _, nic) = Rig::start(Interface::Modern, MAC, |device| device.set_queue_max(RX_QUEUE, 100));
    assert_eq!(nic.unwrap().queue_sizes(), (64, 256));
    let (_, device, _, nic) = Rig::start(Interface::Modern, MAC, |device| device.set_queue_max(1, 1));
    assert!(matches!(nic.err(), Some(NetError::Virtio(virtio::VirtioError::QueueNotAvailable(1)))));
    assert_eq!(device.status() & FAILED, FAILED);
}

#[test]
fn dropping_the_nic_resets_the_device_and_frees_all_its_memory() {
    for interface in BOTH {
        let mut rig = Rig::new(interface);
        // Frames in flight both ways when it goes.
        rig.device_delivers(frame(1, 100));
        assert!(rig.nic.transmit(&frame(2, 100)).unwrap());
        let host = rig.platform.host();
        assert_eq!(host.dma_live(), 4, "{interface:?}: two rings and two buffer areas");
        drop(rig.nic);
        assert_eq!(host.dma_live(), 0, "{interface:?}");
        assert_eq!(rig.device.status(), 0, "{interface:?}: reset");
    }
}

#[test]
fn a_device_that_does_not_reset_keeps_its_memory() {
    let rig = Rig::new(Interface::Modern);
    rig.device.misbehave(Misbehaviour::StuckReset);
    let host = rig.platform.host();
    drop(rig.nic);
    assert_eq!(host.dma_live(), 4, "leaked rather than freed under a device that may still write it");
}

#[test]
fn frames_are_synced_for_the_cpu_when_received_and_for_the_device_when_sent_or_refilled() {
    let mut rig = Rig::new(Interface::Modern);
    rig.platform.record_syncs();
    let sent = frame(1, 200);
    rig.device_delivers(sent.clone());
    assert_eq!(rig.nic.receive(), Ok(Some(&sent[..])));
    let syncs = rig.platform.syncs();
    // The receive buffer's frame area (the device wrote it) before it goes back to the device.
    let for_cpu = syncs.iter().position(|s| !s.for_device && s.direction == DmaDirection::FromDevice && s.len >= 1514);
    let Some(received) = for_cpu else { panic!("the received frame was not synced for the CPU: {syncs:#?}") };
    let refilled = syncs[received..].iter().any(|s| s.for_device && s.phys == syncs[received].phys);
    assert!(refilled, "the same buffer synced for the device when given back: {syncs:#?}");

    rig.platform.record_syncs();
    assert_eq!(rig.nic.transmit(&frame(2, 100)), Ok(true));
    let syncs = rig.platform.syncs();
    assert!(syncs.iter().any(|s| s.for_device && s.direction == DmaDirection::ToDevice && s.len == 100), "{syncs:#?}");
    assert_eq!(rig.device_sends(CompletionOrder::InOrder), [frame(2, 100)]);
}
