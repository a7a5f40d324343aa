//! [`SenmlSink`]: readings as SenML (RFC 8428, Sensor Measurement Lists) in JSON, the payload
//! format IoT platforms parse without a per-device schema.

use super::Sink;
use super::error::{EncodeError, SinkConfigError};
use super::number::{MAX_DECIMALS, Style};
use super::out::Out;
use crate::decimal::{U64_DIGITS, format_u64};
use crate::message::Message;
use crate::reading::{Quantity, Reading, Sample};

/// Standard gravity, m/s² per g (exact by definition: CGPM 1901, NIST SP 330). Conversions
/// are in f32: a Cortex-M4F has no f64 unit, and f64 arithmetic would link about 1.2 KB of
/// soft-float routines for a difference of at most one unit in the last place.
const STANDARD_GRAVITY: f32 = 9.806_65;

/// Radians per degree.
const RADIANS_PER_DEGREE: f32 = core::f32::consts::PI / 180.0;

/// Separates the device from the reading name in the resolved SenML name
/// (`apricot` + `:` + `temperature`).
const BASE_NAME_SEPARATOR: u8 = b':';

/// The units of RFC 8428's registry (section 12.1), the ones every SenML consumer knows.
/// Later RFCs (RFC 8798: `deg`, `B`, `VA`, …) added more that older consumers reject.
const RFC8428_UNITS: [&str; 58] = [
    "m", "kg", "g", "s", "A", "K", "cd", "mol", "Hz", "rad", "sr", "N", "Pa", "J", "W", "C", "V",
    "F", "Ohm", "S", "Wb", "T", "H", "Cel", "lm", "lx", "Bq", "Gy", "Sv", "kat", "m2", "m3", "l",
    "m/s", "m/s2", "m3/s", "l/s", "W/m2", "cd/m2", "bit", "bit/s", "lat", "lon", "pH", "dB", "dBW",
    "Bspl", "count", "/", "%", "%RH", "%EL", "EL", "1/s", "1/min", "beat/min", "beats", "S/m",
];

/// Encodes a sample as one SenML pack (RFC 8428, `application/senml+json`) on one topic.
///
/// ```text
/// [{"bn":"apricot:","bt":1700000000,"n":"temperature","u":"Cel","v":21.5},
///  {"n":"humidity","u":"%RH","v":45.2}]
/// ```
///
/// - **Names.** The base name `bn` is the device followed by `:` (`apricot:`; a URN such as
///   `urn:dev:mac:0024befffe804ff1` works the same way), written once in the first record;
///   each record's `n` is [`Quantity::name`], so the resolved names are
///   `apricot:temperature`, `apricot:humidity`. The device must be a valid SenML name
///   (letters, digits, `- : . / _`, starting with a letter or digit).
/// - **Time.** When the sample has a timestamp, the first record carries it as the base time
///   `bt` (Unix seconds) and no record has a `t`, so every record resolves to that time.
///   Without one, no time is sent, which RFC 8428 reads as "now".
/// - **Units.** Each record's `u` is the RFC 8428 unit: `Cel` (temperature, dew point),
///   `%RH`, `Pa`, `m` (altitude), `lx`, `V`. Two of our units are not in RFC 8428's registry
///   and are converted: acceleration in g is sent in `m/s2` (× 9.80665, standard gravity; `g`
///   is SenML's *gram*), pitch and roll in degrees are sent in `rad` (× π/180; `deg` was only
///   registered later, by RFC 8798, so RFC 8428 consumers would refuse it).
///   [`Quantity::Value`] has no unit and is sent without `u`. A [`Quantity::Custom`] unit is
///   sent as it is if RFC 8428 registers it, omitted if empty, and otherwise refused with
///   [`EncodeError::UnregisteredUnit`].
///
/// Values are written as the JSON sink writes them: shortest round-trip, or fixed decimals
/// with [`with_decimals`](SenmlSink::with_decimals). A NaN or infinite value (also one that
/// overflows in the conversion) is refused with [`EncodeError::NonFinite`]; a buffer too short
/// with [`EncodeError::BufferTooSmall`]. An empty sample is no message
/// ([`Sink::message_count`] is 0).
///
/// ```
/// use sensorpub::{Quantity, Reading, Sample, SenmlSink, Sink};
///
/// let mut sample = Sample::<2>::from_readings(&[
///     Reading::new(Quantity::Temperature, 21.5),
///     Reading::new(Quantity::AccelerationZ, 1.0),
/// ])?;
/// sample.set_timestamp(Some(1_700_000_000));
/// let sink = SenmlSink::new("apricot/senml", "apricot")?;
/// let mut buf = [0u8; 160];
/// let msg = sink.encode(&sample, 0, 0, &mut buf)?;
/// assert_eq!(msg.topic, "apricot/senml");
/// assert_eq!(
///     msg.payload,
///     br#"[{"bn":"apricot:","bt":1700000000,"n":"temperature","u":"Cel","v":21.5},{"n":"acceleration_z","u":"m/s2","v":9.80665}]"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenmlSink<'a> {
    topic: &'a str,
    device: &'a str,
    decimals: Option<u8>,
}

impl<'a> SenmlSink<'a> {
    /// A SenML pack on `topic`, names based on `device` (base name `<device>:`).
    /// [`SinkConfigError::InvalidTopic`] if `topic` is not a topic name a message can be published
    /// to ([`validate_topic_name`](crate::validate_topic_name)); [`SinkConfigError::InvalidName`]
    /// if `device` is not a valid SenML name.
    pub fn new(topic: &'a str, device: &'a str) -> Result<Self, SinkConfigError> {
        crate::topic::validate_topic_name(topic).map_err(SinkConfigError::InvalidTopic)?;
        let starts_well = device
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
        if !starts_well || !device.bytes().all(is_name_byte) {
            return Err(SinkConfigError::InvalidName);
        }
        Ok(Self {
            topic,
            device,
            decimals: None,
        })
    }

    /// Writes every value with exactly `decimals` decimals (`21.50`), rounded half away
    /// from zero. [`SinkConfigError::TooManyDecimals`] above [`MAX_DECIMALS`].
    /// A value too large for exact fixed point (|value| × 10^decimals ≥ 9 × 10^15, which an
    /// `f32` cannot hold exactly) is written in the shortest form instead (`3e38`).
    pub fn with_decimals(mut self, decimals: u8) -> Result<Self, SinkConfigError> {
        if decimals > MAX_DECIMALS {
            return Err(SinkConfigError::TooManyDecimals { decimals });
        }
        self.decimals = Some(decimals);
        Ok(self)
    }

    /// The topic this sink publishes on.
    pub const fn topic(&self) -> &'a str {
        self.topic
    }

    /// The device the base name is made of.
    pub const fn device(&self) -> &'a str {
        self.device
    }

    fn style(&self) -> Style {
        self.decimals.map_or(Style::Shortest, Style::Fixed)
    }
}

/// A character RFC 8428 allows in a resolved name (section 4.5.1).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'/' | b'_')
}

/// One record, checked: the name, the RFC 8428 unit (if any) and the value in that unit.
struct Record {
    quantity: Quantity,
    name: &'static str,
    unit: Option<&'static str>,
    value: f32,
}

impl Record {
    fn of(reading: &Reading) -> Result<Self, EncodeError> {
        let quantity = reading.quantity;
        let (unit, scale) = match quantity {
            Quantity::Temperature | Quantity::DewPoint => (Some("Cel"), None),
            Quantity::Humidity => (Some("%RH"), None),
            Quantity::Pressure => (Some("Pa"), None),
            Quantity::Altitude => (Some("m"), None),
            Quantity::Illuminance => (Some("lx"), None),
            Quantity::AccelerationX | Quantity::AccelerationY | Quantity::AccelerationZ => {
                (Some("m/s2"), Some(STANDARD_GRAVITY))
            }
            Quantity::Pitch | Quantity::Roll => (Some("rad"), Some(RADIANS_PER_DEGREE)),
            Quantity::Voltage => (Some("V"), None),
            Quantity::Value => (None, None),
            Quantity::Custom { name, unit } => {
                if name.is_empty() || !name.bytes().all(is_name_byte) {
                    return Err(EncodeError::InvalidName { quantity });
                }
                match unit {
                    "" => (None, None),
                    unit => match RFC8428_UNITS.iter().find(|&&u| u == unit) {
                        Some(registered) => (Some(*registered), None),
                        None => return Err(EncodeError::UnregisteredUnit { quantity }),
                    },
                }
            }
        };
        let value = match scale {
            Some(scale) => reading.value * scale,
            None => reading.value,
        };
        if !value.is_finite() {
            return Err(EncodeError::NonFinite { quantity });
        }
        Ok(Self {
            quantity,
            name: quantity.name(),
            unit,
            value,
        })
    }
}

impl Sink for SenmlSink<'_> {
    type Error = EncodeError;

    fn message_count<const N: usize>(&self, sample: &Sample<N>) -> usize {
        usize::from(!sample.is_empty())
    }

    fn encode<'m, const N: usize>(
        &'m self,
        sample: &Sample<N>,
        index: usize,
        _now_ms: u64,
        buf: &'m mut [u8],
    ) -> Result<Message<'m>, EncodeError> {
        if index != 0 {
            return Err(EncodeError::NoSuchMessage);
        }
        if sample.is_empty() {
            return Err(EncodeError::NothingToSend);
        }
        // Content errors first: they say more than a short buffer does.
        for reading in sample.readings() {
            Record::of(reading)?;
        }
        let style = self.style();
        let mut out = Out::new(buf);
        out.push(b"[")?;
        for (i, reading) in sample.readings().iter().enumerate() {
            let record = Record::of(reading)?;
            if i == 0 {
                out.push(b"{\"bn\":\"")?;
                out.push(self.device.as_bytes())?;
                out.push(&[BASE_NAME_SEPARATOR, b'"', b','])?;
                if let Some(unix_seconds) = sample.timestamp() {
                    out.push(b"\"bt\":")?;
                    let mut digits = [0u8; U64_DIGITS];
                    let start = format_u64(unix_seconds, &mut digits);
                    out.push(&digits[start..])?;
                    out.push(b",")?;
                }
                out.push(b"\"n\":\"")?;
            } else {
                out.push(b",{\"n\":\"")?;
            }
            out.push(record.name.as_bytes())?;
            if let Some(unit) = record.unit {
                out.push(b"\",\"u\":\"")?;
                out.push(unit.as_bytes())?;
            }
            out.push(b"\",\"v\":")?;
            out.number(record.value, &style, record.quantity)?;
            out.push(b"}")?;
        }
        out.push(b"]")?;
        Ok(Message::new(self.topic, out.into_written()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_table_has_no_duplicates_and_only_name_safe_json() {
        for (i, unit) in RFC8428_UNITS.iter().enumerate() {
            assert!(!RFC8428_UNITS[..i].contains(unit), "{unit} twice");
            assert!(!unit.contains('"') && !unit.contains('\\'), "{unit}");
        }
    }

    #[test]
    fn device_names_follow_rfc_8428() {
        for good in ["apricot", "urn:dev:mac:0024befffe804ff1", "0a-b.c/d_e"] {
            assert!(SenmlSink::new("t", good).is_ok(), "{good}");
        }
        for bad in ["", ":x", "-x", "a b", "a\"b", "é"] {
            assert_eq!(
                SenmlSink::new("t", bad),
                Err(SinkConfigError::InvalidName),
                "{bad}"
            );
        }
    }
}
