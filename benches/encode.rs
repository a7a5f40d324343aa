//! Encoding and publish-path benchmarks: our sinks against what a user would otherwise write.
//!
//! Every group runs its contenders on the same sample (temperature 21.53, humidity 45.2, …)
//! with 1, 2, 4 and 8 readings, in one run, so their medians can be compared as ratios:
//!
//! - `sensorpub_*`: `JsonSink` / `ThingSpeakSink` (topic + payload into one buffer);
//! - `serde_json`: `serde_json::to_writer` into a reused `Vec` (what a std user reaches for);
//! - `core_fmt`: `write!` with `{}` / `{:.2}` into a `heapless::String` (what firmware
//!   authors hand-roll);
//! - `ryu_floor` / `fixed_point_floor`: the least work that produces the same bytes: `ryu`
//!   (shortest) or `(v * 100.0).round() as i32` + `itoa` (two decimals) into a `[u8; N]`.
//!
//! Every contender writes the topic and then the payload, as the sinks do, and before any
//! timing each one's bytes are checked against the sink's, so a faster contender cannot be
//! doing less. `publish` puts `Publisher::publish_once` (MockSensor → sink → MemoryTransport)
//! beside the encode alone. Run with `cargo bench --bench encode`; BENCHMARKS.md has the
//! numbers and `benches/summary.py` turns criterion's output into its tables.

use core::fmt::Write as _;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use embassy_futures::block_on;
use sensorpub::{
    JsonSink, MemoryTransport, MockSensor, Publisher, Quantity, Reading, Sample, SimulatedClock,
    Sink, ThingSpeakSink,
};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::hint::black_box;
use std::time::Duration;

/// The readings every contender encodes; the first `n` of them for the `n`-reading case.
/// None is a whole number, so shortest output never takes the integer path and the ryu
/// floor is a like-for-like comparison.
const INPUT: [(Quantity, f32); 8] = [
    (Quantity::Temperature, 21.53),
    (Quantity::Humidity, 45.2),
    (Quantity::Altitude, 312.7),
    (Quantity::DewPoint, 9.18),
    (Quantity::Voltage, 3.31),
    (Quantity::Illuminance, 250.4),
    (Quantity::Pitch, -1.75),
    (Quantity::Roll, 0.62),
];

/// Reading counts of the benchmark cases.
const COUNTS: [usize; 4] = [1, 2, 4, 8];

const JSON_TOPIC: &str = "apricot/value";
const CHANNEL: u32 = 1_234_567;
/// ThingSpeak field `i + 1` carries `INPUT[i]`.
const FIELDS: [(u8, Quantity); 8] = [
    (1, Quantity::Temperature),
    (2, Quantity::Humidity),
    (3, Quantity::Altitude),
    (4, Quantity::DewPoint),
    (5, Quantity::Voltage),
    (6, Quantity::Illuminance),
    (7, Quantity::Pitch),
    (8, Quantity::Roll),
];

/// Large enough for topic + payload of every case.
const BUF: usize = 256;

fn sample(n: usize) -> Sample<8> {
    let readings: Vec<Reading> = INPUT[..n]
        .iter()
        .map(|&(q, v)| Reading::new(q, v))
        .collect();
    Sample::from_readings(&readings).expect("8 readings fit")
}

fn pairs(n: usize) -> Vec<(&'static str, f32)> {
    INPUT[..n].iter().map(|&(q, v)| (q.name(), v)).collect()
}

/// Copies `bytes` into `out` at `at`; returns the new end.
#[inline(always)]
fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    out[at..at + bytes.len()].copy_from_slice(bytes);
    at + bytes.len()
}

/// Topic then payload of a sink's message, as one byte string (what the floors write).
fn sink_bytes<K: Sink>(sink: &mut K, sample: &Sample<8>, index: usize) -> Vec<u8>
where
    K::Error: core::fmt::Debug,
{
    let mut buf = [0u8; BUF];
    let msg = sink.encode(sample, index, 0, &mut buf).expect("encodes");
    [msg.topic.as_bytes(), msg.payload].concat()
}

// ---- JSON contenders -------------------------------------------------------------------

/// `{"k":v,...}` through serde_json, the std user's way (a map over the pairs).
struct Pairs<'a>(&'a [(&'a str, f32)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn json_serde_json(out: &mut Vec<u8>, pairs: &[(&str, f32)]) {
    out.clear();
    out.extend_from_slice(JSON_TOPIC.as_bytes());
    serde_json::to_writer(&mut *out, &Pairs(pairs)).expect("Vec write");
}

fn json_core_fmt(out: &mut heapless::String<BUF>, pairs: &[(&str, f32)], fixed2: bool) {
    out.clear();
    out.push_str(JSON_TOPIC).expect("fits");
    out.push('{').expect("fits");
    for (i, (k, v)) in pairs.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        if fixed2 {
            write!(out, "{sep}\"{k}\":{v:.2}").expect("fits");
        } else {
            write!(out, "{sep}\"{k}\":{v}").expect("fits");
        }
    }
    out.push('}').expect("fits");
}

fn json_ryu_floor(out: &mut [u8; BUF], pairs: &[(&str, f32)]) -> usize {
    let mut at = put(out, 0, JSON_TOPIC.as_bytes());
    at = put(out, at, b"{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            at = put(out, at, b",");
        }
        at = put(out, at, b"\"");
        at = put(out, at, k.as_bytes());
        at = put(out, at, b"\":");
        at = put(out, at, ryu::Buffer::new().format_finite(*v).as_bytes());
    }
    put(out, at, b"}")
}

/// Two decimals the cheapest way: round to hundredths in an integer, print with itoa.
#[inline(always)]
fn fixed2_floor(out: &mut [u8], mut at: usize, v: f32) -> usize {
    let mut n = (v * 100.0).round() as i32;
    if n < 0 {
        at = put(out, at, b"-");
        n = -n;
    }
    at = put(out, at, itoa::Buffer::new().format(n / 100).as_bytes());
    let frac = (n % 100) as u8;
    put(out, at, &[b'.', b'0' + frac / 10, b'0' + frac % 10])
}

fn json_fixed_point_floor(out: &mut [u8; BUF], pairs: &[(&str, f32)]) -> usize {
    let mut at = put(out, 0, JSON_TOPIC.as_bytes());
    at = put(out, at, b"{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            at = put(out, at, b",");
        }
        at = put(out, at, b"\"");
        at = put(out, at, k.as_bytes());
        at = put(out, at, b"\":");
        at = fixed2_floor(out, at, *v);
    }
    put(out, at, b"}")
}

// ---- ThingSpeak contenders -------------------------------------------------------------

fn ts_topic(out: &mut [u8]) -> usize {
    let at = put(out, 0, b"channels/");
    let at = put(out, at, itoa::Buffer::new().format(CHANNEL).as_bytes());
    put(out, at, b"/publish")
}

fn ts_core_fmt(out: &mut heapless::String<BUF>, values: &[f32], fixed2: bool) {
    out.clear();
    write!(out, "channels/{CHANNEL}/publish").expect("fits");
    for (i, v) in values.iter().enumerate() {
        let sep = if i == 0 { "" } else { "&" };
        let field = i + 1;
        if fixed2 {
            write!(out, "{sep}field{field}={v:.2}").expect("fits");
        } else {
            write!(out, "{sep}field{field}={v}").expect("fits");
        }
    }
}

fn ts_floor(out: &mut [u8; BUF], values: &[f32], fixed2: bool) -> usize {
    let mut at = ts_topic(out);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            at = put(out, at, b"&");
        }
        at = put(
            out,
            at,
            &[b'f', b'i', b'e', b'l', b'd', b'1' + i as u8, b'='],
        );
        at = if fixed2 {
            fixed2_floor(out, at, *v)
        } else {
            put(out, at, ryu::Buffer::new().format_finite(*v).as_bytes())
        };
    }
    at
}

// ---- groups ----------------------------------------------------------------------------

fn json_sink(fixed2: bool) -> JsonSink<'static> {
    let sink = JsonSink::object(JSON_TOPIC).expect("valid topic");
    if fixed2 {
        sink.with_decimals(2).expect("2 decimals")
    } else {
        sink
    }
}

fn ts_sink(fixed2: bool) -> ThingSpeakSink<'static> {
    // No rate limit: the benchmark encodes back to back; the check is one comparison either way.
    let sink = ThingSpeakSink::new(CHANNEL, &FIELDS)
        .expect("fields 1..=8")
        .with_interval_ms(0);
    if fixed2 {
        sink.with_decimals(2).expect("2 decimals")
    } else {
        sink
    }
}

fn bench_json(c: &mut Criterion, fixed2: bool) {
    let name = if fixed2 { "json_fixed2" } else { "json" };
    let mut group = c.benchmark_group(name);
    for n in COUNTS {
        let sample = sample(n);
        let pairs = pairs(n);
        let mut sink = json_sink(fixed2);
        let expected = sink_bytes(&mut sink, &sample, 0);

        let mut buf = [0u8; BUF];
        let mut vec = Vec::with_capacity(BUF);
        let mut string = heapless::String::<BUF>::new();
        json_core_fmt(&mut string, &pairs, fixed2);
        assert_eq!(string.as_bytes(), expected, "core::fmt output differs");

        group.bench_with_input(BenchmarkId::new("sensorpub_object", n), &n, |b, _| {
            b.iter(|| {
                let msg = sink
                    .encode(black_box(&sample), 0, 0, &mut buf)
                    .expect("encodes");
                msg.payload.len()
            })
        });
        if fixed2 {
            let len = json_fixed_point_floor(&mut buf, &pairs);
            assert_eq!(&buf[..len], expected, "fixed-point floor output differs");
            group.bench_with_input(BenchmarkId::new("fixed_point_floor", n), &n, |b, _| {
                b.iter(|| json_fixed_point_floor(&mut buf, black_box(&pairs)))
            });
        } else {
            let len = json_ryu_floor(&mut buf, &pairs);
            assert_eq!(&buf[..len], expected, "ryu floor output differs");
            group.bench_with_input(BenchmarkId::new("ryu_floor", n), &n, |b, _| {
                b.iter(|| json_ryu_floor(&mut buf, black_box(&pairs)))
            });
            json_serde_json(&mut vec, &pairs);
            assert_eq!(vec, expected, "serde_json output differs");
            group.bench_with_input(BenchmarkId::new("serde_json", n), &n, |b, _| {
                b.iter(|| json_serde_json(&mut vec, black_box(&pairs)))
            });
        }
        group.bench_with_input(BenchmarkId::new("core_fmt", n), &n, |b, _| {
            b.iter(|| json_core_fmt(&mut string, black_box(&pairs), fixed2))
        });
    }
    group.finish();
}

fn bench_thingspeak(c: &mut Criterion, fixed2: bool) {
    let name = if fixed2 {
        "thingspeak_fixed2"
    } else {
        "thingspeak"
    };
    let mut group = c.benchmark_group(name);
    for n in COUNTS {
        let sample = sample(n);
        let values: Vec<f32> = INPUT[..n].iter().map(|&(_, v)| v).collect();
        let mut sink = ts_sink(fixed2);
        let expected = sink_bytes(&mut sink, &sample, 0);

        let mut buf = [0u8; BUF];
        let mut string = heapless::String::<BUF>::new();
        ts_core_fmt(&mut string, &values, fixed2);
        assert_eq!(string.as_bytes(), expected, "core::fmt output differs");
        let len = ts_floor(&mut buf, &values, fixed2);
        assert_eq!(&buf[..len], expected, "floor output differs");

        group.bench_with_input(BenchmarkId::new("sensorpub_bulk", n), &n, |b, _| {
            b.iter(|| {
                let msg = sink
                    .encode(black_box(&sample), 0, 0, &mut buf)
                    .expect("encodes");
                msg.payload.len()
            })
        });
        let floor = if fixed2 {
            "fixed_point_floor"
        } else {
            "ryu_floor"
        };
        group.bench_with_input(BenchmarkId::new(floor, n), &n, |b, _| {
            b.iter(|| ts_floor(&mut buf, black_box(&values), fixed2))
        });
        group.bench_with_input(BenchmarkId::new("core_fmt", n), &n, |b, _| {
            b.iter(|| ts_core_fmt(&mut string, black_box(&values), fixed2))
        });
    }
    group.finish();
}

/// One number alone: the JSON sink's bare value and ThingSpeak's one-field message.
fn bench_single(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_value");
    let sample = sample(1);
    let value = INPUT[0].1;
    let mut buf = [0u8; BUF];

    let mut json = JsonSink::value(JSON_TOPIC).expect("valid topic");
    let expected = sink_bytes(&mut json, &sample, 0);
    let floor = |out: &mut [u8; BUF], v: f32| {
        let at = put(out, 0, JSON_TOPIC.as_bytes());
        put(out, at, ryu::Buffer::new().format_finite(v).as_bytes())
    };
    let len = floor(&mut buf, value);
    assert_eq!(&buf[..len], expected);
    group.bench_function("sensorpub_json_value", |b| {
        b.iter(|| {
            json.encode(black_box(&sample), 0, 0, &mut buf)
                .map(|m| m.payload.len())
        })
    });
    group.bench_function("json_value_ryu_floor", |b| {
        b.iter(|| floor(&mut buf, black_box(value)))
    });
    let mut string = heapless::String::<BUF>::new();
    group.bench_function("json_value_core_fmt", |b| {
        b.iter(|| {
            string.clear();
            write!(string, "{JSON_TOPIC}{}", black_box(value)).expect("fits");
        })
    });

    let mut field = ts_sink(false).per_field();
    let expected = sink_bytes(&mut field, &sample, 0);
    let floor = |out: &mut [u8; BUF], v: f32| {
        let at = ts_topic(out);
        let at = put(out, at, b"/fields/field1");
        put(out, at, ryu::Buffer::new().format_finite(v).as_bytes())
    };
    let len = floor(&mut buf, value);
    assert_eq!(&buf[..len], expected);
    group.bench_function("sensorpub_thingspeak_field", |b| {
        b.iter(|| {
            field
                .encode(black_box(&sample), 0, 0, &mut buf)
                .map(|m| m.payload.len())
        })
    });
    group.bench_function("thingspeak_field_ryu_floor", |b| {
        b.iter(|| floor(&mut buf, black_box(value)))
    });
    group.bench_function("thingspeak_field_core_fmt", |b| {
        b.iter(|| {
            string.clear();
            write!(
                string,
                "channels/{CHANNEL}/publish/fields/field1{}",
                black_box(value)
            )
            .expect("fits");
        })
    });
    group.finish();
}

/// `publish_once` (MockSensor → sink → MemoryTransport) beside the same sink's encode alone.
fn bench_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    for n in COUNTS {
        let script = [Ok(sample(n))];
        let sample = sample(n);

        let sink = json_sink(false);
        let mut buf = [0u8; BUF];
        group.bench_with_input(BenchmarkId::new("json_encode", n), &n, |b, _| {
            b.iter(|| {
                sink.encode(black_box(&sample), 0, 0, &mut buf)
                    .map(|m| m.payload.len())
            })
        });
        let mut pbuf = [0u8; BUF];
        let mut publisher = Publisher::new(
            MockSensor::new(&script).repeating(),
            json_sink(false),
            MemoryTransport::<1, BUF>::new(),
            SimulatedClock::new(),
            &mut pbuf,
        );
        group.bench_with_input(BenchmarkId::new("json_publish_once", n), &n, |b, _| {
            b.iter(|| {
                publisher.transport_mut().clear();
                block_on(publisher.publish_once()).expect("publishes")
            })
        });
        drop(publisher);

        let sink = ts_sink(false);
        group.bench_with_input(BenchmarkId::new("thingspeak_encode", n), &n, |b, _| {
            b.iter(|| {
                sink.encode(black_box(&sample), 0, 0, &mut buf)
                    .map(|m| m.payload.len())
            })
        });
        let mut publisher = Publisher::new(
            MockSensor::new(&script).repeating(),
            ts_sink(false),
            MemoryTransport::<1, BUF>::new(),
            SimulatedClock::new(),
            &mut pbuf,
        );
        group.bench_with_input(
            BenchmarkId::new("thingspeak_publish_once", n),
            &n,
            |b, _| {
                b.iter(|| {
                    publisher.transport_mut().clear();
                    block_on(publisher.publish_once()).expect("publishes")
                })
            },
        );
    }
    group.finish();
}

fn all(c: &mut Criterion) {
    bench_json(c, false);
    bench_json(c, true);
    bench_thingspeak(c, false);
    bench_thingspeak(c, true);
    bench_single(c);
    bench_publish(c);
}

/// Short runs: about 90 benchmarks in a few minutes. The contenders differ by far more than
/// the noise of a 1 s measurement; raise the times for publication-grade numbers.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = all
}
criterion_main!(benches);
