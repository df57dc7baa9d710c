//! The control queue: each request in a DMA slot of its own, submitted without waiting;
//! completions collected by [`ControlQueue::poll`] and picked up by ticket; a blocking call on
//! top, which sleeps until the device's interrupt between looks.

use alloc::vec::Vec;

use registry::wait::TimedOut;
use registry::{DeviceHealth, DmaBuffer, Platform};
use virtio::dma::DmaAccess;
use virtio::{fail_device, Buffer, Interrupt, Negotiated, Transport, Used, VirtQueue, VirtioError};

use crate::protocol::{decode, Request, Response, MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE};
use crate::GpuError;

const CONTROL_QUEUE: u16 = 0;
/// Requests in flight at once: a flush is two (transfer, flush), and a few flushes may overlap.
const SLOTS: u16 = 8;
/// Each request is a chain of two descriptors: the request, then the response.
const QUEUE_SIZE: u16 = 2 * SLOTS;
/// Where a slot's response buffer starts (the request comes first).
const RESPONSE_AT: usize = MAX_REQUEST_SIZE.next_multiple_of(8);
const SLOT_SIZE: usize = RESPONSE_AT + MAX_RESPONSE_SIZE;
/// How long a blocking call waits for the device (a full-screen transfer under TCG included).
pub(crate) const CALL_TIMEOUT_NS: u64 = 5_000_000_000;
const WAIT_WHAT: &str = "the GPU to answer a control request";

/// A submitted request, to pick its outcome up with [`ControlQueue::take`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a ticket's outcome must be taken, or its slot stays busy"]
pub struct Ticket {
    slot: usize,
    /// Tells apart the successive requests of one slot.
    sequence: u32,
}

/// A request the device has not answered yet.
struct Pending {
    token: u16,
    sequence: u32,
    request: Request,
    /// Nobody waits for the outcome any more: the slot is free once the device answers.
    abandoned: bool,
}

/// One request's DMA memory and where that request is: free when neither pending nor done.
struct Slot {
    memory: DmaBuffer,
    pending: Option<Pending>,
    /// The sequence number and outcome of an answered request, until its ticket is taken.
    done: Option<(u32, Result<Response, GpuError>)>,
}

impl Slot {
    fn is_free(&self) -> bool {
        self.pending.is_none() && self.done.is_none()
    }
}

pub(crate) struct ControlQueue {
    queue: VirtQueue,
    /// What [`wait`](Self::wait) sleeps on.
    interrupt: Interrupt,
    slots: Vec<Slot>,
    next_sequence: u32,
    /// The first error that broke the device: every later operation returns it.
    broken: Option<GpuError>,
    /// The registry's record of the device, told when it breaks.
    health: DeviceHealth,
}

impl ControlQueue {
    pub(crate) fn new(
        transport: &mut dyn Transport,
        platform: &'static dyn Platform,
        negotiated: &Negotiated,
        interrupt: Interrupt,
    ) -> Result<Self, GpuError> {
        let queue = VirtQueue::new(transport, platform, negotiated, CONTROL_QUEUE, QUEUE_SIZE)?;
        // A flush is two requests in flight, each a chain of two descriptors.
        if queue.size() < 4 {
            return Err(GpuError::ControlQueueTooSmall(queue.size()));
        }
        let slots = (0..queue.size() / 2)
            .map(|_| DmaBuffer::new(platform, SLOT_SIZE, 8).map(|memory| Slot { memory, pending: None, done: None }))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| VirtioError::Memory { what: "control request buffers", error })?;
        Ok(ControlQueue { queue, interrupt, slots, next_sequence: 0, broken: None, health: DeviceHealth::detached() })
    }

    pub(crate) fn free_slots(&self) -> usize {
        self.slots.iter().filter(|s| s.is_free()).count()
    }

    /// Puts `request` on the queue and notifies the device.
    pub(crate) fn submit(&mut self, transport: &mut dyn Transport, request: &Request) -> Result<Ticket, GpuError> {
        self.check_working()?;
        let slot = self.slots.iter().position(Slot::is_free).ok_or(GpuError::Busy)?;
        let memory = &self.slots[slot].memory;
        memory.write_bytes(0, request.bytes());
        // A device that claims more than it wrote must not find the previous response there.
        memory.write_bytes(RESPONSE_AT, &[0; MAX_RESPONSE_SIZE]);
        let response_size = request.expects.response_size();
        let chain = [
            Buffer::readable(memory.phys(), request.bytes().len() as u32),
            Buffer::writable(memory.phys() + RESPONSE_AT as u64, response_size as u32),
        ];
        let token = self.queue.add(&chain).map_err(|e| self.fail(transport, e.into()))?;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        let sequence = self.next_sequence;
        self.slots[slot].pending = Some(Pending { token, sequence, request: request.clone(), abandoned: false });
        self.queue.notify(transport).map_err(|e| self.fail(transport, e.into()))?;
        Ok(Ticket { slot, sequence })
    }

    /// Collects every request the device has finished and checks its response. An error here
    /// is the device breaking the protocol (in the used ring or in a response), which marks it
    /// FAILED; a refused request is only its ticket's business.
    pub(crate) fn poll(&mut self, transport: &mut dyn Transport) -> Result<(), GpuError> {
        self.check_working()?;
        while let Some(used) = self.queue.pop_used() {
            let used = used.map_err(|e| self.fail(transport, e.into()))?;
            if let Some(Err(error)) = self.complete(used) {
                if error.breaks_device() {
                    return Err(self.fail(transport, error));
                }
            }
        }
        Ok(())
    }

    /// Decodes the response of the request `used` completes and records its outcome.
    fn complete(&mut self, used: Used) -> Option<Result<Response, GpuError>> {
        // The queue only returns chains in flight, and each of those is a slot's request.
        let slot = self.slots.iter_mut().find(|s| s.pending.as_ref().is_some_and(|p| p.token == used.token))?;
        let pending = slot.pending.take()?;
        // The queue checked the used length against the response buffer.
        let mut written = [0u8; MAX_RESPONSE_SIZE];
        let written = &mut written[..used.len as usize];
        slot.memory.read_bytes(RESPONSE_AT, written);
        let outcome = decode(&pending.request, written);
        if !pending.abandoned {
            slot.done = Some((pending.sequence, outcome.clone()));
        }
        Some(outcome)
    }

    /// The outcome of `ticket`'s request, once [`poll`](Self::poll) has collected it. It is
    /// handed out once.
    pub(crate) fn take(&mut self, ticket: Ticket) -> Option<Result<Response, GpuError>> {
        if !self.is_done(ticket) {
            return None;
        }
        self.slots[ticket.slot].done.take().map(|(_, outcome)| outcome)
    }

    pub(crate) fn is_done(&self, ticket: Ticket) -> bool {
        self.slots.get(ticket.slot).is_some_and(|s| s.done.as_ref().is_some_and(|(seq, _)| *seq == ticket.sequence))
    }

    /// Gives up on `ticket`: its slot is freed as soon as the device is done with it.
    pub(crate) fn abandon(&mut self, ticket: Ticket) {
        let Some(slot) = self.slots.get_mut(ticket.slot) else { return };
        if slot.done.as_ref().is_some_and(|(sequence, _)| *sequence == ticket.sequence) {
            slot.done = None;
        }
        if let Some(pending) = slot.pending.as_mut().filter(|p| p.sequence == ticket.sequence) {
            pending.abandoned = true;
        }
    }

    /// Waits (asleep between the device's interrupts, if it has any) until `ticket` is done,
    /// bounded by [`CALL_TIMEOUT_NS`]. On a timeout the request stays with the device, which
    /// may still answer it; its slot is freed then.
    pub(crate) fn wait(
        &mut self,
        transport: &mut dyn Transport,
        platform: &dyn Platform,
        ticket: Ticket,
    ) -> Result<Response, GpuError> {
        let mut failure = None;
        let interrupt = self.interrupt.clone();
        let waited = interrupt.wait(platform, CALL_TIMEOUT_NS, WAIT_WHAT, || {
            if let Err(error) = self.poll(transport) {
                failure = Some(error);
            }
            failure.is_some() || self.is_done(ticket)
        });
        if let Some(outcome) = self.take(ticket) {
            return outcome;
        }
        self.abandon(ticket);
        // Without a failure, a wait only returns before the ticket is done on a timeout.
        Err(failure.unwrap_or_else(|| {
            let timeout = waited.err().unwrap_or(TimedOut { what: WAIT_WHAT, after_ns: CALL_TIMEOUT_NS });
            VirtioError::TimedOut(timeout).into()
        }))
    }

    /// Submits `request` and waits for its response.
    pub(crate) fn call(
        &mut self,
        transport: &mut dyn Transport,
        platform: &dyn Platform,
        request: &Request,
    ) -> Result<Response, GpuError> {
        let ticket = self.submit(transport, request)?;
        self.wait(transport, platform, ticket)
    }

    /// Tells `health` of the error that broke the device (if one did) and of any later one.
    pub(crate) fn report_failures_to(&mut self, health: DeviceHealth) {
        if let Some(error) = &self.broken {
            health.fail(error);
        }
        self.health = health;
    }

    fn check_working(&self) -> Result<(), GpuError> {
        self.broken.clone().map_or(Ok(()), Err)
    }

    /// Records `error` if it breaks the device, marking the device FAILED the first time.
    pub(crate) fn fail(&mut self, transport: &mut dyn Transport, error: GpuError) -> GpuError {
        if error.breaks_device() && self.broken.is_none() {
            self.broken = Some(error.clone());
            fail_device(transport);
            self.health.fail(&error);
        }
        error
    }
}
