//! [`JsonSink`]: readings as JSON, a bare number or an object, written piece by piece: the
//! constant pieces (quoted keys with their colon, separators) are made at compile time or
//! checked when the sink is built, so an encode writes numbers and copies pieces.

use super::Sink;
use super::error::{EncodeError, SinkConfigError, check_key};
use super::number::{MAX_DECIMALS, Style};
use super::out::{Out, json_plain};
use crate::decimal::{U64_DIGITS, format_u64};
use crate::message::Message;
use crate::reading::{Quantity, Reading, Sample};
use crate::topic::validate_topic_name;

/// Key of the device id inside a JSON object.
const DEVICE_KEY: &str = "device";

/// Key of the sample's time inside a JSON object ([`JsonSink::with_time`]).
const TIME_KEY: &str = "time";

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
/// let sink = JsonSink::object("apricot/value")?
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
    /// `device` needs no JSON escape: decided once in [`with_device`](JsonSink::with_device).
    device_plain: bool,
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
            device_plain: true,
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
    /// A value too large for exact fixed point (|value| × 10^decimals ≥ 9 × 10^15, which an
    /// `f32` cannot hold exactly) is written in the shortest form instead (`3e38`).
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
        self.device_plain = json_plain(device);
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

    fn style(&self) -> Style {
        self.decimals.map_or(Style::Shortest, Style::Fixed)
    }

    fn chosen_reading<'s, const N: usize>(&self, sample: &'s Sample<N>) -> Option<&'s Reading> {
        match self.shape {
            Shape::Value(None) => sample.readings().first(),
            Shape::Value(Some(q)) => sample.readings().iter().find(|r| r.quantity == q),
            Shape::Object => None,
        }
    }

    /// What is wrong with `sample` as an object regardless of the buffer: the first reading
    /// that is NaN or infinite or whose key was already written. Asked only once a write
    /// failed, so a good sample is walked once (the write finds these errors itself).
    fn check_object<const N: usize>(&self, sample: &Sample<N>) -> Result<(), EncodeError> {
        for (i, reading) in sample.readings().iter().enumerate() {
            if !reading.value.is_finite() {
                return Err(EncodeError::NonFinite {
                    quantity: reading.quantity,
                });
            }
            self.check_clash(sample, i)?;
        }
        Ok(())
    }

    /// [`EncodeError::DuplicateKey`] if reading `i`'s key is `device` or `time` (when those
    /// are written) or the key of an earlier reading: keys compared as strings.
    fn check_clash<const N: usize>(&self, sample: &Sample<N>, i: usize) -> Result<(), EncodeError> {
        let readings = sample.readings();
        let Some(reading) = readings.get(i) else {
            return Ok(());
        };
        let key = self.key(reading.quantity);
        let clash = (self.device.is_some() && key == DEVICE_KEY)
            || (self.time && sample.timestamp().is_some() && key == TIME_KEY)
            || readings[..i].iter().any(|r| self.key(r.quantity) == key);
        if clash {
            return Err(EncodeError::DuplicateKey {
                quantity: reading.quantity,
            });
        }
        Ok(())
    }

    /// Writes `"<key>":` for `quantity`: one copy for a built-in name (quoted, with its
    /// colon, at compile time); a renamed key was checked by `with_keys` and goes between
    /// quotes as it is; a custom quantity's name was never checked and is escaped.
    fn write_key(&self, quantity: Quantity, out: &mut Out<'_>) -> Result<(), EncodeError> {
        if let Some((_, key)) = self.keys.iter().find(|(q, _)| *q == quantity) {
            out.byte(b'"')?;
            out.push_rare(key.as_bytes())?;
            return out.push_rare(b"\":");
        }
        match key_piece(quantity) {
            Some((piece, _)) => out.push(piece),
            None => {
                out.json_string(quantity.name())?;
                out.byte(b':')
            }
        }
    }

    /// The object `{"device":"..","<key>":<number>,..}` into `out`.
    fn write_object<const N: usize>(
        &self,
        sample: &Sample<N>,
        out: &mut Out<'_>,
    ) -> Result<(), EncodeError> {
        let style = self.style();
        out.byte(b'{')?;
        let mut first = true;
        if let Some(device) = self.device {
            out.push_rare(DEVICE_PIECE)?;
            if self.device_plain {
                out.byte(b'"')?;
                out.push_rare(device.as_bytes())?;
                out.byte(b'"')?;
            } else {
                out.json_string(device)?;
            }
            first = false;
        }
        if self.time
            && let Some(unix_seconds) = sample.timestamp()
        {
            if !first {
                out.byte(b',')?;
            }
            out.push_rare(TIME_PIECE)?;
            let mut digits = [0u8; U64_DIGITS];
            let start = format_u64(unix_seconds, &mut digits);
            out.push_rare(&digits[start..])?;
            first = false;
        }
        // Duplicate keys are refused as the keys are written. Built-in names are distinct and
        // none is "device" or "time": until a renamed key or a custom quantity comes, two keys
        // clash exactly when a quantity comes twice, a bit in `seen`; from then on each key is
        // compared as a string with every earlier one (and with "device" and "time").
        let mut seen = 0u32;
        let mut by_name = !self.keys.is_empty();
        for (i, reading) in sample.readings().iter().enumerate() {
            if !first {
                out.byte(b',')?;
            }
            first = false;
            match (by_name, key_piece(reading.quantity)) {
                (false, Some((piece, bit))) => {
                    if seen & bit != 0 {
                        return Err(EncodeError::DuplicateKey {
                            quantity: reading.quantity,
                        });
                    }
                    seen |= bit;
                    out.push(piece)?;
                }
                _ => {
                    by_name = true;
                    self.check_clash(sample, i)?;
                    self.write_key(reading.quantity, out)?;
                }
            }
            out.number(reading.value, &style, reading.quantity)?;
        }
        out.byte(b'}')
    }
}

/// `"name":`, at compile time (`L` is `name.len() + 3`).
const fn key_piece_of<const L: usize>(name: &str) -> [u8; L] {
    let name = name.as_bytes();
    let mut out = [b'"'; L];
    let mut i = 0;
    while i < name.len() {
        out[i + 1] = name[i];
        i += 1;
    }
    out[L - 1] = b':';
    out
}

/// `"device":`, written before the device id.
const DEVICE_PIECE: &[u8] = &key_piece_of::<{ DEVICE_KEY.len() + 3 }>(DEVICE_KEY);
/// `"time":`, written before the sample's Unix seconds.
const TIME_PIECE: &[u8] = &key_piece_of::<{ TIME_KEY.len() + 3 }>(TIME_KEY);

/// Defines `key_piece`: `"<name>":` of each listed quantity, built at compile time from
/// [`Quantity::name`], so a key is one copy, and a bit of its own (for duplicate checks). A
/// quantity not listed (`Custom`, or one added later) gets `None` and its name is escaped as
/// it is written, with the same output.
macro_rules! key_pieces {
    ($($quantity:ident),* $(,)?) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum Bit { $($quantity),* }

        fn key_piece(quantity: Quantity) -> Option<(&'static [u8], u32)> {
            // One table of pieces indexed by the quantity's bit, rather than a `match` arm
            // that loads a piece's address, length and bit for each quantity.
            const PIECES: &[&[u8]] = &[$({
                const PIECE: [u8; Quantity::$quantity.name().len() + 3] =
                    key_piece_of(Quantity::$quantity.name());
                &PIECE
            }),*];
            let index = match quantity {
                $(Quantity::$quantity => Bit::$quantity as usize,)*
                _ => return None,
            };
            PIECES.get(index).map(|piece| (*piece, 1 << index))
        }
    };
}

key_pieces!(
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

impl Sink for JsonSink<'_> {
    type Error = EncodeError;

    fn message_count<const N: usize>(&self, _sample: &Sample<N>) -> usize {
        1
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
        // Content errors first: they say more than a short buffer does.
        let value = match self.shape {
            Shape::Value(_) => {
                // A NaN or infinity is refused by `Out::number` before it looks at the room
                // left, so the content error still wins over a short buffer.
                let reading = self
                    .chosen_reading(sample)
                    .ok_or(EncodeError::NothingToSend)?;
                Some(reading)
            }
            Shape::Object if sample.is_empty() => return Err(EncodeError::NothingToSend),
            Shape::Object => None,
        };
        let mut out = Out::new(buf);
        match value {
            Some(reading) => out.number(reading.value, &self.style(), reading.quantity)?,
            // Written first, checked after only if that failed: a content error (a NaN, a
            // duplicate key) still wins over a short buffer.
            None => {
                if let Err(e) = self.write_object(sample, &mut out) {
                    return Err(self.check_object(sample).err().unwrap_or(e));
                }
            }
        }
        Ok(Message::new(self.topic, out.into_written()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_object(sink: JsonSink<'_>, readings: &[Reading]) -> std::vec::Vec<u8> {
        let sample = Sample::<4>::from_readings(readings).unwrap();
        let mut buf = [0u8; 256];
        let msg = sink.encode(&sample, 0, 0, &mut buf).unwrap();
        msg.payload.to_vec()
    }

    #[test]
    fn with_time_writes_the_samples_unix_seconds_after_the_device() {
        let readings = [Reading::new(Quantity::Temperature, 21.5)];
        let mut sample = Sample::<4>::from_readings(&readings).unwrap();
        let sink = JsonSink::object("t").unwrap().with_device("d").with_time();
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
        let clash = JsonSink::object("t")
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
    fn key_pieces_are_the_names_in_quotes_with_a_colon() {
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
        let mut bits = 0u32;
        for quantity in all {
            let want = std::format!("\"{}\":", quantity.name());
            let (piece, bit) = key_piece(quantity).unwrap();
            assert_eq!(piece, want.as_bytes(), "{quantity:?}");
            // One bit of its own per quantity: the duplicate check's mask.
            assert_eq!(bit.count_ones(), 1, "{quantity:?}");
            assert_eq!(bits & bit, 0, "{quantity:?}");
            bits |= bit;
        }
        let custom = Quantity::Custom {
            name: "x",
            unit: "",
        };
        assert_eq!(key_piece(custom), None);
        assert_eq!(DEVICE_PIECE, b"\"device\":");
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
    fn long_custom_names_are_written_whole() {
        let long = "k".repeat(35);
        let name: &'static str = std::boxed::Box::leak(long.clone().into_boxed_str());
        let q = Quantity::Custom { name, unit: "" };
        let out = encode_object(JsonSink::object("t").unwrap(), &[Reading::new(q, 2.0)]);
        assert_eq!(out, std::format!("{{\"{long}\":2}}").into_bytes());
    }

    #[test]
    fn long_renamed_keys_and_an_escaped_device_are_quoted() {
        let key = "k".repeat(30);
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
