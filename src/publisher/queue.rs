//! [`MessageQueue`]: encoded messages waiting for the broker, in fixed storage.
//!
//! The queue holds owned copies (topic, payload, QoS, retain) because the publisher's encode
//! buffer is reused for the next message. Its capacity is in the type, so the RAM it takes is
//! visible and no allocator is needed. When it is full the **oldest** message goes, counted in
//! [`dropped`](MessageQueue::dropped): recent readings are worth more than old ones, and a
//! loss is never silent.
//!
//! [`OutageQueue`] is what the [`ResilientPublisher`](super::ResilientPublisher) needs of a
//! queue: this RAM queue and the flash-backed [`FlashQueue`](super::FlashQueue) implement it.

use crate::message::{Message, QoS};
use core::fmt;

/// A message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum QueueError {
    /// Topic and payload together are longer than the whole queue: give the queue more
    /// bytes (its `BYTES` parameter) than the publisher's encode buffer.
    TooLarge {
        /// Topic plus payload, in bytes.
        len: usize,
        /// The queue's byte capacity.
        capacity: usize,
    },
    /// The flash under a [`FlashQueue`](super::FlashQueue) failed (a driver error, or the
    /// power was lost mid-operation). What had been stored stays stored as the flash has it;
    /// opening the queue again repairs an interrupted operation.
    Flash,
    /// The flash range holds data the queue cannot make sense of, even after
    /// sequential-storage's repair: erase the range (its messages are lost).
    Corrupted,
    /// The flash range does not suit the flash: its ends must lie on erase-page boundaries
    /// and it must span at least one page, and a page must hold at least one item.
    BadRange,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::TooLarge { len, capacity } => write!(
                f,
                "message of {len} bytes does not fit a queue of {capacity} bytes: \
                 make the queue larger than the encode buffer"
            ),
            QueueError::Flash => f.write_str("the queue's flash failed"),
            QueueError::Corrupted => {
                f.write_str("the queue's flash range is corrupted beyond repair: erase it")
            }
            QueueError::BadRange => f.write_str(
                "the queue's flash range must start and end on erase-page boundaries \
                 and span at least one page",
            ),
        }
    }
}

impl core::error::Error for QueueError {}

/// A store of encoded messages waiting for the broker, oldest first: what a
/// [`ResilientPublisher`](super::ResilientPublisher) keeps its outage queue in.
///
/// The publisher [`store`](Self::store)s every message before it is sent, reads the
/// [`oldest`](Self::oldest), sends it, and [`remove_oldest`](Self::remove_oldest) only once
/// the transport returned `Ok` (or called the message unsendable,
/// [`Transport::is_permanent`](crate::Transport::is_permanent)). An implementation keeps the order messages were stored in
/// and, when full, drops the oldest messages to make room, counting them in
/// [`dropped`](Self::dropped).
///
/// Implemented by [`MessageQueue`] (RAM, lost on reset) and
/// [`FlashQueue`](super::FlashQueue) (NOR flash, survives resets and power cuts).
#[allow(async_fn_in_trait)] // executors on MCUs are single-threaded; no Send bound wanted
pub trait OutageQueue {
    /// Stores a copy of `message` after every other, dropping the oldest messages if needed
    /// to make room; returns how many were dropped. `hold_ms`: how long the next message
    /// must wait after this one reached the broker (a sink's rate limit), kept for replays.
    async fn store(&mut self, message: &Message<'_>, hold_ms: u32) -> Result<usize, QueueError>;

    /// The oldest message and its `hold_ms`, if any; it stays stored.
    async fn oldest(&mut self) -> Result<Option<(Message<'_>, u32)>, QueueError>;

    /// The message `index` places behind the oldest (0: the oldest) and its `hold_ms`, if
    /// the queue holds one there; it stays stored. The publisher reads the messages of a
    /// QoS 1 window with it ([`MqttOptions::with_window`](crate::MqttOptions::with_window)),
    /// one at a time: reading one may overwrite what an earlier call returned.
    ///
    /// The default sees only the oldest (`None` for any other index), which keeps the
    /// window at one message.
    async fn peek(&mut self, index: usize) -> Result<Option<(Message<'_>, u32)>, QueueError> {
        if index == 0 {
            self.oldest().await
        } else {
            Ok(None)
        }
    }

    /// Removes the oldest message once it was delivered (not counted as dropped); `false` if
    /// the queue was empty.
    async fn remove_oldest(&mut self) -> Result<bool, QueueError>;

    /// How many messages are stored.
    fn len(&self) -> usize;

    /// Whether no message is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many messages were dropped, oldest first, to make room for newer ones.
    fn dropped(&self) -> u32;
}

impl<const MSGS: usize, const BYTES: usize> OutageQueue for MessageQueue<MSGS, BYTES> {
    async fn store(&mut self, message: &Message<'_>, hold_ms: u32) -> Result<usize, QueueError> {
        self.push_held(message, hold_ms)
    }

    async fn oldest(&mut self) -> Result<Option<(Message<'_>, u32)>, QueueError> {
        Ok(self.front_held())
    }

    async fn peek(&mut self, index: usize) -> Result<Option<(Message<'_>, u32)>, QueueError> {
        Ok(self.get_held(index))
    }

    async fn remove_oldest(&mut self) -> Result<bool, QueueError> {
        Ok(self.pop_front())
    }

    fn len(&self) -> usize {
        MessageQueue::len(self)
    }

    fn dropped(&self) -> u32 {
        MessageQueue::dropped(self)
    }
}

/// Where a queued message's bytes are and how to send it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    topic_len: usize,
    payload_len: usize,
    qos: QoS,
    retain: bool,
    /// How long the next message must wait after this one reached the broker (a sink's rate
    /// limit, measured when the message was encoded).
    hold_ms: u32,
}

impl Entry {
    fn len(&self) -> usize {
        self.topic_len + self.payload_len
    }
}

/// Up to `MSGS` messages holding up to `BYTES` bytes of topics and payloads in total, oldest
/// first.
///
/// Pushing into a full queue (either limit) drops the oldest messages until the new one
/// fits, and counts them in [`dropped`](MessageQueue::dropped). A message larger than
/// `BYTES` is refused with [`QueueError::TooLarge`] and nothing is dropped.
///
/// ```
/// use sensorpub::{Message, MessageQueue};
///
/// let mut queue = MessageQueue::<2, 64>::new();
/// queue.push(&Message::new("apricot/value", b"1"))?;
/// queue.push(&Message::new("apricot/value", b"2"))?;
/// queue.push(&Message::new("apricot/value", b"3"))?; // full: "1" goes
/// let payloads: Vec<&[u8]> = queue.iter().map(|m| m.payload).collect();
/// assert_eq!(payloads, [b"2", b"3"]);
/// assert_eq!(queue.dropped(), 1);
/// # Ok::<(), sensorpub::QueueError>(())
/// ```
pub struct MessageQueue<const MSGS: usize, const BYTES: usize> {
    /// Messages' bytes, topic then payload, back to back from `start`, oldest first.
    bytes: [u8; BYTES],
    start: usize,
    used: usize,
    entries: heapless::Deque<Entry, MSGS>,
    dropped: u32,
}

impl<const MSGS: usize, const BYTES: usize> Default for MessageQueue<MSGS, BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const MSGS: usize, const BYTES: usize> MessageQueue<MSGS, BYTES> {
    /// An empty queue. A queue that can hold nothing (`MSGS` or `BYTES` 0) does not compile.
    pub const fn new() -> Self {
        const {
            assert!(
                MSGS > 0 && BYTES > 0,
                "a MessageQueue needs MSGS > 0 and BYTES > 0"
            );
        }
        Self {
            bytes: [0; BYTES],
            start: 0,
            used: 0,
            entries: heapless::Deque::new(),
            dropped: 0,
        }
    }

    /// Appends a copy of `message`, dropping the oldest messages if needed to make room;
    /// returns how many were dropped.
    pub fn push(&mut self, message: &Message<'_>) -> Result<usize, QueueError> {
        self.push_held(message, 0)
    }

    /// [`push`](Self::push), noting that the message after this one must reach the broker
    /// `hold_ms` after it at the earliest.
    pub(crate) fn push_held(
        &mut self,
        message: &Message<'_>,
        hold_ms: u32,
    ) -> Result<usize, QueueError> {
        let entry = Entry {
            topic_len: message.topic.len(),
            payload_len: message.payload.len(),
            qos: message.qos,
            retain: message.retain,
            hold_ms,
        };
        let len = entry.len();
        if len > BYTES {
            return Err(QueueError::TooLarge {
                len,
                capacity: BYTES,
            });
        }
        let mut dropped = 0;
        while self.entries.is_full() || self.used + len > BYTES {
            if !self.pop_front() {
                break;
            }
            dropped += 1;
        }
        if dropped > 0 {
            crate::log::warn!(
                "outage queue full: dropped the {=usize} oldest messages",
                dropped
            );
        }
        self.dropped = self
            .dropped
            .saturating_add(u32::try_from(dropped).unwrap_or(u32::MAX));
        if self.start + self.used + len > BYTES {
            // Not enough room after the newest message: slide everything to the front.
            self.bytes
                .copy_within(self.start..self.start + self.used, 0);
            self.start = 0;
        }
        let at = self.start + self.used;
        self.bytes[at..at + entry.topic_len].copy_from_slice(message.topic.as_bytes());
        self.bytes[at + entry.topic_len..at + len].copy_from_slice(message.payload);
        // Room was made above, so this cannot fail; if it did, the message is refused
        // without touching the stored bytes' accounting.
        if self.entries.push_back(entry).is_ok() {
            self.used += len;
        }
        Ok(dropped)
    }

    /// Removes the oldest message; `false` if the queue was empty. Not counted as dropped:
    /// the publisher calls this once a message is delivered.
    pub fn pop_front(&mut self) -> bool {
        match self.entries.pop_front() {
            Some(entry) => {
                self.start += entry.len();
                self.used -= entry.len();
                if self.used == 0 {
                    self.start = 0;
                }
                true
            }
            None => false,
        }
    }

    /// The oldest message, if any.
    pub fn front(&self) -> Option<Message<'_>> {
        self.front_held().map(|(message, _)| message)
    }

    /// The oldest message and how long the next must wait after it.
    pub(crate) fn front_held(&self) -> Option<(Message<'_>, u32)> {
        let entry = self.entries.front()?;
        Some((self.message_at(self.start, entry), entry.hold_ms))
    }

    /// The message `index` places behind the oldest and its hold, if any.
    pub(crate) fn get_held(&self, index: usize) -> Option<(Message<'_>, u32)> {
        let mut at = self.start;
        for (i, entry) in self.entries.iter().enumerate() {
            if i == index {
                return Some((self.message_at(at, entry), entry.hold_ms));
            }
            at += entry.len();
        }
        None
    }

    fn message_at(&self, at: usize, entry: &Entry) -> Message<'_> {
        let topic = &self.bytes[at..at + entry.topic_len];
        // The bytes were copied from a `&str` and are only ever moved whole, so they are
        // UTF-8; an empty topic would be refused by the broker rather than misdelivered.
        let topic = core::str::from_utf8(topic).unwrap_or_default();
        let payload = &self.bytes[at + entry.topic_len..at + entry.len()];
        Message::new(topic, payload)
            .with_qos(entry.qos)
            .with_retain(entry.retain)
    }

    /// The queued messages, oldest (next to send) first.
    pub fn iter(&self) -> impl Iterator<Item = Message<'_>> + '_ {
        self.entries.iter().scan(self.start, move |at, entry| {
            let message = self.message_at(*at, entry);
            *at += entry.len();
            Some(message)
        })
    }

    /// How many messages are queued.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of topics and payloads queued.
    pub fn bytes_used(&self) -> usize {
        self.used
    }

    /// How many messages were dropped, oldest first, to make room for newer ones, since the
    /// queue was made.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Forgets every queued message (not counted as dropped: the caller chose to).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.start = 0;
        self.used = 0;
    }
}

impl<const MSGS: usize, const BYTES: usize> fmt::Debug for MessageQueue<MSGS, BYTES> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageQueue")
            .field("len", &self.len())
            .field("bytes_used", &self.used)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn payloads<const M: usize, const B: usize>(queue: &MessageQueue<M, B>) -> Vec<Vec<u8>> {
        queue.iter().map(|m| m.payload.to_vec()).collect()
    }

    fn msg(payload: &[u8]) -> Message<'_> {
        Message::new("t", payload)
    }

    #[test]
    fn keeps_messages_in_order_with_their_options() {
        let mut queue = MessageQueue::<4, 64>::new();
        queue
            .push(&Message::new("a/b", b"1").with_qos(QoS::AtLeastOnce))
            .unwrap();
        queue
            .push(&Message::new("c", b"22").with_retain(true))
            .unwrap();
        let all: Vec<Message<'_>> = queue.iter().collect();
        assert_eq!(
            all,
            [
                Message::new("a/b", b"1").with_qos(QoS::AtLeastOnce),
                Message::new("c", b"22").with_retain(true),
            ]
        );
        assert_eq!(queue.front(), Some(all[0]));
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.bytes_used(), 3 + 1 + 1 + 2);
    }

    #[test]
    fn peek_reads_the_ith_message_without_removing_any() {
        let mut queue = MessageQueue::<4, 64>::new();
        for (hold, payload) in [b"1", b"2", b"3"].into_iter().enumerate() {
            queue.push_held(&msg(payload), hold as u32).unwrap();
        }
        // Wrap the storage, so that peeking crosses the slide of `push_held`.
        assert!(queue.pop_front());
        queue.push_held(&msg(b"4"), 3).unwrap();
        embassy_futures::block_on(async {
            assert_eq!(queue.peek(0).await, Ok(Some((msg(b"2"), 1))));
            assert_eq!(queue.peek(2).await, Ok(Some((msg(b"4"), 3))));
            assert_eq!(queue.peek(3).await, Ok(None));
        });
        assert_eq!(payloads(&queue), [b"2", b"3", b"4"]);
    }

    #[test]
    fn pop_front_removes_the_oldest_without_counting_a_drop() {
        let mut queue = MessageQueue::<4, 64>::new();
        for p in [b"1", b"2", b"3"] {
            queue.push(&msg(p)).unwrap();
        }
        assert!(queue.pop_front());
        assert_eq!(payloads(&queue), [b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(queue.dropped(), 0);
        assert!(queue.pop_front() && queue.pop_front());
        assert!(!queue.pop_front());
        assert!(queue.is_empty());
        assert_eq!(queue.bytes_used(), 0);
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let mut queue = MessageQueue::<3, 64>::new();
        for p in [b"1", b"2", b"3"] {
            assert_eq!(queue.push(&msg(p)), Ok(0));
        }
        assert_eq!(queue.push(&msg(b"4")), Ok(1));
        assert_eq!(queue.push(&msg(b"5")), Ok(1));
        assert_eq!(
            payloads(&queue),
            [b"3".to_vec(), b"4".to_vec(), b"5".to_vec()]
        );
        assert_eq!(queue.dropped(), 2);
    }

    #[test]
    fn running_out_of_bytes_drops_as_many_old_messages_as_needed() {
        // 10 bytes: "t" + 4-byte payloads take 5 each.
        let mut queue = MessageQueue::<8, 10>::new();
        queue.push(&msg(b"aaaa")).unwrap();
        queue.push(&msg(b"bbbb")).unwrap();
        // 1 + 8 = 9 bytes: both older messages must go.
        assert_eq!(queue.push(&msg(b"cccccccc")), Ok(2));
        assert_eq!(payloads(&queue), [b"cccccccc".to_vec()]);
        assert_eq!(queue.dropped(), 2);
    }

    #[test]
    fn a_message_larger_than_the_queue_is_refused_and_nothing_is_dropped() {
        let mut queue = MessageQueue::<4, 8>::new();
        queue.push(&msg(b"1")).unwrap();
        assert_eq!(
            queue.push(&msg(b"12345678")),
            Err(QueueError::TooLarge {
                len: 9,
                capacity: 8
            })
        );
        assert_eq!(payloads(&queue), [b"1".to_vec()]);
        assert_eq!(queue.dropped(), 0);
    }

    #[test]
    fn storage_is_reused_after_wrapping_many_times() {
        // Odd sizes so the messages never line up with the end of the storage.
        let mut queue = MessageQueue::<3, 17>::new();
        let mut expected = std::collections::VecDeque::new();
        for i in 0..200u32 {
            let payload = std::format!("{i}");
            let topic = if i % 3 == 0 { "ab" } else { "abcd" };
            queue
                .push(&Message::new(topic, payload.as_bytes()))
                .unwrap();
            expected.push_back((topic, payload));
            while expected.len() > queue.len() {
                expected.pop_front();
            }
            if i % 4 == 0 {
                assert!(queue.pop_front());
                expected.pop_front();
            }
            let got: Vec<(&str, &[u8])> = queue.iter().map(|m| (m.topic, m.payload)).collect();
            let want: Vec<(&str, &[u8])> =
                expected.iter().map(|(t, p)| (*t, p.as_bytes())).collect();
            assert_eq!(got, want, "after message {i}");
        }
        assert!(queue.dropped() > 0);
    }

    #[test]
    fn clear_empties_without_counting_drops() {
        let mut queue = MessageQueue::<2, 16>::new();
        queue.push(&msg(b"1")).unwrap();
        queue.clear();
        assert!(queue.is_empty());
        assert_eq!(queue.dropped(), 0);
        queue.push(&msg(b"2")).unwrap();
        assert_eq!(payloads(&queue), [b"2".to_vec()]);
    }

    #[test]
    fn hold_travels_with_the_message() {
        let mut queue = MessageQueue::<2, 16>::new();
        queue.push_held(&msg(b"1"), 15_000).unwrap();
        queue.push(&msg(b"2")).unwrap();
        assert_eq!(queue.front_held().map(|(_, hold)| hold), Some(15_000));
        queue.pop_front();
        assert_eq!(queue.front_held().map(|(_, hold)| hold), Some(0));
    }

    /// One step of the property test: push a message of these sizes, or pop.
    #[derive(Debug, Clone)]
    enum Op {
        Push { topic: usize, payload: usize },
        Pop,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (1usize..12, 0usize..30).prop_map(|(topic, payload)| Op::Push { topic, payload }),
            1 => Just(Op::Pop),
        ]
    }

    proptest::proptest! {
        /// The queue behaves as an unbounded FIFO model that drops its oldest entries
        /// whenever either limit would be passed.
        #[test]
        fn matches_a_fifo_that_drops_the_oldest(ops in proptest::collection::vec(op(), 0..200)) {
            const MSGS: usize = 5;
            const BYTES: usize = 40;
            let mut queue = MessageQueue::<MSGS, BYTES>::new();
            let mut model: std::collections::VecDeque<(String, Vec<u8>)> = Default::default();
            let mut dropped = 0u32;
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Push { topic, payload } => {
                        let topic: String = "abcdefghijkl"[..topic].into();
                        let payload: Vec<u8> = (0..payload).map(|i| (n + i) as u8).collect();
                        let result = queue.push(&Message::new(&topic, &payload));
                        if topic.len() + payload.len() > BYTES {
                            proptest::prop_assert!(result.is_err());
                            continue;
                        }
                        let mut gone = 0;
                        while model.len() == MSGS
                            || model.iter().map(|(t, p)| t.len() + p.len()).sum::<usize>()
                                + topic.len()
                                + payload.len()
                                > BYTES
                        {
                            model.pop_front();
                            gone += 1;
                        }
                        dropped += gone as u32;
                        proptest::prop_assert_eq!(result, Ok(gone));
                        model.push_back((topic, payload));
                    }
                    Op::Pop => {
                        proptest::prop_assert_eq!(queue.pop_front(), model.pop_front().is_some());
                    }
                }
                let got: Vec<(String, Vec<u8>)> = queue
                    .iter()
                    .map(|m| (m.topic.into(), m.payload.to_vec()))
                    .collect();
                let want: Vec<(String, Vec<u8>)> = model.iter().cloned().collect();
                proptest::prop_assert_eq!(got, want);
                proptest::prop_assert_eq!(queue.dropped(), dropped);
            }
        }
    }
}
