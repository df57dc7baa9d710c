//! A device that lies about what it received or sent: every lie is an error naming it, the
//! device is marked FAILED, and the NIC refuses all further work with the same error.

mod common;

use common::{frame, Rig};
use virtio::sim::net::{RX_QUEUE, TX_QUEUE};
use virtio::sim::{CompletionOrder, Interface, Misbehaviour};
use virtio::status::FAILED;
use virtio::VirtioError;
use virtio_net::NetError;

/// The NIC has stopped for `expected`, for good, and told the device.
fn assert_stopped(rig: &mut Rig, expected: &NetError) {
    assert_eq!(rig.device.status() & FAILED, FAILED, "device marked FAILED");
    assert_eq!(rig.nic.error(), Some(expected));
    assert_eq!(rig.nic.receive().err().as_ref(), Some(expected));
    assert_eq!(rig.nic.transmit(&frame(0, 64)).err().as_ref(), Some(expected));
    assert_eq!(rig.nic.reclaim_transmitted().err().as_ref(), Some(expected));
}

#[test]
fn received_lengths_shorter_than_a_header_and_an_ethernet_header() {
    for (interface, header_len) in [(Interface::Legacy, 10), (Interface::Modern, 12)] {
        // A 13-byte "frame", and a receive completed with nothing in it (used length 0).
        for (frame_len, hand_in) in [(13usize, true), (0, false)] {
            let mut rig = Rig::new(interface);
            if hand_in {
                rig.link.hand_in(vec![0xaa; frame_len]);
            }
            assert!(rig.device.complete_next(RX_QUEUE));
            let len = if hand_in { (header_len + frame_len) as u32 } else { 0 };
            let expected = NetError::ReceivedTooShort { len, header_len };
            assert_eq!(rig.nic.receive(), Err(expected.clone()), "{interface:?}");
            assert!(expected.to_string().contains(&format!("{len}-byte receive")));
            assert_stopped(&mut rig, &expected);
        }
    }
}

#[test]
fn received_length_beyond_the_buffer() {
    let mut rig = Rig::new(Interface::Modern);
    rig.device.misbehave(Misbehaviour::UsedLenTooLong);
    rig.device_delivers(frame(1, 100));
    let Err(NetError::Virtio(VirtioError::UsedLenTooLong { len, capacity, .. })) = rig.nic.receive() else {
        panic!("expected a used-length error");
    };
    assert_eq!((len, capacity), (2048 - 16 + 12 + 1, 2048 - 16 + 12), "header and frame area, plus one");
    let expected = rig.nic.error().cloned().unwrap();
    assert_stopped(&mut rig, &expected);
}

#[test]
fn received_buffer_reported_twice() {
    let mut rig = Rig::new(Interface::Legacy);
    rig.device.misbehave(Misbehaviour::DuplicateCompletion);
    let token_of_first_buffer = 0;
    rig.device_delivers(frame(1, 100));
    let expected = NetError::Virtio(VirtioError::UsedIdNotInFlight { id: token_of_first_buffer });
    assert_eq!(rig.nic.receive(), Err(expected.clone()), "refused before the buffer goes back to the device");
    assert_stopped(&mut rig, &expected);
}

#[test]
fn received_header_claiming_segmentation() {
    let mut rig = Rig::new(Interface::Modern);
    // DATA_VALID alone is harmless (Linux's tap sets it without checksum offload): accepted.
    rig.link.hand_in_with_header(2, 0, frame(1, 80));
    assert!(rig.device.complete_next(RX_QUEUE));
    assert_eq!(rig.nic.receive(), Ok(Some(&frame(1, 80)[..])));
    // GSO_TCPV4 was never negotiated.
    rig.link.hand_in_with_header(0, 1, frame(2, 80));
    assert!(rig.device.complete_next(RX_QUEUE));
    let expected = NetError::ReceivedSegmentationOffload { gso_type: 1 };
    assert_eq!(rig.nic.receive(), Err(expected.clone()));
    assert_stopped(&mut rig, &expected);
}

#[test]
fn transmit_completion_claiming_bytes_written() {
    let mut rig = Rig::new(Interface::Legacy);
    rig.device.misbehave(Misbehaviour::UsedLenTooLong);
    assert_eq!(rig.nic.transmit(&frame(1, 64)), Ok(true));
    rig.device.complete(TX_QUEUE, CompletionOrder::InOrder);
    let Err(NetError::Virtio(VirtioError::UsedLenTooLong { len: 1, capacity: 0, .. })) = rig.nic.reclaim_transmitted() else {
        panic!("a transmit buffer has nothing for the device to write");
    };
    let expected = rig.nic.error().cloned().unwrap();
    assert_stopped(&mut rig, &expected);
}

#[test]
fn used_ids_outside_the_queue() {
    for queue in [RX_QUEUE, TX_QUEUE] {
        let mut rig = Rig::new(Interface::Modern);
        rig.device.misbehave(Misbehaviour::UsedIdOutOfRange);
        let result = if queue == RX_QUEUE {
            rig.device_delivers(frame(1, 64));
            rig.nic.receive().map(|_| ())
        } else {
            rig.nic.transmit(&frame(1, 64)).unwrap();
            rig.device.complete(TX_QUEUE, CompletionOrder::InOrder);
            rig.nic.reclaim_transmitted()
        };
        let expected = NetError::Virtio(VirtioError::UsedIdOutOfRange { id: 300, size: 256 });
        assert_eq!(result, Err(expected.clone()), "queue {queue}");
        assert_stopped(&mut rig, &expected);
    }
}

#[test]
fn a_failed_nic_still_frees_its_memory_and_stays_failed() {
    let mut rig = Rig::new(Interface::Modern);
    rig.device.complete_next(RX_QUEUE);
    assert!(rig.nic.receive().is_err());
    let host = rig.platform.host();
    drop(rig.nic);
    assert_eq!(host.dma_live(), 0);
    assert_eq!(rig.device.status(), FAILED, "reset, then FAILED again");
}
