//! `SenmlSink` fed arbitrary samples, devices and buffer sizes: never panics; every `Ok` is a
//! SenML pack (a JSON array of records) whose resolved names, units, values and base time are
//! the sample's; every error is the right one.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{ArbitrarySample, assert_close, topic_or_default};
use libfuzzer_sys::fuzz_target;
use sensorpub::{EncodeError, Quantity, SenmlSink, Sink};
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Input {
    topic: String,
    device: String,
    decimals: Option<u8>,
    sample: ArbitrarySample,
    buf_len: u16,
}

fuzz_target!(|input: Input| {
    let topic = topic_or_default(&input.topic);
    let device = &input.device;
    let Ok(mut sink) = SenmlSink::new(topic, device) else {
        let name_byte = |c: char| c.is_ascii_alphanumeric() || "-:./_".contains(c);
        let valid = device.starts_with(|c: char| c.is_ascii_alphanumeric())
            && device.chars().all(name_byte);
        assert!(!valid, "device {device:?} refused");
        return;
    };
    if let Some(decimals) = input.decimals {
        match sink.with_decimals(decimals) {
            Ok(with) => sink = with,
            Err(_) => return assert!(decimals > 6),
        }
    }
    let sample = input.sample.build();
    let mut buf = vec![0u8; usize::from(input.buf_len % 1024)];
    let twin = sink;
    match sink.encode(&sample, 0, 0, &mut buf) {
        Ok(message) => {
            assert_eq!(message.topic, topic);
            let pack: Vec<serde_json::Map<String, Value>> =
                serde_json::from_slice(message.payload).expect("a JSON array of records");
            assert_eq!(pack.len(), sample.len());
            for (i, (record, reading)) in pack.iter().zip(sample.readings()).enumerate() {
                let base_name = match i {
                    0 => {
                        assert_eq!(record["bn"], Value::String(format!("{device}:")));
                        assert_eq!(record.get("bt").and_then(Value::as_u64), sample.timestamp());
                        format!("{device}:")
                    }
                    _ => {
                        assert!(!record.contains_key("bn") && !record.contains_key("bt"));
                        format!("{device}:")
                    }
                };
                let name = record["n"].as_str().expect("a name");
                assert_eq!(
                    format!("{base_name}{name}"),
                    format!("{device}:{}", reading.quantity.name())
                );
                let (unit, scale) = senml_unit(reading.quantity);
                assert_eq!(record.get("u").and_then(Value::as_str), unit);
                let value = reading.value * scale;
                assert_close(
                    record["v"].as_f64().expect("a number"),
                    value,
                    input.decimals,
                );
            }
        }
        Err(EncodeError::BufferTooSmall) => {
            let mut big = vec![0u8; 1 << 16];
            let message = twin
                .encode(&sample, 0, 0, &mut big)
                .expect("fits in 64 KiB");
            assert!(message.payload.len() > buf.len());
        }
        Err(EncodeError::NonFinite { quantity }) => {
            let scale = senml_unit(quantity).1;
            assert!(
                sample
                    .readings()
                    .iter()
                    .any(|r| r.quantity == quantity && !(r.value * scale).is_finite())
            );
        }
        Err(EncodeError::InvalidName { quantity }) => {
            let name = quantity.name();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-:./_".contains(c));
            assert!(!valid, "{name:?} refused");
        }
        Err(EncodeError::UnregisteredUnit { quantity }) => {
            assert!(
                matches!(quantity, Quantity::Custom { unit: "ppm", .. }),
                "{quantity:?}"
            );
        }
        Err(EncodeError::NothingToSend) => assert!(sample.is_empty()),
        Err(other) => panic!("unexpected {other:?}"),
    }
});

/// RFC 8428's unit of each quantity the targets use, and the factor from ours to it.
fn senml_unit(quantity: Quantity) -> (Option<&'static str>, f32) {
    match quantity {
        Quantity::Temperature | Quantity::DewPoint => (Some("Cel"), 1.0),
        Quantity::Humidity => (Some("%RH"), 1.0),
        Quantity::Pressure => (Some("Pa"), 1.0),
        Quantity::Altitude => (Some("m"), 1.0),
        Quantity::Illuminance => (Some("lx"), 1.0),
        Quantity::AccelerationX | Quantity::AccelerationY | Quantity::AccelerationZ => {
            (Some("m/s2"), 9.806_65)
        }
        Quantity::Pitch | Quantity::Roll => (Some("rad"), core::f32::consts::PI / 180.0),
        Quantity::Voltage => (Some("V"), 1.0),
        Quantity::Custom { unit: "", .. } => (None, 1.0),
        Quantity::Custom { unit, .. } => (Some(unit), 1.0),
        _ => (None, 1.0),
    }
}
