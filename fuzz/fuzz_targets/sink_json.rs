//! `JsonSink` (both shapes, renamed keys, device, time, decimals) fed arbitrary samples and buffer
//! sizes: never panics; every `Ok` is valid JSON that reads back as the sample; every error
//! is the right one (a short buffer really was too short, a refused value really was NaN or
//! infinite, a duplicate key really was one).
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{ArbitrarySample, QUANTITIES, assert_close, assert_number_text, topic_or_default};
use libfuzzer_sys::fuzz_target;
use sensorpub::{EncodeError, JsonSink, Quantity, Sink};

#[derive(Arbitrary, Debug)]
struct Input {
    object: bool,
    topic: String,
    /// For a bare number: the quantity to send instead of the first reading.
    of: Option<u8>,
    keys: Vec<(u8, String)>,
    device: Option<String>,
    time: bool,
    decimals: Option<u8>,
    sample: ArbitrarySample,
    buf_len: u16,
}

fuzz_target!(|input: Input| {
    let topic = topic_or_default(&input.topic);
    let keys: Vec<(Quantity, &str)> = input
        .keys
        .iter()
        .take(4)
        .map(|(q, key)| (QUANTITIES[usize::from(*q) % QUANTITIES.len()], key.as_str()))
        .collect();
    let mut sink = if input.object {
        JsonSink::object(topic).expect("a valid topic")
    } else {
        JsonSink::value(topic).expect("a valid topic")
    };
    let chosen = input
        .of
        .map(|q| QUANTITIES[usize::from(q) % QUANTITIES.len()]);
    if let Some(quantity) = chosen {
        sink = sink.of(quantity);
    }
    match sink.with_keys(&keys) {
        Ok(with) => sink = with,
        Err(_) => {
            let refused = keys
                .iter()
                .any(|(_, key)| key.chars().any(|c| c == '"' || c == '\\' || c.is_control()));
            assert!(refused, "keys {keys:?} refused");
            return;
        }
    }
    if let Some(device) = &input.device {
        sink = sink.with_device(device);
    }
    if input.time {
        sink = sink.with_time();
    }
    if let Some(decimals) = input.decimals {
        match sink.with_decimals(decimals) {
            Ok(with) => sink = with,
            Err(_) => {
                assert!(decimals > 6);
                return;
            }
        }
    }
    let sample = input.sample.build();
    let key = |quantity: Quantity| {
        keys.iter()
            .find(|(q, _)| *q == quantity)
            .map_or(quantity.name(), |(_, key)| key)
    };
    let mut buf = vec![0u8; usize::from(input.buf_len % 1024)];
    let twin = sink;
    match sink.encode(&sample, 0, 0, &mut buf) {
        Ok(message) => {
            assert_eq!(message.topic, topic);
            let payload = std::str::from_utf8(message.payload).expect("UTF-8");
            if input.object {
                let parsed: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(payload).expect("a JSON object");
                // One member per reading (keys are distinct), plus the device and the time.
                let time = sample.timestamp().filter(|_| input.time);
                let extra = usize::from(input.device.is_some()) + usize::from(time.is_some());
                assert_eq!(parsed.len(), sample.len() + extra);
                if let Some(time) = time {
                    assert_eq!(parsed["time"].as_u64(), Some(time));
                }
                if let Some(device) = &input.device {
                    assert_eq!(parsed["device"].as_str(), Some(device.as_str()));
                }
                for reading in sample.readings() {
                    let value = parsed[key(reading.quantity)].as_f64().expect("a number");
                    assert_close(value, reading.value, input.decimals);
                    if let Some(raw) = payload_number(payload, key(reading.quantity)) {
                        assert_number_text(&raw, reading.value, input.decimals);
                    }
                }
            } else {
                let reading = match chosen {
                    Some(q) => sample.readings().iter().find(|r| r.quantity == q),
                    None => sample.readings().first(),
                }
                .expect("a bare number only for a reading");
                serde_json::from_str::<serde_json::Value>(payload).expect("a JSON number");
                assert_number_text(payload, reading.value, input.decimals);
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
            assert!(
                sample
                    .readings()
                    .iter()
                    .any(|r| r.quantity == quantity && !r.value.is_finite())
            );
        }
        Err(EncodeError::DuplicateKey { quantity }) => {
            assert!(input.object);
            let clash = sample
                .readings()
                .iter()
                .filter(|r| key(r.quantity) == key(quantity))
                .count()
                > 1
                || (input.device.is_some() && key(quantity) == "device")
                || (input.time && sample.timestamp().is_some() && key(quantity) == "time");
            assert!(clash, "{quantity:?} is no duplicate");
        }
        Err(EncodeError::NothingToSend) => {
            let has = match (input.object, chosen) {
                (true, _) | (false, None) => !sample.is_empty(),
                (false, Some(q)) => sample.get(q).is_some(),
            };
            assert!(!has);
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
});

/// The text of the number of member `key` in the flat JSON object `payload`, exactly as
/// written, for a key JSON does not escape (`None` for others: their escaped form is the
/// encoder's choice). The object is walked member by member, strings with their escapes, so a
/// key is matched only where a member starts: a device name can hold the same characters
/// (`{"device":":",":":0.00}` holds `":":` twice).
fn payload_number(payload: &str, key: &str) -> Option<String> {
    if key.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return None;
    }
    let bytes = payload.as_bytes();
    let mut at = 1; // after '{'
    while at < bytes.len() && bytes[at] == b'"' {
        let (name, after) = json_string(bytes, at)?;
        let start = after + 1; // after ':'
        let end = if bytes.get(start) == Some(&b'"') {
            json_string(bytes, start)?.1
        } else {
            start
                + bytes[start..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}'))?
        };
        if name == key.as_bytes() && bytes[start] != b'"' {
            return Some(payload[start..end].to_owned());
        }
        at = end + 1; // after ',' (or '}': the loop ends)
    }
    None
}

/// The raw content of the JSON string starting at `bytes[start]` (a quote), and the index
/// after its closing quote.
fn json_string(bytes: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some((&bytes[start + 1..at], at + 1)),
            _ => at += 1,
        }
    }
    None
}
