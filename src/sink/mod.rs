//! The [`Sink`] trait: how a sample becomes MQTT messages, and the wire formats we ship.
//!
//! A sink writes each message's payload into a caller-owned buffer and returns a [`Message`]
//! that borrows it, and the topic the sink checked when it was built (no copy, no check per
//! sample). When the buffer is too small the sink returns [`EncodeError::BufferTooSmall`] and
//! no message: nothing half-written can be sent.

mod error;
mod json;
mod number;
mod out;
mod senml;
mod shortest;
mod thingspeak;
mod timestamp;

pub use error::{EncodeError, SinkConfigError};
pub use json::JsonSink;
pub use number::MAX_DECIMALS;
pub use senml::SenmlSink;
pub use thingspeak::ThingSpeakSink;

use crate::message::Message;
use crate::reading::Sample;

/// A wire format: maps a [`Sample`] to one or more `(topic, payload)` messages.
///
/// The publisher calls [`message_count`](Sink::message_count) once per sample, then
/// [`encode`](Sink::encode) for each index `0..count`, publishing each message before
/// encoding the next, so one buffer serves every message.
///
/// ```
/// use sensorpub::{JsonSink, Quantity, Reading, Sample, Sink};
///
/// let sample = Sample::<2>::from_readings(&[Reading::new(Quantity::Temperature, 21.53)])?;
/// let sink = JsonSink::object("apricot/value")?;
/// let mut buf = [0u8; 64];
/// assert_eq!(sink.message_count(&sample), 1);
/// let msg = sink.encode(&sample, 0, 0, &mut buf)?;
/// assert_eq!(msg.topic, "apricot/value");
/// assert_eq!(msg.payload, br#"{"temperature":21.53}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Sink {
    /// Why a sample could not be encoded.
    type Error;

    /// How many messages `sample` becomes (0 when there is nothing to send).
    fn message_count<const N: usize>(&self, sample: &Sample<N>) -> usize;

    /// Encodes message `index` of `sample` into `buf` at monotonic time `now_ms`.
    ///
    /// The message borrows its payload from `buf` and may borrow its topic from the sink
    /// (a topic validated once, when the sink was built), so both stay borrowed while the
    /// message lives. A sink with state to update (a rate limit) keeps it in a
    /// [`Cell`](core::cell::Cell).
    ///
    /// `now_ms` lets rate-limited formats (ThingSpeak) refuse a message that would reach the
    /// service too early; other sinks ignore it.
    fn encode<'m, const N: usize>(
        &'m self,
        sample: &Sample<N>,
        index: usize,
        now_ms: u64,
        buf: &'m mut [u8],
    ) -> Result<Message<'m>, Self::Error>;

    /// Milliseconds to wait from `now_ms` before the next message may be encoded; `0` when
    /// the sink has no rate limit or the limit allows it now. The publisher waits this long
    /// instead of being refused.
    fn ready_in_ms(&self, now_ms: u64) -> u64 {
        let _ = now_ms;
        0
    }
}

/// Writes `topic` at the start of `buf` and returns the topic and the space after it: for a
/// topic made per message (a ThingSpeak field's); every other topic is the sink's own.
fn split_topic<'b>(
    buf: &'b mut [u8],
    topic: &[&[u8]],
) -> Result<(&'b str, &'b mut [u8]), EncodeError> {
    let len: usize = topic.iter().map(|part| part.len()).sum();
    if len > buf.len() {
        return Err(EncodeError::BufferTooSmall);
    }
    let (head, rest) = buf.split_at_mut(len);
    let mut at = 0;
    for part in topic {
        out::copy(&mut head[at..at + part.len()], part);
        at += part.len();
    }
    // The parts are ASCII or come from &str, so their concatenation is valid UTF-8.
    let topic = core::str::from_utf8(head).map_err(|_| EncodeError::BufferTooSmall)?;
    Ok((topic, rest))
}
