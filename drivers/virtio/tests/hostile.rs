//! A device that lies in the used ring: every lie is an error naming it, the device is marked
//! FAILED, the queue stays broken, and no descriptor is freed twice or leaked.

mod common;

use common::{BlockRig, Request};
use virtio::sim::{BlockModel, Interface, Misbehaviour};
use virtio::status::FAILED;
use virtio::{Interrupt, Used, VirtioError};

/// A block device over a 256-entry queue, misbehaving as told, with one 3-descriptor read
/// request submitted; returns the rig, the request and its token.
fn submit_to(misbehaviour: Misbehaviour) -> (BlockRig, Request, u16) {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(8), 256);
    rig.device.misbehave(misbehaviour);
    let request = Request::read(rig.platform, 0, 1);
    let token = rig.submit(&request);
    (rig, request, token)
}

/// Waits for the completion the device botched and checks the outcome is `expected`, for good.
fn expect_device_error(rig: &mut BlockRig, expected: VirtioError, message: &str) {
    let free_before = rig.queue.free_descriptors();
    let error = rig.queue.wait_used(&mut rig.transport, rig.platform, 1_000_000, &Interrupt::polled()).unwrap_err();
    assert_eq!(error, expected);
    assert_eq!(error.to_string(), message);
    assert_ne!(rig.device.status() & FAILED, 0, "device marked FAILED");
    assert_eq!(rig.queue.free_descriptors(), free_before, "nothing freed on the device's word");
    assert_eq!(rig.queue.pop_used(), Some(Err(expected.clone())), "the queue stays broken");
    let more = Request::flush(rig.platform);
    assert_eq!(rig.queue.add(&more.buffers()), Err(expected), "and takes no new work");
}

#[test]
fn used_id_beyond_the_queue() {
    let (mut rig, _request, _) = submit_to(Misbehaviour::UsedIdOutOfRange);
    let expected = VirtioError::UsedIdOutOfRange { id: 300, size: 256 };
    expect_device_error(&mut rig, expected, "device reported used id 300 beyond queue size 256");
}

#[test]
fn used_id_that_is_not_a_chain_head() {
    let (mut rig, _request, token) = submit_to(Misbehaviour::UsedIdNotHead);
    let id = token + 2; // the chain's third descriptor
    let message = format!("device reported used id {id}, which is not the head of a chain in flight");
    expect_device_error(&mut rig, VirtioError::UsedIdNotInFlight { id }, &message);
}

#[test]
fn used_length_beyond_the_writable_buffers() {
    let (mut rig, _request, token) = submit_to(Misbehaviour::UsedLenTooLong);
    let expected = VirtioError::UsedLenTooLong { id: token, len: 514, capacity: 513 };
    let message = format!("device reported 514 bytes written to chain {token}, which has 513 device-writable bytes");
    expect_device_error(&mut rig, expected, &message);
}

#[test]
fn used_index_jumping_ahead() {
    let (mut rig, _request, _) = submit_to(Misbehaviour::UsedIndexJump);
    let expected = VirtioError::UsedIndexAhead { moved: 258, in_flight: 1, size: 256 };
    expect_device_error(&mut rig, expected, "used index moved by 258, more than queue size 256 (1 in flight)");
}

#[test]
fn duplicate_completion_of_the_only_chain_in_flight() {
    let (mut rig, _request, _) = submit_to(Misbehaviour::DuplicateCompletion);
    let expected = VirtioError::UsedIndexAhead { moved: 2, in_flight: 1, size: 256 };
    expect_device_error(&mut rig, expected, "used index moved by 2, but only 1 in flight");
}

#[test]
fn duplicate_completion_is_never_freed_twice() {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(8), 256);
    rig.device.set_auto_complete(false);
    rig.device.misbehave(Misbehaviour::DuplicateCompletion);
    let (first, second) = (Request::read(rig.platform, 0, 1), Request::read(rig.platform, 1, 1));
    let first_token = rig.submit(&first);
    rig.submit(&second);
    // The device completes the first chain twice; the second stays in flight.
    rig.device.complete_next(0);
    assert_eq!(rig.queue.pop_used(), Some(Ok(Used { token: first_token, len: 513 })));
    assert_eq!(rig.queue.free_descriptors(), 253, "the first chain's three descriptors are back");
    let expected = VirtioError::UsedIdNotInFlight { id: first_token };
    let message = format!("device reported used id {first_token}, which is not the head of a chain in flight");
    expect_device_error(&mut rig, expected, &message);
    assert_eq!(rig.queue.in_flight(), 1);
}

#[test]
fn a_broken_queue_still_frees_all_its_memory() {
    let (mut rig, request, _) = submit_to(Misbehaviour::UsedIdOutOfRange);
    assert!(rig.queue.wait_used(&mut rig.transport, rig.platform, 1_000_000, &Interrupt::polled()).is_err());
    let host = rig.platform.host();
    drop((rig, request));
    assert_eq!(host.dma_live(), 0);
}
