//! Inbound messages: the [`Subscription`]s a transport makes after every connect, and the
//! caller-owned [`Inbox`] it puts what arrives on them into.
//!
//! The inbox is one slot of `N` bytes (topic plus payload), shared by reference between the
//! caller and the transport that receives (an [`Mqtt311`](crate::Mqtt311), or the
//! [`Mqtt5Runner`](crate::Mqtt5Runner) of an MQTT 5 connection): no heap, no callback stored
//! in the transport. The caller takes the message when it likes ([`Inbox::take`]); a message
//! that arrives while the slot is still full replaces the older one (commands: the newest
//! wins) and is counted. Both run on one executor, as the transports do: nothing here is
//! `Sync`.

use crate::message::QoS;
use core::cell::{Cell, RefCell};
use core::fmt;

/// A topic filter to subscribe to, with the highest QoS to receive its messages at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Subscription<'a> {
    /// The topic filter (`+` and `#` wildcards allowed where MQTT allows them; see
    /// [`validate_topic_filter`](crate::validate_topic_filter)).
    pub filter: &'a str,
    /// The highest QoS the broker may send matching messages at.
    pub qos: QoS,
}

impl<'a> Subscription<'a> {
    /// A subscription to `filter` at up to `qos`.
    pub const fn new(filter: &'a str, qos: QoS) -> Self {
        Self { filter, qos }
    }
}

/// A message the broker delivered on a subscription, as [`Inbox::take`] lends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Received<'m> {
    /// The topic it was published to.
    pub topic: &'m str,
    /// The payload.
    pub payload: &'m [u8],
    /// The QoS it was delivered at (a QoS 1 message was acknowledged by the transport).
    pub qos: QoS,
    /// Whether the broker delivered it from its retained store (a message that was waiting
    /// when the subscription was made).
    pub retain: bool,
}

/// What an [`Inbox`] could not hold, counted since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InboxStats {
    /// Messages put into the inbox.
    pub received: u32,
    /// Messages dropped because topic plus payload are longer than the inbox (the
    /// connection stays up; a QoS 1 one was still acknowledged).
    pub too_large: u32,
    /// Messages that were replaced, untaken, by a newer one.
    pub overwritten: u32,
    /// Topic and payload lengths of the last message dropped as too large.
    pub last_too_large: Option<(usize, usize)>,
}

/// What the slot holds besides the bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Meta {
    /// Topic and payload lengths of the waiting message, if one waits.
    waiting: Option<(usize, usize)>,
    qos: QoS,
    retain: bool,
    stats: InboxStats,
}

/// The inbox whatever its length: what a transport holds a reference to.
pub(crate) struct Slot<B: ?Sized> {
    meta: Cell<Meta>,
    bytes: RefCell<B>,
}

impl<B: ?Sized> fmt::Debug for Slot<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meta = self.meta.get();
        f.debug_struct("Inbox")
            .field("waiting", &meta.waiting.is_some())
            .field("stats", &meta.stats)
            .finish()
    }
}

/// The unsized slot the transports store.
pub(crate) type InboxSlot = Slot<[u8]>;

impl InboxSlot {
    /// Stores a received message (the transport calls this); a message longer than the
    /// slot is counted and dropped.
    pub(crate) fn put(&self, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let mut meta = self.meta.get();
        let total = topic.len().saturating_add(payload.len());
        let stored = match self.bytes.try_borrow_mut() {
            Ok(mut bytes) => match bytes.get_mut(..total) {
                Some(slot) => {
                    let (topic_slot, payload_slot) = slot.split_at_mut(topic.len());
                    topic_slot.copy_from_slice(topic.as_bytes());
                    payload_slot.copy_from_slice(payload);
                    true
                }
                None => false,
            },
            // Only while the caller reads it in `take`, which does not await: never.
            Err(_) => false,
        };
        if !stored {
            meta.stats.too_large = meta.stats.too_large.saturating_add(1);
            meta.stats.last_too_large = Some((topic.len(), payload.len()));
            self.meta.set(meta);
            return;
        }
        if meta.waiting.is_some() {
            meta.stats.overwritten = meta.stats.overwritten.saturating_add(1);
        }
        meta.waiting = Some((topic.len(), payload.len()));
        meta.qos = qos;
        meta.retain = retain;
        meta.stats.received = meta.stats.received.saturating_add(1);
        self.meta.set(meta);
    }

    /// Counts a message too large to be received at all (longer than the transport's
    /// receive buffer), which was skipped.
    pub(crate) fn skipped(&self, topic_len: usize, payload_len: usize) {
        let mut meta = self.meta.get();
        meta.stats.too_large = meta.stats.too_large.saturating_add(1);
        meta.stats.last_too_large = Some((topic_len, payload_len));
        self.meta.set(meta);
    }

    /// Takes the waiting message if `wanted` says yes to its topic.
    pub(crate) fn take_if<R>(
        &self,
        wanted: impl FnOnce(&str) -> bool,
        read: impl FnOnce(&Received<'_>) -> R,
    ) -> Option<R> {
        let mut meta = self.meta.get();
        let (topic_len, payload_len) = meta.waiting?;
        let bytes = self.bytes.try_borrow().ok()?;
        let stored = bytes.get(..topic_len + payload_len)?;
        let (topic, payload) = stored.split_at(topic_len);
        // `put` copied a `&str` there.
        let topic = core::str::from_utf8(topic).ok()?;
        if !wanted(topic) {
            return None;
        }
        let received = Received {
            topic,
            payload,
            qos: meta.qos,
            retain: meta.retain,
        };
        let result = read(&received);
        meta.waiting = None;
        self.meta.set(meta);
        Some(result)
    }
}

/// One received message of up to `N` bytes (topic plus payload), caller-owned: give it to
/// the transport that receives ([`Mqtt311::with_inbox`](crate::Mqtt311::with_inbox),
/// [`Mqtt5Runner::with_inbox`](crate::Mqtt5Runner::with_inbox)) and take what arrives with
/// [`take`](Self::take), as the lab's `on_message(topic, msg)`.
///
/// ```
/// use sensorpub::Inbox;
///
/// let inbox = Inbox::<128>::new();
/// // Nothing arrived yet.
/// assert_eq!(inbox.take(|m| m.payload.len()), None);
/// assert_eq!(inbox.stats().received, 0);
/// ```
pub struct Inbox<const N: usize> {
    slot: Slot<[u8; N]>,
}

impl<const N: usize> Inbox<N> {
    /// An empty inbox.
    pub const fn new() -> Self {
        Self {
            slot: Slot {
                meta: Cell::new(Meta {
                    waiting: None,
                    qos: QoS::AtMostOnce,
                    retain: false,
                    stats: InboxStats {
                        received: 0,
                        too_large: 0,
                        overwritten: 0,
                        last_too_large: None,
                    },
                }),
                bytes: RefCell::new([0; N]),
            },
        }
    }

    /// Hands the waiting message, if any, to `read` and empties the inbox; returns what
    /// `read` returned.
    pub fn take<R>(&self, read: impl FnOnce(&Received<'_>) -> R) -> Option<R> {
        self.slot().take_if(|_| true, read)
    }

    /// As [`take`](Self::take), but only a message published to exactly `topic`; another
    /// one stays in the inbox.
    pub fn take_topic<R>(&self, topic: &str, read: impl FnOnce(&Received<'_>) -> R) -> Option<R> {
        self.slot().take_if(|t| t == topic, read)
    }

    /// Whether a message waits.
    pub fn is_empty(&self) -> bool {
        self.slot.meta.get().waiting.is_none()
    }

    /// What arrived and what could not be kept, since the inbox was made.
    pub fn stats(&self) -> InboxStats {
        self.slot.meta.get().stats
    }

    /// The inbox as the transports hold it.
    pub(crate) fn slot(&self) -> &InboxSlot {
        &self.slot
    }
}

impl<const N: usize> Default for Inbox<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for Inbox<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("capacity", &N)
            .field("waiting", &!self.is_empty())
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::ToOwned;

    #[test]
    fn keeps_the_newest_and_counts_what_it_drops() {
        let inbox = Inbox::<16>::new();
        let slot = inbox.slot();
        slot.put("a/b", b"1", QoS::AtMostOnce, false);
        slot.put("a/c", b"22", QoS::AtLeastOnce, true);
        slot.put("a/very/long/topic", b"x", QoS::AtMostOnce, false);
        let stats = inbox.stats();
        assert_eq!(stats.received, 2);
        assert_eq!(stats.overwritten, 1);
        assert_eq!(stats.too_large, 1);
        assert_eq!(stats.last_too_large, Some((17, 1)));
        assert_eq!(inbox.take_topic("a/b", |_| ()), None, "not that topic");
        let taken = inbox.take(|m| (m.topic.to_owned(), m.payload.to_vec(), m.qos, m.retain));
        assert_eq!(
            taken,
            Some(("a/c".into(), b"22".to_vec(), QoS::AtLeastOnce, true))
        );
        assert!(inbox.is_empty());
        assert_eq!(inbox.take(|_| ()), None);
    }

    #[test]
    fn a_message_filling_the_slot_exactly_fits() {
        let inbox = Inbox::<4>::new();
        inbox.slot().put("ab", b"cd", QoS::AtMostOnce, false);
        assert_eq!(inbox.take(|m| m.payload.to_vec()), Some(b"cd".to_vec()));
        inbox.slot().skipped(3, 4000);
        assert_eq!(inbox.stats().last_too_large, Some((3, 4000)));
    }
}
