//! What the size binaries and the QEMU run share: the sample, the expected bytes, and every
//! encoder being compared, each behind an `#[inline(never)]` function so that one call is one
//! measured unit and its code is counted once.
//!
//! Inputs pass through `black_box` so that neither the optimiser nor LTO can fold an encoder
//! into a constant string; outputs pass through `black_box` so they cannot be discarded.
#![no_std]

#[cfg(feature = "mqtt")]
pub mod stand_in;

use core::fmt::Write as _;
use core::hint::black_box;
use sensorpub::{JsonSink, Quantity, Reading, Sample, SenmlSink, Sink, ThingSpeakSink};

/// The sample every encoder writes: temperature 21.53 °C, humidity 45.2 %.
pub const TEMPERATURE: f32 = 21.53;
/// See [`TEMPERATURE`].
pub const HUMIDITY: f32 = 45.2;

/// Topic of the JSON messages.
pub const JSON_TOPIC: &str = "apricot/value";
/// ThingSpeak channel of the bulk messages.
pub const CHANNEL: u32 = 1_234_567;
/// ThingSpeak fields: temperature on 1, humidity on 2.
pub const FIELDS: [(u8, Quantity); 2] = [(1, Quantity::Temperature), (2, Quantity::Humidity)];

/// Expected payloads, checked on the emulated MCU.
pub const JSON_OBJECT: &[u8] = br#"{"temperature":21.53,"humidity":45.2}"#;
/// With two fixed decimals.
pub const JSON_OBJECT_FIXED2: &[u8] = br#"{"temperature":21.53,"humidity":45.20}"#;
/// The bare value.
pub const JSON_VALUE: &[u8] = b"21.53";
/// The ThingSpeak bulk feed.
pub const THINGSPEAK_BULK: &[u8] = b"field1=21.53&field2=45.2";
/// The ThingSpeak bulk feed with two fixed decimals.
pub const THINGSPEAK_BULK_FIXED2: &[u8] = b"field1=21.53&field2=45.20";
/// Topic and device of the SenML messages.
pub const SENML_TOPIC: &str = "apricot/senml";
/// See [`SENML_TOPIC`].
pub const SENML_DEVICE: &str = "apricot";
/// The SenML pack (no timestamp: the harness has no clock).
pub const SENML_PACK: &[u8] =
    br#"[{"bn":"apricot:","n":"temperature","u":"Cel","v":21.53},{"n":"humidity","u":"%RH","v":45.2}]"#;
/// The ThingSpeak topic.
pub const THINGSPEAK_TOPIC: &str = "channels/1234567/publish";

/// Room for the payload of every message here.
pub const BUF: usize = 128;

/// The two readings, opaque to the optimiser.
pub fn sample() -> Sample<2> {
    let mut sample = Sample::new();
    let readings = [
        Reading::new(Quantity::Temperature, black_box(TEMPERATURE)),
        Reading::new(Quantity::Humidity, black_box(HUMIDITY)),
    ];
    for reading in readings {
        if sample.push(reading).is_err() {
            fail();
        }
    }
    sample
}

/// Makes `bytes` observable so the work that produced them is kept.
#[inline(always)]
pub fn consume(bytes: &[u8]) {
    black_box(bytes);
}

/// Stops in a way every binary can see: a panic, which the bins turn into a failed exit.
#[cold]
pub fn fail() -> ! {
    panic!("encoder failed")
}

/// The JSON sink, built at run time from opaque options so every mode's code is linked.
pub fn json_sink(decimals: Option<u8>) -> JsonSink<'static> {
    let sink = black_box(JsonSink::object(JSON_TOPIC).unwrap_or_else(|_| fail()));
    match black_box(decimals) {
        Some(d) => sink.with_decimals(d).unwrap_or_else(|_| fail()),
        None => sink,
    }
}

/// The SenML sink, options opaque.
pub fn senml_sink(decimals: Option<u8>) -> SenmlSink<'static> {
    let sink =
        SenmlSink::new(black_box(SENML_TOPIC), black_box(SENML_DEVICE)).unwrap_or_else(|_| fail());
    match black_box(decimals) {
        Some(d) => sink.with_decimals(d).unwrap_or_else(|_| fail()),
        None => sink,
    }
}

/// The ThingSpeak sink (no rate limit, so it can encode back to back), options opaque.
pub fn thingspeak_sink(decimals: Option<u8>) -> ThingSpeakSink<'static> {
    let sink = ThingSpeakSink::new(black_box(CHANNEL), black_box(&FIELDS))
        .unwrap_or_else(|_| fail())
        .with_interval_ms(black_box(0));
    match black_box(decimals) {
        Some(d) => sink.with_decimals(d).unwrap_or_else(|_| fail()),
        None => sink,
    }
}

/// One message of `sink` into `buf`; returns the payload length.
#[inline(never)]
pub fn encode<K: Sink>(sink: &K, sample: &Sample<2>, buf: &mut [u8]) -> usize {
    match sink.encode(sample, 0, 0, buf) {
        Ok(message) => {
            consume(message.payload);
            message.payload.len()
        }
        Err(_) => fail(),
    }
}

/// `{"temperature":…,"humidity":…}` with `write!`, shortest (`{}`) or with `decimals`.
#[inline(never)]
pub fn fmt_json(out: &mut heapless::String<BUF>, t: f32, h: f32, decimals: Option<usize>) -> usize {
    out.clear();
    let written = match decimals {
        None => write!(out, r#"{{"temperature":{t},"humidity":{h}}}"#),
        Some(d) => write!(out, r#"{{"temperature":{t:.d$},"humidity":{h:.d$}}}"#),
    };
    if written.is_err() {
        fail();
    }
    consume(out.as_bytes());
    out.len()
}

/// `field1=…&field2=…` with `write!`, shortest (`{}`) or with `decimals`.
#[inline(never)]
pub fn fmt_thingspeak(
    out: &mut heapless::String<BUF>,
    t: f32,
    h: f32,
    decimals: Option<usize>,
) -> usize {
    out.clear();
    let written = match decimals {
        None => write!(out, "field1={t}&field2={h}"),
        Some(d) => write!(out, "field1={t:.d$}&field2={h:.d$}"),
    };
    if written.is_err() {
        fail();
    }
    consume(out.as_bytes());
    out.len()
}

/// What `#[derive(Serialize)]` + serde-json-core `to_slice` writes: the crate's engine alone.
#[derive(serde::Serialize)]
pub struct Climate {
    /// °C.
    pub temperature: f32,
    /// %.
    pub humidity: f32,
}

/// serde-json-core `to_slice` of [`Climate`].
#[inline(never)]
pub fn serde_json_core(out: &mut [u8], t: f32, h: f32) -> usize {
    let value = Climate {
        temperature: t,
        humidity: h,
    };
    match serde_json_core::to_slice(&value, out) {
        Ok(len) => {
            consume(&out[..len]);
            len
        }
        Err(_) => fail(),
    }
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    out[at..at + bytes.len()].copy_from_slice(bytes);
    at + bytes.len()
}

/// The shortest-output floor: the JSON object by hand, numbers by `ryu`.
#[inline(never)]
pub fn ryu_floor(out: &mut [u8; BUF], t: f32, h: f32) -> usize {
    let mut at = put(out, 0, br#"{"temperature":"#);
    at = put(out, at, ryu::Buffer::new().format_finite(t).as_bytes());
    at = put(out, at, br#","humidity":"#);
    at = put(out, at, ryu::Buffer::new().format_finite(h).as_bytes());
    at = put(out, at, b"}");
    consume(&out[..at]);
    at
}

/// Constant pieces + zmij: the JSON object by hand, numbers by `zmij` (the fastest crate,
/// which the sinks used before their own formatter). zmij writes what ryu writes for these
/// numbers (no exponent).
#[inline(never)]
pub fn zmij_floor(out: &mut [u8; BUF], t: f32, h: f32) -> usize {
    let mut at = put(out, 0, br#"{"temperature":"#);
    at = put(out, at, zmij::Buffer::new().format_finite(t).as_bytes());
    at = put(out, at, br#","humidity":"#);
    at = put(out, at, zmij::Buffer::new().format_finite(h).as_bytes());
    at = put(out, at, b"}");
    consume(&out[..at]);
    at
}

/// One number, shortest, by `ryu` into a byte array: the bare-value floor.
#[inline(never)]
pub fn bare_ryu(out: &mut [u8; BUF], v: f32) -> usize {
    let at = put(out, 0, ryu::Buffer::new().format_finite(v).as_bytes());
    consume(&out[..at]);
    at
}

/// One number, shortest, by `zmij` into a byte array.
#[inline(never)]
pub fn bare_zmij(out: &mut [u8; BUF], v: f32) -> usize {
    let at = put(out, 0, zmij::Buffer::new().format_finite(v).as_bytes());
    consume(&out[..at]);
    at
}

/// One number with `write!` (`{}`).
#[inline(never)]
pub fn bare_fmt(out: &mut heapless::String<BUF>, v: f32) -> usize {
    out.clear();
    if write!(out, "{v}").is_err() {
        fail();
    }
    consume(out.as_bytes());
    out.len()
}

/// Two decimals with integers only: round to hundredths (half away from zero; `f32::round`
/// is not in `core`), print with `itoa`.
fn fixed2(out: &mut [u8], mut at: usize, v: f32) -> usize {
    let scaled = v * 100.0;
    let mut n = if scaled >= 0.0 {
        (scaled + 0.5) as i32
    } else {
        (scaled - 0.5) as i32
    };
    if n < 0 {
        at = put(out, at, b"-");
        n = -n;
    }
    at = put(out, at, itoa::Buffer::new().format(n / 100).as_bytes());
    let frac = (n % 100) as u8;
    put(out, at, &[b'.', b'0' + frac / 10, b'0' + frac % 10])
}

/// The fixed-decimals floor: the JSON object by hand, numbers as fixed point.
#[inline(never)]
pub fn fixed_point_floor(out: &mut [u8; BUF], t: f32, h: f32) -> usize {
    let mut at = put(out, 0, br#"{"temperature":"#);
    at = fixed2(out, at, t);
    at = put(out, at, br#","humidity":"#);
    at = fixed2(out, at, h);
    at = put(out, at, b"}");
    consume(&out[..at]);
    at
}

/// The ThingSpeak floor with `zmij`: `field1=…&field2=…` by hand.
#[inline(never)]
pub fn thingspeak_zmij_floor(out: &mut [u8; BUF], t: f32, h: f32) -> usize {
    let mut at = put(out, 0, b"field1=");
    at = put(out, at, zmij::Buffer::new().format_finite(t).as_bytes());
    at = put(out, at, b"&field2=");
    at = put(out, at, zmij::Buffer::new().format_finite(h).as_bytes());
    consume(&out[..at]);
    at
}

/// The ThingSpeak floor: `field1=…&field2=…` by hand, numbers by `ryu` or as fixed point.
#[inline(never)]
pub fn thingspeak_floor(out: &mut [u8; BUF], t: f32, h: f32, fixed: bool) -> usize {
    let mut at = put(out, 0, b"field1=");
    at = if fixed {
        fixed2(out, at, t)
    } else {
        put(out, at, ryu::Buffer::new().format_finite(t).as_bytes())
    };
    at = put(out, at, b"&field2=");
    at = if fixed {
        fixed2(out, at, h)
    } else {
        put(out, at, ryu::Buffer::new().format_finite(h).as_bytes())
    };
    consume(&out[..at]);
    at
}

/// Bytes on a 4-byte boundary, so a copy can move words.
#[repr(C, align(4))]
pub struct Aligned<const N: usize>(pub [u8; N]);

/// The JSON object, word-aligned (a `&[u8]` constant may sit at any address).
pub static JSON_OBJECT_ALIGNED: Aligned<37> = Aligned(*br#"{"temperature":21.53,"humidity":45.2}"#);

/// The JSON object one byte past a word boundary.
pub static JSON_OBJECT_SHIFTED: Aligned<38> =
    Aligned(*b"\0{\"temperature\":21.53,\"humidity\":45.2}");

/// Copying the 37 bytes of the JSON object into a word-aligned buffer: the least any encoder
/// must do. From a word-aligned source memcpy moves words; from a `shifted` one (one byte
/// past a boundary, as text after a 13-byte topic is) it moves bytes.
#[inline(never)]
pub fn copy_only(out: &mut Aligned<BUF>, shifted: bool) -> usize {
    let text: &[u8] = if black_box(shifted) {
        &black_box(&JSON_OBJECT_SHIFTED).0[1..]
    } else {
        &black_box(&JSON_OBJECT_ALIGNED).0
    };
    let at = put(&mut out.0, 0, text);
    consume(&out.0[..at]);
    at
}
