//! A device that refuses, garbles, truncates or lies: every case is an error naming it, never a
//! panic; refusals leave the device usable, protocol violations leave it FAILED for good, and
//! no DMA memory is freed while the device may still use it.

mod common;

use common::{Rig, BOTH, HEIGHT, WIDTH};
use virtio::sim::gpu::*;
use virtio::sim::{CompletionOrder, Interface, Misbehaviour};
use virtio::status::FAILED;
use virtio::VirtioError;
use virtio_gpu::{Gpu, GpuError, Rect};

const RECT: Rect = Rect::new(1, 2, 3, 4);

fn running(interface: Interface) -> (Rig, Gpu) {
    let rig = Rig::new(interface, WIDTH, HEIGHT);
    let gpu = rig.bring_up().expect("bring-up");
    (rig, gpu)
}

#[test]
fn an_error_response_fails_the_request_but_not_the_device() {
    for interface in BOTH {
        let (rig, mut gpu) = running(interface);
        rig.view.answer_badly(CMD_RESOURCE_FLUSH, BadReply::Type(RESP_ERR_INVALID_PARAMETER));
        let error = gpu.flush(RECT).unwrap_err();
        assert_eq!(error, GpuError::Device { command: CMD_RESOURCE_FLUSH, code: RESP_ERR_INVALID_PARAMETER });
        assert_eq!(error.to_string(), "device answered RESOURCE_FLUSH with ERR_INVALID_PARAMETER (0x1205)");
        assert_eq!(rig.device.status() & FAILED, 0);
        gpu.flush(RECT).expect("the next flush works");
    }
}

/// Breaks the device with a bad answer to `command` during a flush and checks the outcome.
fn expect_broken_by(reply: BadReply, command: u32, expected: GpuError, message: &str) {
    let (rig, mut gpu) = running(Interface::Modern);
    rig.view.answer_badly(command, reply);
    let error = gpu.flush(RECT).unwrap_err();
    assert_eq!(error, expected);
    assert_eq!(error.to_string(), message);
    assert_ne!(rig.device.status() & FAILED, 0, "device marked FAILED");
    let commands = rig.view.commands().len();
    assert_eq!(gpu.flush(RECT).unwrap_err(), expected, "the GPU stays broken");
    assert_eq!(gpu.poll_completions().unwrap_err(), expected);
    assert_eq!(rig.view.commands().len(), commands, "and sends nothing more");
    drop(gpu);
    assert_ne!(rig.device.status() & FAILED, 0, "still FAILED after the teardown's reset");
    assert_eq!(rig.dma_live(), 0);
}

#[test]
fn a_garbled_response_type_breaks_the_device() {
    let expected = GpuError::UnexpectedResponse { command: CMD_TRANSFER_TO_HOST_2D, response: 0xdead };
    let message = "device answered TRANSFER_TO_HOST_2D with response type 0xdead";
    expect_broken_by(BadReply::Type(0xdead), CMD_TRANSFER_TO_HOST_2D, expected, message);
}

#[test]
fn a_success_type_that_belongs_to_another_command_breaks_the_device() {
    let expected = GpuError::UnexpectedResponse { command: CMD_RESOURCE_FLUSH, response: RESP_OK_DISPLAY_INFO };
    let message = "device answered RESOURCE_FLUSH with response type 0x1101";
    expect_broken_by(BadReply::Type(RESP_OK_DISPLAY_INFO), CMD_RESOURCE_FLUSH, expected, message);
}

#[test]
fn a_short_response_breaks_the_device() {
    for len in [0, 3, 8, 23] {
        let expected = GpuError::ShortResponse { command: CMD_RESOURCE_FLUSH, len: len as usize, expected: 24 };
        let message = format!("device wrote {len} bytes in answer to RESOURCE_FLUSH, expected 24");
        expect_broken_by(BadReply::Truncated(len), CMD_RESOURCE_FLUSH, expected, &message);
    }
}

#[test]
fn a_lying_used_ring_breaks_the_device() {
    let (rig, mut gpu) = running(Interface::Legacy);
    rig.device.misbehave(Misbehaviour::UsedLenTooLong);
    let error = gpu.flush(RECT).unwrap_err();
    assert!(matches!(error, GpuError::Virtio(VirtioError::UsedLenTooLong { len: 25, capacity: 24, .. })), "{error:?}");
    assert_ne!(rig.device.status() & FAILED, 0);
}

#[test]
fn bad_answers_during_bring_up_fail_the_probe() {
    let cases = [
        (CMD_GET_DISPLAY_INFO, BadReply::Truncated(100), "device wrote 100 bytes in answer to GET_DISPLAY_INFO, expected 408"),
        (CMD_GET_DISPLAY_INFO, BadReply::Type(RESP_OK_NODATA), "device answered GET_DISPLAY_INFO with response type 0x1100"),
        (CMD_RESOURCE_CREATE_2D, BadReply::Type(RESP_ERR_OUT_OF_MEMORY), "device answered RESOURCE_CREATE_2D with ERR_OUT_OF_MEMORY (0x1201)"),
        (CMD_RESOURCE_ATTACH_BACKING, BadReply::Type(RESP_ERR_UNSPEC), "device answered RESOURCE_ATTACH_BACKING with ERR_UNSPEC (0x1200)"),
        (CMD_SET_SCANOUT, BadReply::Type(RESP_ERR_INVALID_SCANOUT_ID), "device answered SET_SCANOUT with ERR_INVALID_SCANOUT_ID (0x1202)"),
    ];
    for interface in BOTH {
        for (command, reply, message) in cases {
            let rig = Rig::new(interface, WIDTH, HEIGHT);
            rig.view.answer_badly(command, reply);
            let error = rig.bring_up().err().expect("bring-up must fail");
            assert_eq!(error.to_string(), message);
            assert_ne!(rig.device.status() & FAILED, 0, "{message}: FAILED");
            assert_eq!(rig.dma_live(), 0, "{message}: memory freed after the reset");
        }
    }
}

#[test]
fn a_silent_device_times_out_and_its_slots_come_back_when_it_answers() {
    let (rig, mut gpu) = running(Interface::Modern);
    rig.device.set_auto_complete(false);
    let error = gpu.flush(RECT).unwrap_err();
    assert!(matches!(error, GpuError::Virtio(VirtioError::TimedOut(_))), "{error:?}");
    assert_eq!(rig.device.status() & FAILED, 0, "slow is not broken");
    // The abandoned requests still hold their slots until the device answers them.
    assert_eq!(rig.device.held(0), 2);
    rig.device.complete(0, CompletionOrder::InOrder);
    gpu.poll_completions().expect("the late answers are collected");
    let tickets: Vec<_> = (0..4).map(|_| gpu.submit_flush(RECT).expect("every slot is free again")).collect();
    rig.device.complete(0, CompletionOrder::InOrder);
    gpu.poll_completions().expect("poll");
    for ticket in &tickets {
        assert_eq!(gpu.flush_outcome(ticket), Some(Ok(())));
    }
}

#[test]
fn a_device_that_does_not_reset_keeps_its_memory() {
    let (rig, gpu) = running(Interface::Modern);
    let live = rig.dma_live();
    rig.device.misbehave(Misbehaviour::StuckReset);
    drop(gpu);
    assert_eq!(rig.dma_live(), live, "leaked on purpose: the device may still write to it");
}
