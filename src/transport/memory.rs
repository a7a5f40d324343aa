//! [`MemoryTransport`]: records messages instead of sending them, for tests.

use crate::message::{Message, QoS};
use crate::transport::Transport;
use core::fmt;

/// Why a [`MemoryTransport`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MemoryError {
    /// The transport was told to fail ([`MemoryTransport::fail_next`]).
    Injected,
    /// The record already holds `M` messages.
    Full,
    /// The topic or payload is longer than the record's per-message capacity.
    TooLong,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryError::Injected => "injected transport failure",
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
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryTransport<const M: usize, const B: usize> {
    messages: heapless::Vec<RecordedMessage<B>, M>,
    failures_to_inject: usize,
    attempts: usize,
}

impl<const M: usize, const B: usize> MemoryTransport<M, B> {
    /// An empty record that accepts every message.
    pub const fn new() -> Self {
        Self {
            messages: heapless::Vec::new(),
            failures_to_inject: 0,
            attempts: 0,
        }
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
            .map_err(|_| MemoryError::Full)
    }
}
