//! Property tests: over arbitrary samples and buffer sizes the encoders never panic, and every
//! `Ok` output is valid JSON / a valid form that decodes to the sample.

use proptest::prelude::*;
use sensorpub::{EncodeError, JsonSink, Quantity, Reading, Sample, Sink, ThingSpeakSink};

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

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
                prop_assert!(msg.topic.len() + msg.payload.len() > len);
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
        let mut sink = JsonSink::value("t").unwrap();
        let mut buf = vec![0u8; len];
        if let Ok(msg) = sink.encode(&sample, 0, 0, &mut buf) {
            let parsed: serde_json::Value = serde_json::from_slice(msg.payload).expect("valid JSON");
            prop_assert_eq!(parsed.as_f64().expect("a number") as f32, sample.readings()[0].value);
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
        let mut buf = vec![0u8; len];
        for index in 0..sink.message_count(&sample) {
            // 15 s apart, so the rate limit never interferes.
            let now = index as u64 * 15_000;
            match sink.encode(&sample, index, now, &mut buf) {
                Ok(msg) => {
                    prop_assert!(msg.payload.is_ascii());
                    if per_field {
                        let field: u8 = msg.topic.rsplit("field").next().unwrap().parse().unwrap();
                        let value: f32 = std::str::from_utf8(msg.payload).unwrap().parse().unwrap();
                        prop_assert_eq!(Some(value), sample.get(QUANTITIES[usize::from(field) - 1]));
                    } else {
                        prop_assert_eq!(msg.topic, "channels/31337/publish");
                        for (key, value) in form_urlencoded::parse(msg.payload) {
                            if key == "status" {
                                prop_assert_eq!(Some(value.as_ref()), status.as_deref());
                            } else {
                                let field: usize = key.strip_prefix("field").unwrap().parse().unwrap();
                                let value: f32 = value.parse().unwrap();
                                prop_assert_eq!(Some(value), sample.get(QUANTITIES[field - 1]));
                            }
                        }
                    }
                }
                Err(EncodeError::BufferTooSmall) => {}
                Err(EncodeError::NonFinite { quantity }) => {
                    prop_assert!(sample.get(quantity).is_some_and(|v| !v.is_finite()));
                }
                Err(EncodeError::NothingToSend) => prop_assert!(sample.is_empty() && status.is_none()),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
