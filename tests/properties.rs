//! Property tests: over arbitrary samples and buffer sizes the encoders never panic, and every
//! `Ok` output is valid JSON / a valid form / a SenML pack that decodes to the sample.
//!
//! `cargo test` runs 2,000 cases a property. `PROPTEST_CASES` sets another count: the million
//! cases a property of BENCHMARKS.md ("A million property cases") are
//! `PROPTEST_CASES=1000000 cargo test --release --test properties`.

use proptest::prelude::*;
use sensorpub::{
    EncodeError, JsonSink, Quantity, Reading, Sample, SenmlSink, Sink, ThingSpeakSink,
};

const QUANTITIES: [Quantity; 8] = [
    Quantity::Temperature,
    Quantity::Humidity,
    Quantity::Pressure,
    Quantity::Altitude,
    Quantity::Illuminance,
    Quantity::Voltage,
    Quantity::DewPoint,
    Quantity::Value,
];

/// Any f32 at all: finite, subnormal, NaN, infinities.
fn any_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => any::<f32>(),
        2 => -1.0e6f32..1.0e6f32,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-0.0f32),
    ]
}

/// Samples of distinct quantities (so JSON keys are unique) in any order, with any values.
fn any_sample() -> impl Strategy<Value = Sample<8>> {
    (
        Just(QUANTITIES).prop_shuffle(),
        0usize..=8,
        proptest::collection::vec(any_value(), 8),
    )
        .prop_map(|(quantities, n, values)| {
            let readings: Vec<Reading> = quantities[..n]
                .iter()
                .zip(values)
                .map(|(&q, v)| Reading::new(q, v))
                .collect();
            Sample::from_readings(&readings).unwrap()
        })
}

fn all_finite(sample: &Sample<8>) -> bool {
    sample.readings().iter().all(|r| r.value.is_finite())
}

/// Cases a property: `PROPTEST_CASES` if set (proptest's own variable, which an explicit
/// count would otherwise override), else 2,000.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn json_object_is_valid_and_round_trips(sample in any_sample(), len in 0usize..300, decimals in proptest::option::of(0u8..=6)) {
        let mut sink = JsonSink::object("t").unwrap();
        if let Some(d) = decimals {
            sink = sink.with_decimals(d).unwrap();
        }
        let mut buf = vec![0u8; len];
        match sink.encode(&sample, 0, 0, &mut buf) {
            Ok(msg) => {
                prop_assert!(all_finite(&sample));
                let parsed: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(msg.payload).expect("valid JSON object");
                prop_assert_eq!(parsed.len(), sample.len());
                for r in sample.readings() {
                    let got = parsed[r.quantity.name()].as_f64().expect("a number");
                    match decimals {
                        // Shortest form reads back as the very same f32.
                        None => prop_assert_eq!(got as f32, r.value),
                        // Fixed decimals are within half a unit of the last decimal (plus f32 rounding).
                        Some(d) => {
                            let tolerance = 0.5 * 10f64.powi(-i32::from(d)) + f64::from(r.value.abs()) * 1e-6;
                            prop_assert!((got - f64::from(r.value)).abs() <= tolerance, "{} vs {}", got, r.value);
                        }
                    }
                }
            }
            Err(EncodeError::BufferTooSmall) => {
                let mut big = vec![0u8; 1024];
                let msg = sink.encode(&sample, 0, 0, &mut big).expect("fits in 1 KiB");
                prop_assert!(msg.payload.len() > len);
            }
            Err(EncodeError::NonFinite { quantity }) => {
                prop_assert!(sample.get(quantity).is_some_and(|v| !v.is_finite()));
            }
            Err(EncodeError::NothingToSend) => prop_assert!(sample.is_empty()),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn json_value_is_a_valid_number(sample in any_sample(), len in 0usize..40) {
        let sink = JsonSink::value("t").unwrap();
        let mut buf = vec![0u8; len];
        let first = sample.readings().first().copied();
        match sink.encode(&sample, 0, 0, &mut buf) {
            Ok(msg) => {
                let reading = first.expect("a message only for a reading");
                prop_assert_eq!(msg.topic, "t");
                let parsed: serde_json::Value = serde_json::from_slice(msg.payload).expect("valid JSON");
                prop_assert_eq!(parsed.as_f64().expect("a number") as f32, reading.value);
            }
            Err(EncodeError::BufferTooSmall) => {
                let mut big = vec![0u8; 1024];
                let msg = sink.encode(&sample, 0, 0, &mut big).expect("fits in 1 KiB");
                prop_assert!(msg.payload.len() > len);
            }
            Err(EncodeError::NonFinite { quantity }) => {
                let reading = first.expect("a reading to refuse");
                prop_assert_eq!(reading.quantity, quantity);
                prop_assert!(!reading.value.is_finite());
            }
            Err(EncodeError::NothingToSend) => prop_assert!(sample.is_empty()),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn thingspeak_form_is_valid_and_round_trips(
        sample in any_sample(),
        len in 0usize..400,
        status in proptest::option::of("\\PC{0,40}"),
        per_field in any::<bool>(),
    ) {
        let fields: Vec<(u8, Quantity)> = (1u8..).zip(QUANTITIES).collect();
        let mut sink = ThingSpeakSink::new(31_337, &fields).unwrap();
        if let Some(status) = status.as_deref() {
            sink = sink.with_status(status).unwrap();
        }
        if per_field {
            sink = sink.per_field();
        }
        // Every mapped reading of the sample, in field order.
        let mapped: Vec<(u8, Quantity, f32)> = fields
            .iter()
            .filter_map(|&(field, quantity)| sample.get(quantity).map(|value| (field, quantity, value)))
            .collect();
        let expected_count = if per_field { mapped.len() } else { 1 };
        prop_assert_eq!(sink.message_count(&sample), expected_count);
        let mut buf = vec![0u8; len];
        // Per field: what each message carried, (field, value).
        let mut sent = Vec::new();
        for index in 0..expected_count {
            // 15 s apart, so the rate limit never interferes.
            let now = index as u64 * 15_000;
            // The sink as it was before this message, to encode it again into a big buffer.
            let before = sink.clone();
            match sink.encode(&sample, index, now, &mut buf) {
                Ok(msg) => {
                    prop_assert!(msg.payload.is_ascii());
                    if per_field {
                        let field: u8 = msg.topic.strip_prefix("channels/31337/publish/fields/field")
                            .expect("a field topic").parse().unwrap();
                        let value: f32 = std::str::from_utf8(msg.payload).unwrap().parse().unwrap();
                        sent.push((field, value));
                    } else {
                        prop_assert_eq!(msg.topic, "channels/31337/publish");
                        let decoded: Vec<(String, FormValue)> = form_urlencoded::parse(msg.payload)
                            .map(|(key, value)| {
                                let value = if key == "status" {
                                    FormValue::Text(value.into_owned())
                                } else {
                                    FormValue::Number(value.parse().unwrap())
                                };
                                (key.into_owned(), value)
                            })
                            .collect();
                        // Exactly the mapped readings in field order, then the status.
                        let mut expected: Vec<(String, FormValue)> = mapped
                            .iter()
                            .map(|&(field, _, value)| (format!("field{field}"), FormValue::Number(value)))
                            .collect();
                        if let Some(status) = &status {
                            expected.push(("status".into(), FormValue::Text(status.clone())));
                        }
                        prop_assert_eq!(decoded, expected);
                    }
                }
                Err(EncodeError::BufferTooSmall) => {
                    let mut big = vec![0u8; 4096];
                    let again = before;
                    let msg = again.encode(&sample, index, now, &mut big).expect("fits in 4 KiB");
                    prop_assert!(msg.topic.len() + msg.payload.len() > len);
                }
                Err(EncodeError::NonFinite { quantity }) => {
                    let refused = if per_field {
                        mapped[index].2
                    } else {
                        sample.get(quantity).expect("a reading of the refused quantity")
                    };
                    prop_assert!(!refused.is_finite());
                    if per_field {
                        prop_assert_eq!(mapped[index].1, quantity);
                    }
                }
                Err(EncodeError::NothingToSend) => {
                    prop_assert!(!per_field && sample.is_empty() && status.is_none());
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        if per_field && sent.len() == mapped.len() {
            let expected: Vec<(u8, f32)> = mapped.iter().map(|&(field, _, value)| (field, value)).collect();
            prop_assert_eq!(sent, expected);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn senml_pack_is_valid_and_round_trips(
        sample in any_sample(),
        timestamp in proptest::option::of(any::<u64>()),
        len in 0usize..400,
        decimals in proptest::option::of(0u8..=6),
    ) {
        let mut sample = sample;
        sample.set_timestamp(timestamp);
        let mut sink = SenmlSink::new("t", "urn:dev:mac:0024befffe804ff1").unwrap();
        if let Some(d) = decimals {
            sink = sink.with_decimals(d).unwrap();
        }
        let mut buf = vec![0u8; len];
        match sink.encode(&sample, 0, 0, &mut buf) {
            Ok(msg) => {
                prop_assert!(all_finite(&sample));
                prop_assert_eq!(msg.topic, "t");
                let pack: Vec<serde_json::Map<String, serde_json::Value>> =
                    serde_json::from_slice(msg.payload).expect("a JSON array of records");
                prop_assert_eq!(pack.len(), sample.len());
                for (i, (record, reading)) in pack.iter().zip(sample.readings()).enumerate() {
                    // The base name and time once, in the first record.
                    let base = record.get("bn").and_then(|bn| bn.as_str());
                    let time = record.get("bt").and_then(|bt| bt.as_u64());
                    if i == 0 {
                        prop_assert_eq!(base, Some("urn:dev:mac:0024befffe804ff1:"));
                        prop_assert_eq!(time, timestamp);
                    } else {
                        prop_assert_eq!((base, time), (None, None));
                    }
                    prop_assert_eq!(record["n"].as_str(), Some(reading.quantity.name()));
                    // QUANTITIES has no converted unit (acceleration, angles): the value is the
                    // reading's.
                    let got = record["v"].as_f64().expect("a number");
                    match decimals {
                        None => prop_assert_eq!(got as f32, reading.value),
                        Some(d) => {
                            let tolerance = 0.5 * 10f64.powi(-i32::from(d)) + f64::from(reading.value.abs()) * 1e-6;
                            prop_assert!((got - f64::from(reading.value)).abs() <= tolerance, "{} vs {}", got, reading.value);
                        }
                    }
                }
            }
            Err(EncodeError::BufferTooSmall) => {
                let mut big = vec![0u8; 1024];
                let msg = sink.encode(&sample, 0, 0, &mut big).expect("fits in 1 KiB");
                prop_assert!(msg.payload.len() > len);
            }
            Err(EncodeError::NonFinite { quantity }) => {
                prop_assert!(sample.get(quantity).is_some_and(|v| !v.is_finite()));
            }
            Err(EncodeError::NothingToSend) => prop_assert!(sample.is_empty()),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

/// A decoded ThingSpeak form value: a field's number, or the status text.
#[derive(Debug, PartialEq)]
enum FormValue {
    Number(f32),
    Text(String),
}
