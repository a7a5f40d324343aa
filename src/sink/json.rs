//! [`JsonSink`]: readings as JSON, a bare number or an object, encoded by serde-json-core.

use super::error::{EncodeError, SinkConfigError, check_key};
use super::number::{self, MAX_DECIMALS, Style};
use super::{Sink, split_topic};
use crate::message::Message;
use crate::reading::{Quantity, Reading, Sample};
use crate::topic::validate_topic_name;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Key of the device id inside a JSON object.
const DEVICE_KEY: &str = "device";

/// Key of the sample's time inside a JSON object ([`JsonSink::with_time`]).
const TIME_KEY: &str = "time";

/// Longest key written by [`JsonKey`]'s verbatim path (quantity names are at most 14 bytes);
/// longer keys take serde-json-core's escaping path, which writes the same text, slower.
const MAX_VERBATIM_KEY: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One bare number: the reading of this quantity, or the first reading.
    Value(Option<Quantity>),
    /// An object with one key per reading.
    Object,
}

/// Encodes a sample as JSON on one topic.
///
/// Two shapes:
/// - [`JsonSink::value`]: a bare number, `742`, as the lab's `ujson.dumps(value)` sends to
///   `<device>/value`;
/// - [`JsonSink::object`]: `{"temperature":21.53,"humidity":45.2}`, keys from
///   [`Quantity::name`] unless [`with_keys`](JsonSink::with_keys) renames them, optionally
///   with `"device":"<id>"` first.
///
/// Numbers are written in the shortest form that reads back as the same `f32` (whole numbers
/// without a fraction, as MicroPython prints them), or with fixed decimals
/// ([`with_decimals`](JsonSink::with_decimals)). A NaN or infinite reading is refused with
/// [`EncodeError::NonFinite`].
///
/// ```
/// use sensorpub::{JsonSink, Quantity, Reading, Sample, Sink};
///
/// let sample = Sample::<2>::from_readings(&[
///     Reading::new(Quantity::Temperature, 21.5),
///     Reading::new(Quantity::Humidity, 45.2),
/// ])?;
/// let mut sink = JsonSink::object("apricot/value")?
///     .with_keys(&[(Quantity::Temperature, "t"), (Quantity::Humidity, "rh")])?
///     .with_decimals(2)?
///     .with_device("apricot");
/// let mut buf = [0u8; 96];
/// let msg = sink.encode(&sample, 0, 0, &mut buf)?;
/// assert_eq!(msg.payload, br#"{"device":"apricot","t":21.50,"rh":45.20}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonSink<'a> {
    topic: &'a str,
    shape: Shape,
    keys: &'a [(Quantity, &'a str)],
    decimals: Option<u8>,
    device: Option<&'a str>,
    time: bool,
}

impl<'a> JsonSink<'a> {
    /// A bare number on `topic`: the sample's first reading (see [`of`](JsonSink::of)).
    /// [`SinkConfigError::InvalidTopic`] if `topic` cannot be published to
    /// ([`validate_topic_name`]).
    pub const fn value(topic: &'a str) -> Result<Self, SinkConfigError> {
        Self::with_shape(topic, Shape::Value(None))
    }

    /// An object of all readings on `topic`. [`SinkConfigError::InvalidTopic`] if `topic` cannot
    /// be published to ([`validate_topic_name`]).
    pub const fn object(topic: &'a str) -> Result<Self, SinkConfigError> {
        Self::with_shape(topic, Shape::Object)
    }

    const fn with_shape(topic: &'a str, shape: Shape) -> Result<Self, SinkConfigError> {
        if let Err(e) = validate_topic_name(topic) {
            return Err(SinkConfigError::InvalidTopic(e));
        }
        Ok(Self {
            topic,
            shape,
            keys: &[],
            decimals: None,
            device: None,
            time: false,
        })
    }

    /// For a bare-number sink: send the reading of `quantity` rather than the first one.
    pub const fn of(mut self, quantity: Quantity) -> Self {
        if let Shape::Value(_) = self.shape {
            self.shape = Shape::Value(Some(quantity));
        }
        self
    }

    /// Renames object keys: each `(quantity, key)` replaces [`Quantity::name`] for that
    /// quantity. [`SinkConfigError::InvalidKey`] if a key holds `"`, `\` or a control character.
    pub fn with_keys(mut self, keys: &'a [(Quantity, &'a str)]) -> Result<Self, SinkConfigError> {
        keys.iter().try_for_each(|(_, key)| check_key(key))?;
        self.keys = keys;
        Ok(self)
    }

    /// Writes every number with exactly `decimals` decimals (`21.50`), rounded half away
    /// from zero. [`SinkConfigError::TooManyDecimals`] above [`MAX_DECIMALS`].
    pub fn with_decimals(mut self, decimals: u8) -> Result<Self, SinkConfigError> {
        if decimals > MAX_DECIMALS {
            return Err(SinkConfigError::TooManyDecimals { decimals });
        }
        self.decimals = Some(decimals);
        Ok(self)
    }

    /// Adds `"device":"<device>"` as the object's first member (ignored for bare numbers).
    pub const fn with_device(mut self, device: &'a str) -> Self {
        self.device = Some(device);
        self
    }

    /// Adds `"time":<Unix seconds, UTC>` after the device id (objects only): the sample's
    /// timestamp, taken when it was read, so a message replayed from an outage queue an hour
    /// later is still placed right. A sample without a timestamp (no wall clock: no SNTP yet,
    /// [`Clock::unix_time`](crate::Clock::unix_time) is `None`) is sent without `"time"`.
    /// A reading whose key is `time` is then refused with [`EncodeError::DuplicateKey`].
    ///
    /// ```
    /// use sensorpub::{JsonSink, Quantity, Reading, Sample, Sink};
    ///
    /// let mut sample = Sample::<1>::from_readings(&[Reading::new(Quantity::Temperature, 21.5)])?;
    /// sample.set_timestamp(Some(1_700_000_000));
    /// let mut sink = JsonSink::object("apricot/value")?.with_time();
    /// let mut buf = [0u8; 64];
    /// let msg = sink.encode(&sample, 0, 0, &mut buf)?;
    /// assert_eq!(msg.payload, br#"{"time":1700000000,"temperature":21.5}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn with_time(mut self) -> Self {
        self.time = true;
        self
    }

    /// The topic this sink publishes on.
    pub const fn topic(&self) -> &'a str {
        self.topic
    }

    fn key(&self, quantity: Quantity) -> &'a str {
        self.keys
            .iter()
            .find(|(q, _)| *q == quantity)
            .map_or(quantity.name(), |(_, key)| key)
    }

    /// The key of `quantity`, marked plain when it is known to need no escaping: keys given
    /// to `with_keys` were checked and built-in names are plain ASCII; a `Quantity::Custom`
    /// name was never checked, so it is scanned when written.
    fn json_key(&self, quantity: Quantity) -> JsonKey<'a> {
        match self.keys.iter().find(|(q, _)| *q == quantity) {
            Some((_, key)) => JsonKey {
                key,
                plain: true,
                quoted: None,
            },
            None => JsonKey {
                key: quantity.name(),
                plain: !matches!(quantity, Quantity::Custom { .. }),
                quoted: quoted_name(quantity),
            },
        }
    }

    fn style(&self) -> Style {
        self.decimals.map_or(Style::Shortest, Style::Fixed)
    }

    fn chosen_reading<const N: usize>(&self, sample: &Sample<N>) -> Option<Reading> {
        match self.shape {
            Shape::Value(None) => sample.readings().first().copied(),
            Shape::Value(Some(q)) => sample.readings().iter().find(|r| r.quantity == q).copied(),
            Shape::Object => None,
        }
    }

    /// Refuses what would not be valid, unambiguous JSON before a byte is written.
    fn check_object<const N: usize>(&self, sample: &Sample<N>) -> Result<(), EncodeError> {
        // Each key looked up once, not once per pair compared.
        let mut earlier: heapless::Vec<&str, N> = heapless::Vec::new();
        for reading in sample.readings() {
            if !reading.value.is_finite() {
                return Err(EncodeError::NonFinite {
                    quantity: reading.quantity,
                });
            }
            let key = self.key(reading.quantity);
            let clashes_device = (self.device.is_some() && key == DEVICE_KEY)
                || (self.time && sample.timestamp().is_some() && key == TIME_KEY);
            let clashes_earlier = earlier.contains(&key);
            // A sample holds at most N readings, so this push always has room.
            let _ = earlier.push(key);
            if clashes_device || clashes_earlier {
                return Err(EncodeError::DuplicateKey {
                    quantity: reading.quantity,
                });
            }
        }
        Ok(())
    }
}

/// A number serialized as raw JSON text through serde-json-core's `serialize_bytes`, which
/// writes bytes verbatim: the text comes from [`number::with_text`] and is always a valid JSON
/// number.
struct JsonNumber<'s> {
    value: f32,
    style: &'s Style,
}

impl Serialize for JsonNumber<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        number::with_text(self.value, self.style, |text| match text {
            Some(text) => serializer.serialize_bytes(text),
            // Unreachable after the finiteness check; `null` keeps the output valid regardless.
            None => serializer.serialize_none(),
        })
    }
}

/// An object key, written verbatim when JSON needs no escape in it.
///
/// serde-json-core's `serialize_str` escapes character by character, which took about 44 %
/// of an object encode (callgrind, see BENCHMARKS.md). A key without `"`, `\` or a control
/// character U+0000–U+001F (every quantity name, every key `with_keys` accepts) is its own
/// escaped form, so it goes out quoted through `serialize_bytes`, which copies. Any other key
/// (a `Quantity::Custom` name is not checked) keeps the escaping path: same output either way.
struct JsonKey<'k> {
    key: &'k str,
    /// Known to hold nothing JSON escapes; otherwise the key is scanned before it is written.
    plain: bool,
    /// The key with its quotes, made at compile time for built-in names: written as it is.
    quoted: Option<&'static [u8]>,
}

impl Serialize for JsonKey<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(quoted) = self.quoted {
            return serializer.serialize_bytes(quoted);
        }
        let key = self.key.as_bytes();
        let plain = self.plain || !key.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20);
        match key.len() {
            len if plain && len <= MAX_VERBATIM_KEY => {
                // Pre-filled with quotes: after the copy, the byte past the key closes it.
                let mut quoted = [b'"'; MAX_VERBATIM_KEY + 2];
                quoted[1..=len].copy_from_slice(key);
                serializer.serialize_bytes(&quoted[..len + 2])
            }
            _ => serializer.serialize_str(self.key),
        }
    }
}

/// `name` between double quotes, at compile time (`L` is `name.len() + 2`).
const fn quote<const L: usize>(name: &str) -> [u8; L] {
    let name = name.as_bytes();
    let mut out = [b'"'; L];
    let mut i = 0;
    while i < name.len() {
        out[i + 1] = name[i];
        i += 1;
    }
    out
}

const QUOTED_DEVICE_KEY: [u8; DEVICE_KEY.len() + 2] = quote(DEVICE_KEY);
const QUOTED_TIME_KEY: [u8; TIME_KEY.len() + 2] = quote(TIME_KEY);

/// Defines `quoted_name`: the quoted key of each listed quantity, built at compile time from
/// [`Quantity::name`], so a key is one copy. A quantity not listed (`Custom`, or one added
/// later) gets `None` and takes the general path, with the same output.
macro_rules! quoted_names {
    ($($quantity:ident),* $(,)?) => {
        fn quoted_name(quantity: Quantity) -> Option<&'static [u8]> {
            match quantity {
                $(Quantity::$quantity => {
                    const QUOTED: [u8; Quantity::$quantity.name().len() + 2] =
                        quote(Quantity::$quantity.name());
                    Some(&QUOTED)
                })*
                _ => None,
            }
        }
    };
}

quoted_names!(
    Temperature,
    Humidity,
    Pressure,
    Altitude,
    Illuminance,
    AccelerationX,
    AccelerationY,
    AccelerationZ,
    Pitch,
    Roll,
    DewPoint,
    Voltage,
    Value,
);

struct JsonObject<'s, 'a, const N: usize> {
    sink: &'s JsonSink<'a>,
    sample: &'s Sample<N>,
    style: Style,
}

impl<const N: usize> Serialize for JsonObject<'_, '_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let readings = self.sample.readings();
        let mut map = serializer.serialize_map(Some(readings.len()))?;
        if let Some(device) = self.sink.device {
            let key = JsonKey {
                key: DEVICE_KEY,
                plain: true,
                quoted: Some(&QUOTED_DEVICE_KEY),
            };
            map.serialize_entry(&key, device)?;
        }
        if self.sink.time
            && let Some(time) = self.sample.timestamp()
        {
            let key = JsonKey {
                key: TIME_KEY,
                plain: true,
                quoted: Some(&QUOTED_TIME_KEY),
            };
            map.serialize_entry(&key, &time)?;
        }
        for reading in readings {
            let number = JsonNumber {
                value: reading.value,
                style: &self.style,
            };
            map.serialize_entry(&self.sink.json_key(reading.quantity), &number)?;
        }
        map.end()
    }
}

impl Sink for JsonSink<'_> {
    type Error = EncodeError;

    fn message_count<const N: usize>(&self, _sample: &Sample<N>) -> usize {
        1
    }

    fn encode<'b, const N: usize>(
        &mut self,
        sample: &Sample<N>,
        index: usize,
        _now_ms: u64,
        buf: &'b mut [u8],
    ) -> Result<Message<'b>, EncodeError> {
        if index != 0 {
            return Err(EncodeError::NoSuchMessage);
        }
        // Content errors first: they say more than a short buffer does.
        let value = match self.shape {
            Shape::Value(_) => {
                let reading = self
                    .chosen_reading(sample)
                    .ok_or(EncodeError::NothingToSend)?;
                if !reading.value.is_finite() {
                    return Err(EncodeError::NonFinite {
                        quantity: reading.quantity,
                    });
                }
                Some(reading)
            }
            Shape::Object if sample.is_empty() => return Err(EncodeError::NothingToSend),
            Shape::Object => {
                self.check_object(sample)?;
                None
            }
        };
        let (topic, rest) = split_topic(buf, &[self.topic.as_bytes()])?;
        let written = match value {
            Some(reading) => number::with_text(reading.value, &self.style(), |text| {
                let text = text.ok_or(EncodeError::NonFinite {
                    quantity: reading.quantity,
                })?;
                let out = rest
                    .get_mut(..text.len())
                    .ok_or(EncodeError::BufferTooSmall)?;
                out.copy_from_slice(text);
                Ok(text.len())
            })?,
            None => {
                let object = JsonObject {
                    sink: self,
                    sample,
                    style: self.style(),
                };
                serde_json_core::to_slice(&object, rest).map_err(|_| EncodeError::BufferTooSmall)?
            }
        };
        Ok(Message::new(topic, &rest[..written]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_object(sink: JsonSink<'_>, readings: &[Reading]) -> std::vec::Vec<u8> {
        let sample = Sample::<4>::from_readings(readings).unwrap();
        let mut buf = [0u8; 256];
        let mut sink = sink;
        let msg = sink.encode(&sample, 0, 0, &mut buf).unwrap();
        msg.payload.to_vec()
    }

    #[test]
    fn with_time_writes_the_samples_unix_seconds_after_the_device() {
        let readings = [Reading::new(Quantity::Temperature, 21.5)];
        let mut sample = Sample::<4>::from_readings(&readings).unwrap();
        let mut sink = JsonSink::object("t").unwrap().with_device("d").with_time();
        let mut buf = [0u8; 128];
        // No wall clock: no "time", rather than a wrong one.
        let msg = sink.encode(&sample, 0, 0, &mut buf).unwrap();
        assert_eq!(msg.payload, br#"{"device":"d","temperature":21.5}"#);
        sample.set_timestamp(Some(1_764_000_000));
        let msg = sink.encode(&sample, 0, 0, &mut buf).unwrap();
        assert_eq!(
            msg.payload,
            br#"{"device":"d","time":1764000000,"temperature":21.5}"#
        );
        // Off by default.
        let plain = JsonSink::object("t").unwrap();
        assert_eq!(
            encode_object(plain, &readings),
            br#"{"temperature":21.5}"#.to_vec()
        );
        // A reading keyed "time" would make the object ambiguous.
        let keys = [(Quantity::Temperature, "time")];
        let mut clash = JsonSink::object("t")
            .unwrap()
            .with_keys(&keys)
            .unwrap()
            .with_time();
        assert_eq!(
            clash
                .encode(&sample, 0, 0, &mut buf)
                .map(|m| m.payload.len()),
            Err(EncodeError::DuplicateKey {
                quantity: Quantity::Temperature
            })
        );
    }

    #[test]
    fn quoted_names_are_the_names_in_quotes() {
        let all = [
            Quantity::Temperature,
            Quantity::Humidity,
            Quantity::Pressure,
            Quantity::Altitude,
            Quantity::Illuminance,
            Quantity::AccelerationX,
            Quantity::AccelerationY,
            Quantity::AccelerationZ,
            Quantity::Pitch,
            Quantity::Roll,
            Quantity::DewPoint,
            Quantity::Voltage,
            Quantity::Value,
        ];
        for quantity in all {
            let want = std::format!("\"{}\"", quantity.name());
            assert_eq!(quoted_name(quantity), Some(want.as_bytes()), "{quantity:?}");
        }
        let custom = Quantity::Custom {
            name: "x",
            unit: "",
        };
        assert_eq!(quoted_name(custom), None);
        assert_eq!(&QUOTED_DEVICE_KEY, b"\"device\"");
    }

    #[test]
    fn custom_names_that_need_escaping_are_escaped() {
        let odd = Quantity::Custom {
            name: "a\"b\\c\n",
            unit: "",
        };
        let out = encode_object(JsonSink::object("t").unwrap(), &[Reading::new(odd, 1.5)]);
        assert_eq!(out, br#"{"a\"b\\c\n":1.5}"#);
    }

    #[test]
    fn keys_longer_than_the_verbatim_limit_are_written_whole() {
        let long = "k".repeat(MAX_VERBATIM_KEY + 5);
        let name: &'static str = std::boxed::Box::leak(long.clone().into_boxed_str());
        let q = Quantity::Custom { name, unit: "" };
        let out = encode_object(JsonSink::object("t").unwrap(), &[Reading::new(q, 2.0)]);
        assert_eq!(out, std::format!("{{\"{long}\":2}}").into_bytes());
    }

    #[test]
    fn keys_at_the_verbatim_limit_and_the_device_key_are_quoted() {
        let key = "k".repeat(MAX_VERBATIM_KEY);
        let keys = [(Quantity::Humidity, key.as_str())];
        let sink = JsonSink::object("t")
            .unwrap()
            .with_keys(&keys)
            .unwrap()
            .with_device("d\"1");
        let out = encode_object(sink, &[Reading::new(Quantity::Humidity, 45.2)]);
        assert_eq!(
            out,
            std::format!("{{\"device\":\"d\\\"1\",\"{key}\":45.2}}").into_bytes()
        );
    }
}
