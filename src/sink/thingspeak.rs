//! [`ThingSpeakSink`]: ThingSpeak's MQTT publish API, as a bulk form or one message a field,
//! with the channel's update interval enforced.

use core::cell::Cell;

use super::error::{EncodeError, SinkConfigError};
use super::number::{MAX_DECIMALS, Style};
use super::out::Out;
use super::timestamp::iso8601;
use super::{Sink, split_topic};
use crate::decimal::{U32_DIGITS, format_u32};
use crate::message::Message;
use crate::reading::{Quantity, Sample};

impl ThingSpeakSink<'_> {
    /// Minimum time between two updates of a channel on a free ThingSpeak account (15 s). REST
    /// and MQTT updates count together. Paid accounts may use 1 s, see
    /// [`ThingSpeakSink::with_interval_ms`].
    pub const FREE_INTERVAL_MS: u64 = 15_000;
}

/// ThingSpeak channels have fields 1 to 8.
const FIELDS: usize = 8;

/// ThingSpeak stores at most 255 bytes a field; the status is one.
const MAX_STATUS_LEN: usize = 255;

/// Encodes samples for a ThingSpeak channel.
///
/// - Bulk (default): one message on `channels/<id>/publish` with payload
///   `field1=21.53&field2=45.2&lat=…&long=…&elevation=…&status=…&created_at=…` (only what is
///   configured or present).
/// - [`per_field`](ThingSpeakSink::per_field): one message per mapped reading on
///   `channels/<id>/publish/fields/field<N>`, payload the bare value.
///
/// Which reading goes to which field is configuration, checked when the sink is built: field
/// numbers `1..=8`, none twice. `created_at` comes from the sample's timestamp, so samples
/// replayed after an outage keep their time.
///
/// **Rate limit.** Every message is a channel update, and ThingSpeak allows one every 15 s on
/// a free account. The sink refuses a message that comes sooner with
/// [`EncodeError::TooSoon`], so nothing reaches the broker early; [`Sink::ready_in_ms`] says
/// how long to wait, and [`Publisher`](crate::Publisher) holds the message that long. The
/// slot is taken when a message is encoded, so a failed send afterwards still waits a full
/// interval: early is never possible, late by one interval is.
///
/// ```
/// use sensorpub::{EncodeError, Quantity, Reading, Sample, Sink, ThingSpeakSink};
///
/// let sink = ThingSpeakSink::new(1_234_567, &[(1, Quantity::Temperature), (2, Quantity::Humidity)])?
///     .with_status("ok & warm")?;
/// let sample = Sample::<2>::from_readings(&[
///     Reading::new(Quantity::Temperature, 21.53),
///     Reading::new(Quantity::Humidity, 45.2),
/// ])?;
/// let mut buf = [0u8; 128];
/// let msg = sink.encode(&sample, 0, 0, &mut buf)?;
/// assert_eq!(msg.topic, "channels/1234567/publish");
/// assert_eq!(msg.payload, b"field1=21.53&field2=45.2&status=ok%20%26%20warm");
/// // 10 s later is too soon on a free account.
/// assert_eq!(sink.encode(&sample, 0, 10_000, &mut buf), Err(EncodeError::TooSoon { retry_in_ms: 5_000 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ThingSpeakSink<'a> {
    channel_id: u32,
    topic: PublishTopic,
    /// The mapped fields, `(field number, quantity)`, in field order: the first `mapped`
    /// entries count (the rest are filler), so an encode visits only those, not all 8 slots.
    fields: [(u8, Quantity); FIELDS],
    /// How many entries of `fields` are mapped.
    mapped: usize,
    per_field: bool,
    status: Option<&'a str>,
    latitude: Option<f32>,
    longitude: Option<f32>,
    elevation: Option<f32>,
    decimals: Option<u8>,
    interval_ms: u64,
    /// Whether a location, elevation or status is set: one test skips all three per message.
    extras: bool,
    /// When the next message may be encoded (the last one's time plus the interval, 0 before
    /// the first): a [`Cell`], as [`Sink::encode`] takes `&self`.
    next_ms: Cell<u64>,
}

impl<'a> ThingSpeakSink<'a> {
    /// A bulk-feed sink for channel `channel_id`, sending each `(field, quantity)` reading as
    /// `field<field>`. [`SinkConfigError::ChannelZero`] for channel 0,
    /// [`SinkConfigError::FieldOutOfRange`] unless every field is in `1..=8`,
    /// [`SinkConfigError::DuplicateField`] if one is given twice.
    ///
    /// The topic, `channels/<id>/publish`, is digits and fixed text, so it is always a valid
    /// topic name ([`validate_topic_name`](crate::validate_topic_name)).
    pub fn new(channel_id: u32, fields: &[(u8, Quantity)]) -> Result<Self, SinkConfigError> {
        if channel_id == 0 {
            return Err(SinkConfigError::ChannelZero);
        }
        let mut map = [None; FIELDS];
        for &(field, quantity) in fields {
            let slot = usize::from(field)
                .checked_sub(1)
                .and_then(|i| map.get_mut(i))
                .ok_or(SinkConfigError::FieldOutOfRange { field })?;
            if slot.is_some() {
                return Err(SinkConfigError::DuplicateField { field });
            }
            *slot = Some(quantity);
        }
        // Compacted once here: field order kept, empty slots dropped.
        let mut compact = [(0u8, Quantity::Value); FIELDS];
        let mut mapped = 0;
        for (quantity, field) in map.iter().zip(1u8..) {
            if let Some(quantity) = *quantity {
                compact[mapped] = (field, quantity);
                mapped += 1;
            }
        }
        Ok(Self {
            channel_id,
            topic: PublishTopic::new(channel_id),
            fields: compact,
            mapped,
            per_field: false,
            status: None,
            latitude: None,
            longitude: None,
            elevation: None,
            decimals: None,
            interval_ms: ThingSpeakSink::FREE_INTERVAL_MS,
            extras: false,
            next_ms: Cell::new(0),
        })
    }

    /// Sends one message per field on `channels/<id>/publish/fields/field<N>` instead of the
    /// bulk feed. Each message is a channel update and waits its own interval.
    pub fn per_field(mut self) -> Self {
        self.per_field = true;
        self
    }

    /// Adds `status=<status>` (percent-encoded) to every bulk message.
    /// [`SinkConfigError::StatusTooLong`] above 255 bytes.
    pub fn with_status(mut self, status: &'a str) -> Result<Self, SinkConfigError> {
        if status.len() > MAX_STATUS_LEN {
            return Err(SinkConfigError::StatusTooLong);
        }
        self.status = Some(status);
        self.extras = true;
        Ok(self)
    }

    /// Adds `lat` and `long` (degrees) to every bulk message.
    pub fn with_location(mut self, latitude: f32, longitude: f32) -> Result<Self, SinkConfigError> {
        if !(latitude.is_finite() && longitude.is_finite()) {
            return Err(SinkConfigError::NonFiniteLocation);
        }
        self.latitude = Some(latitude);
        self.extras = true;
        self.longitude = Some(longitude);
        Ok(self)
    }

    /// Adds `elevation` (metres) to every bulk message.
    pub fn with_elevation(mut self, elevation: f32) -> Result<Self, SinkConfigError> {
        if !elevation.is_finite() {
            return Err(SinkConfigError::NonFiniteLocation);
        }
        self.elevation = Some(elevation);
        self.extras = true;
        Ok(self)
    }

    /// Writes values with exactly `decimals` decimals. [`SinkConfigError::TooManyDecimals`] above
    /// [`MAX_DECIMALS`].
    /// A value too large for exact fixed point (|value| × 10^decimals ≥ 9 × 10^15, which an
    /// `f32` cannot hold exactly) is written in the shortest form instead (`3e38`).
    pub fn with_decimals(mut self, decimals: u8) -> Result<Self, SinkConfigError> {
        if decimals > MAX_DECIMALS {
            return Err(SinkConfigError::TooManyDecimals { decimals });
        }
        self.decimals = Some(decimals);
        Ok(self)
    }

    /// Minimum time between two channel updates; [`ThingSpeakSink::FREE_INTERVAL_MS`] by default. Paid
    /// accounts may set 1 000 ms. Setting it lower than the account allows makes ThingSpeak
    /// drop updates.
    pub fn with_interval_ms(mut self, interval_ms: u64) -> Self {
        self.interval_ms = interval_ms;
        self
    }

    /// The channel id.
    pub fn channel_id(&self) -> u32 {
        self.channel_id
    }

    /// The minimum time between two channel updates, in milliseconds.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// The mapped fields present in `sample`, in field order: `(field number, value)`.
    fn present<const N: usize>(
        &self,
        sample: &Sample<N>,
    ) -> impl Iterator<Item = (u8, Quantity, f32)> {
        self.fields[..self.mapped.min(FIELDS)]
            .iter()
            .filter_map(move |&(field, quantity)| {
                sample.get(quantity).map(|value| (field, quantity, value))
            })
    }

    fn style(&self) -> Style {
        self.decimals.map_or(Style::Shortest, Style::Fixed)
    }

    fn encode_bulk<const N: usize>(
        &self,
        sample: &Sample<N>,
        out: &mut Out<'_>,
    ) -> Result<(), EncodeError> {
        // Every piece is `&name=`, written without its `&` when it comes first.
        let style = self.style();
        for (field, quantity, value) in self.present(sample) {
            // `field` is 1..=8 (checked when the sink was built); the mask only spares a
            // bounds check.
            let piece = &FIELD_PIECES[usize::from(field.wrapping_sub(1)) & (FIELDS - 1)];
            out.push(&piece[usize::from(out.is_empty())..])?;
            out.number(value, &style, quantity)?;
        }
        if self.extras {
            self.encode_extras(out)?;
        }
        if let Some(unix_seconds) = sample.timestamp() {
            out.push_rare(&b"&created_at="[usize::from(out.is_empty())..])?;
            out.form_value(&iso8601(unix_seconds))?;
        }
        Ok(())
    }

    /// `lat`, `long`, `elevation` and `status`, those that are set.
    fn encode_extras(&self, out: &mut Out<'_>) -> Result<(), EncodeError> {
        let location = [
            (&b"&lat="[..], self.latitude),
            (&b"&long="[..], self.longitude),
            (&b"&elevation="[..], self.elevation),
        ];
        for (piece, value) in location {
            if let Some(value) = value {
                out.push_rare(&piece[usize::from(out.is_empty())..])?;
                // Finite by construction; the quantity only names the error.
                out.number(value, &Style::Shortest, Quantity::Value)?;
            }
        }
        if let Some(status) = self.status {
            out.push_rare(&b"&status="[usize::from(out.is_empty())..])?;
            out.form_value(status.as_bytes())?;
        }
        Ok(())
    }

    /// What is wrong with `sample`'s bulk message regardless of the buffer: a NaN or
    /// infinite field (the first), or nothing to send. Asked only once an encode failed, so a
    /// good sample is walked once.
    fn bulk_content_error<const N: usize>(&self, sample: &Sample<N>) -> Option<EncodeError> {
        if let Some((_, quantity, _)) = self.present(sample).find(|(_, _, v)| !v.is_finite()) {
            return Some(EncodeError::NonFinite { quantity });
        }
        (!self.bulk_has_content(sample)).then_some(EncodeError::NothingToSend)
    }

    /// The bulk message, or its first error; [`encode`](Sink::encode) turns an error into
    /// the content error when there is one, which says more.
    fn bulk_message<'m, const N: usize>(
        &'m self,
        sample: &Sample<N>,
        index: usize,
        buf: &'m mut [u8],
    ) -> Result<Message<'m>, EncodeError> {
        if index != 0 {
            return Err(EncodeError::NoSuchMessage);
        }
        let mut out = Out::new(buf);
        self.encode_bulk(sample, &mut out)?;
        if out.is_empty() {
            return Err(EncodeError::NothingToSend);
        }
        Ok(Message::new(self.topic.as_str(), out.into_written()))
    }

    fn bulk_has_content<const N: usize>(&self, sample: &Sample<N>) -> bool {
        self.present(sample).next().is_some()
            || self.latitude.is_some()
            || self.elevation.is_some()
            || self.status.is_some()
            || sample.timestamp().is_some()
    }
}

/// Longest `channels/<id>/publish`: 9 bytes, the 10 digits of `u32::MAX`, 8 bytes.
const PUBLISH_TOPIC_CAPACITY: usize = 27;

/// The channel's `channels/<id>/publish`, formatted once when the sink is built instead of
/// for every message (on a Cortex-M4 that saved about 250 instructions a message), and kept
/// as a `str`, so a bulk message borrows it without a copy or a UTF-8 check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PublishTopic(heapless::String<PUBLISH_TOPIC_CAPACITY>);

impl PublishTopic {
    fn new(channel_id: u32) -> Self {
        let mut digits = [0u8; U32_DIGITS];
        let start = format_u32(channel_id, &mut digits);
        let mut topic = heapless::String::new();
        // Cannot fail: the capacity is the longest possible topic.
        let _ = topic.push_str("channels/");
        for &digit in &digits[start..] {
            let _ = topic.push(char::from(digit));
        }
        let _ = topic.push_str("/publish");
        Self(topic)
    }

    fn as_str(&self) -> &str {
        self.0.as_str()
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// `&field<n>=` for fields 1 to 8, made once, at compile time.
const FIELD_PIECES: [[u8; 8]; FIELDS] = [
    *b"&field1=",
    *b"&field2=",
    *b"&field3=",
    *b"&field4=",
    *b"&field5=",
    *b"&field6=",
    *b"&field7=",
    *b"&field8=",
];

impl Sink for ThingSpeakSink<'_> {
    type Error = EncodeError;

    fn message_count<const N: usize>(&self, sample: &Sample<N>) -> usize {
        if self.per_field {
            self.present(sample).count()
        } else {
            1
        }
    }

    fn encode<'m, const N: usize>(
        &'m self,
        sample: &Sample<N>,
        index: usize,
        now_ms: u64,
        buf: &'m mut [u8],
    ) -> Result<Message<'m>, EncodeError> {
        let retry_in_ms = self.ready_in_ms(now_ms);
        if retry_in_ms > 0 {
            return Err(EncodeError::TooSoon { retry_in_ms });
        }
        let message = if self.per_field {
            // Content errors first: they say more than a short buffer does. One field's
            // message depends on that field only.
            let (field, quantity, value) = self
                .present(sample)
                .nth(index)
                .ok_or(EncodeError::NoSuchMessage)?;
            if !value.is_finite() {
                return Err(EncodeError::NonFinite { quantity });
            }
            let digit = [b'0' + field];
            let (topic, rest) =
                split_topic(buf, &[self.topic.as_bytes(), b"/fields/field", &digit])?;
            let mut out = Out::new(rest);
            out.number(value, &self.style(), quantity)?;
            Message::new(topic, out.into_written())
        } else {
            // Written first, checked after only if that failed: the content error (a NaN
            // field, nothing to send) still wins over a short buffer or a wrong index.
            match self.bulk_message(sample, index, buf) {
                Ok(message) => message,
                Err(e) => {
                    return Err(match (e, self.bulk_content_error(sample)) {
                        // A wrong index was checked before an empty sample.
                        (EncodeError::NoSuchMessage, Some(EncodeError::NothingToSend)) => e,
                        (_, Some(content)) => content,
                        (e, None) => e,
                    });
                }
            }
        };
        self.next_ms.set(now_ms.saturating_add(self.interval_ms));
        Ok(message)
    }

    fn ready_in_ms(&self, now_ms: u64) -> u64 {
        self.next_ms.get().saturating_sub(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_topic_holds_the_longest_channel_id() {
        assert_eq!(
            PublishTopic::new(u32::MAX).as_bytes(),
            b"channels/4294967295/publish"
        );
        assert_eq!(PublishTopic::new(0).as_bytes(), b"channels/0/publish");
    }

    /// The bulk form is written first and checked only when writing failed: the content
    /// error must still win over a short buffer or a wrong index, and a failed encode must not
    /// count as an update.
    #[test]
    fn content_errors_win_over_the_buffer_and_the_index() {
        use crate::reading::Reading;
        let fields = [(1, Quantity::Temperature), (2, Quantity::Humidity)];
        let sink = ThingSpeakSink::new(7, &fields).unwrap();
        let nan = Sample::<2>::from_readings(&[
            Reading::new(Quantity::Temperature, 21.5),
            Reading::new(Quantity::Humidity, f32::NAN),
        ])
        .unwrap();
        let nan_error = Err(EncodeError::NonFinite {
            quantity: Quantity::Humidity,
        });
        // Room for `field1=21.5` only (the topic is the sink's, not in the buffer): the
        // writer stops on the buffer first.
        let mut short = [0u8; 12];
        assert_eq!(sink.encode(&nan, 0, 0, &mut short), nan_error);
        assert_eq!(sink.encode(&nan, 1, 0, &mut [0u8; 128]), nan_error);
        let empty = Sample::<2>::new();
        assert_eq!(
            sink.encode(&empty, 0, 0, &mut [0u8; 4]),
            Err(EncodeError::NothingToSend)
        );
        assert_eq!(
            sink.encode(&empty, 1, 0, &mut [0u8; 128]),
            Err(EncodeError::NoSuchMessage)
        );
        let good = Sample::<2>::from_readings(&[Reading::new(Quantity::Humidity, 45.2)]).unwrap();
        assert_eq!(
            sink.encode(&good, 0, 0, &mut [0u8; 10]),
            Err(EncodeError::BufferTooSmall)
        );
        assert_eq!(sink.ready_in_ms(0), 0, "a failed encode is no update");
        let mut buf = [0u8; 128];
        let msg = sink.encode(&good, 0, 0, &mut buf).unwrap();
        assert_eq!(msg.payload, b"field2=45.2");
        assert_eq!(sink.ready_in_ms(0), ThingSpeakSink::FREE_INTERVAL_MS);
    }
}
