//! [`MemoryTransport`]: records messages instead of sending them, for tests.
//!
//! It can also play a connection that drops and comes back (refused connects, a drop after
//! some messages, an acknowledgement lost with the broker), so reconnect logic is tested
//! without a network and without waiting.

use crate::message::{Message, QoS};
use crate::transport::Transport;
use core::fmt;

/// Why a [`MemoryTransport`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MemoryError {
    /// The transport was told to fail ([`MemoryTransport::fail_next`]).
    Injected,
    /// The connection is down ([`MemoryTransport::disconnect`]); call `connect`.
    NotConnected,
    /// A connect was refused ([`MemoryTransport::fail_connects`]).
    ConnectRefused,
    /// The message was recorded but its acknowledgement was lost with the connection
    /// ([`MemoryTransport::lose_acks`]): the sender cannot know it arrived.
    AckLost,
    /// The record already holds `M` messages.
    Full,
    /// The topic or payload is longer than the record's per-message capacity.
    TooLong,
}

impl MemoryError {
    /// Whether sending the same message again can never succeed:
    /// [`TooLong`](Self::TooLong). The others are transient (or, [`Full`](Self::Full), the
    /// record's, not the message's).
    pub const fn is_permanent(&self) -> bool {
        matches!(self, MemoryError::TooLong)
    }
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryError::Injected => "injected transport failure",
            MemoryError::NotConnected => "memory transport is not connected",
            MemoryError::ConnectRefused => "memory transport refused the connect",
            MemoryError::AckLost => "connection lost before the acknowledgement",
            MemoryError::Full => "memory transport is full",
            MemoryError::TooLong => "topic or payload longer than the memory transport holds",
        })
    }
}

impl core::error::Error for MemoryError {}

/// A message as a [`MemoryTransport`] recorded it: owned copies of topic and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMessage<const B: usize> {
    /// The topic.
    pub topic: heapless::String<B>,
    /// The payload.
    pub payload: heapless::Vec<u8, B>,
    /// The quality of service asked for.
    pub qos: QoS,
    /// The retain flag.
    pub retain: bool,
}

/// Records up to `M` messages of at most `B` bytes of topic and `B` of payload each.
///
/// Tell it to fail with [`fail_next`](MemoryTransport::fail_next) to test error paths.
///
/// It starts connected. To play an outage: [`disconnect`](MemoryTransport::disconnect) (or
/// [`disconnect_after`](MemoryTransport::disconnect_after) some messages), then publishes
/// fail with [`MemoryError::NotConnected`] until `connect` succeeds;
/// [`fail_connects`](MemoryTransport::fail_connects) makes the broker stay away for that many
/// connects; [`lose_acks`](MemoryTransport::lose_acks) records a message yet reports a failure,
/// as a QoS 1 publish whose PUBACK never came.
///
/// ```
/// use sensorpub::{MemoryError, MemoryTransport, Message, Transport};
///
/// let mut transport = MemoryTransport::<4, 32>::new();
/// transport.fail_next(1);
/// embassy_futures::block_on(async {
///     let msg = Message::new("apricot/value", b"742");
///     assert_eq!(transport.publish(&msg).await, Err(MemoryError::Injected));
///     assert_eq!(transport.publish(&msg).await, Ok(()));
/// });
/// assert_eq!(transport.messages()[0].payload, b"742");
///
/// transport.disconnect();
/// transport.fail_connects(1);
/// embassy_futures::block_on(async {
///     let msg = Message::new("apricot/value", b"743");
///     assert_eq!(transport.publish(&msg).await, Err(MemoryError::NotConnected));
///     assert_eq!(transport.connect().await, Err(MemoryError::ConnectRefused));
///     assert_eq!(transport.connect().await, Ok(()));
///     assert_eq!(transport.publish(&msg).await, Ok(()));
/// });
/// assert_eq!(transport.connects(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryTransport<const M: usize, const B: usize> {
    messages: heapless::Vec<RecordedMessage<B>, M>,
    failures_to_inject: usize,
    attempts: usize,
    connected: bool,
    connects: usize,
    connect_failures_to_inject: usize,
    /// Deliveries left before the connection drops by itself.
    deliveries_before_drop: Option<usize>,
    acks_to_lose: usize,
}

impl<const M: usize, const B: usize> Default for MemoryTransport<M, B> {
    /// Same as [`new`](MemoryTransport::new): connected, recording every message.
    fn default() -> Self {
        Self::new()
    }
}

impl<const M: usize, const B: usize> MemoryTransport<M, B> {
    /// An empty record that accepts every message.
    pub const fn new() -> Self {
        Self {
            messages: heapless::Vec::new(),
            failures_to_inject: 0,
            attempts: 0,
            connected: true,
            connects: 0,
            connect_failures_to_inject: 0,
            deliveries_before_drop: None,
            acks_to_lose: 0,
        }
    }

    /// Drops the connection: publishes fail with [`MemoryError::NotConnected`] until a
    /// `connect` succeeds.
    pub fn disconnect(&mut self) {
        self.connected = false;
    }

    /// Drops the connection once `count` more messages have been delivered.
    pub fn disconnect_after(&mut self, count: usize) {
        if count == 0 {
            self.disconnect();
        } else {
            self.deliveries_before_drop = Some(count);
        }
    }

    /// Makes the next `count` connects fail with [`MemoryError::ConnectRefused`], as a broker
    /// that is away; `usize::MAX` for one that never comes back.
    pub fn fail_connects(&mut self, count: usize) {
        self.connect_failures_to_inject = count;
    }

    /// Makes the next `count` publishes record the message, then report
    /// [`MemoryError::AckLost`] and drop the connection: the broker has the message, the
    /// sender cannot know it.
    pub fn lose_acks(&mut self, count: usize) {
        self.acks_to_lose = count;
    }

    /// How many times `connect` was called, refused ones included.
    pub fn connects(&self) -> usize {
        self.connects
    }

    /// Makes the next `count` publishes fail with [`MemoryError::Injected`].
    pub fn fail_next(&mut self, count: usize) {
        self.failures_to_inject = count;
    }

    /// The messages delivered so far, oldest first.
    pub fn messages(&self) -> &[RecordedMessage<B>] {
        &self.messages
    }

    /// How many publishes were attempted, failed ones included.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Forgets the recorded messages.
    pub fn clear(&mut self) {
        self.messages.clear();
    }
}

impl<const M: usize, const B: usize> Transport for MemoryTransport<M, B> {
    type Error = MemoryError;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MemoryError> {
        self.attempts += 1;
        if !self.connected {
            return Err(MemoryError::NotConnected);
        }
        if self.failures_to_inject > 0 {
            self.failures_to_inject -= 1;
            return Err(MemoryError::Injected);
        }
        let topic = heapless::String::try_from(message.topic).map_err(|_| MemoryError::TooLong)?;
        let payload =
            heapless::Vec::from_slice(message.payload).map_err(|_| MemoryError::TooLong)?;
        self.messages
            .push(RecordedMessage {
                topic,
                payload,
                qos: message.qos,
                retain: message.retain,
            })
            .map_err(|_| MemoryError::Full)?;
        if self.acks_to_lose > 0 {
            self.acks_to_lose -= 1;
            self.connected = false;
            return Err(MemoryError::AckLost);
        }
        if let Some(left) = self.deliveries_before_drop.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.deliveries_before_drop = None;
                self.connected = false;
            }
        }
        Ok(())
    }

    async fn connect(&mut self) -> Result<(), MemoryError> {
        self.connects += 1;
        if self.connect_failures_to_inject > 0 {
            self.connect_failures_to_inject -= 1;
            self.connected = false;
            return Err(MemoryError::ConnectRefused);
        }
        self.connected = true;
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.connected
    }

    /// [`MemoryError::is_permanent`]: a topic or payload longer than `B` bytes.
    fn is_permanent(&self, error: &MemoryError) -> bool {
        error.is_permanent()
    }
}
