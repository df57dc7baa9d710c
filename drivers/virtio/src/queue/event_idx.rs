//! The EVENT_IDX test both sides of a split virtqueue apply (virtio 1.2, 2.7.7.2 and 2.7.10.1):
//! whether moving an index from `old` to `new` passes the `event` index the other side asked to
//! be told about.

/// True when `event` lies in `[old, new)` on the free-running u16 index: the other side asked
/// to hear once the index passes `event`, and this move is the one that passes it. The spec's
/// `vring_need_event`, wrapping included.
pub(crate) fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

#[cfg(test)]
mod tests {
    use super::need_event;

    #[test]
    fn only_the_move_that_passes_the_event_index_needs_an_event() {
        assert!(need_event(0, 1, 0), "the first entry after a zeroed event index");
        assert!(!need_event(5, 5, 0), "the index reached the event but did not pass it");
        assert!(need_event(5, 6, 0) && need_event(5, 6, 5), "a batch or a single step passing it");
        assert!(!need_event(5, 7, 6), "already passed by an earlier move");
        assert!(!need_event(3, 3, 3), "no move, no event");
        assert!(need_event(u16::MAX, 1, u16::MAX - 1), "across the wrap");
        assert!(!need_event(2, 1, u16::MAX), "an event ahead of the new index");
    }
}
