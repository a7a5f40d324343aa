//! `ThingSpeakSink` (bulk and per field, status, location, decimals, rate limit) fed arbitrary
//! samples, configurations, times and buffer sizes: never panics; every `Ok` is an ASCII form
//! (or a bare number per field) that decodes to exactly the mapped readings in field order,
//! then the location, status and time; every error is the right one.
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use common::{ArbitrarySample, QUANTITIES, assert_close, assert_number_text};
use libfuzzer_sys::fuzz_target;
use sensorpub::{EncodeError, Quantity, Sink, ThingSpeakSink};

#[derive(Arbitrary, Debug)]
struct Input {
    channel: u32,
    fields: Vec<(u8, u8)>,
    per_field: bool,
    status: Option<String>,
    location: Option<(f32, f32)>,
    elevation: Option<f32>,
    decimals: Option<u8>,
    interval_ms: u16,
    sample: ArbitrarySample,
    /// Milliseconds between one message and the next.
    steps: Vec<u16>,
    buf_len: u16,
}

fuzz_target!(|input: Input| {
    let fields: Vec<(u8, Quantity)> = input
        .fields
        .iter()
        .take(10)
        .map(|&(field, q)| (field % 10, QUANTITIES[usize::from(q) % QUANTITIES.len()]))
        .collect();
    let Ok(mut sink) = ThingSpeakSink::new(input.channel, &fields) else {
        let valid = input.channel != 0
            && fields.iter().all(|&(f, _)| (1..=8).contains(&f))
            && (1..=8u8).all(|f| fields.iter().filter(|&&(g, _)| g == f).count() <= 1);
        assert!(!valid, "{fields:?} refused");
        return;
    };
    if input.per_field {
        sink = sink.per_field();
    }
    if let Some(status) = &input.status {
        match sink.with_status(status) {
            Ok(with) => sink = with,
            Err(_) => return assert!(status.len() > 255),
        }
    }
    if let Some((lat, long)) = input.location {
        match sink.with_location(lat, long) {
            Ok(with) => sink = with,
            Err(_) => return assert!(!(lat.is_finite() && long.is_finite())),
        }
    }
    if let Some(elevation) = input.elevation {
        match sink.with_elevation(elevation) {
            Ok(with) => sink = with,
            Err(_) => return assert!(!elevation.is_finite()),
        }
    }
    if let Some(decimals) = input.decimals {
        match sink.with_decimals(decimals) {
            Ok(with) => sink = with,
            Err(_) => return assert!(decimals > 6),
        }
    }
    sink = sink.with_interval_ms(u64::from(input.interval_ms));
    let sample = input.sample.build();
    // The mapped readings of the sample, in field order: (field, quantity, value).
    let mut mapped: Vec<(u8, Quantity, f32)> = fields
        .iter()
        .filter_map(|&(field, q)| sample.get(q).map(|v| (field, q, v)))
        .collect();
    mapped.sort_by_key(|&(field, _, _)| field);
    let has_extras = input.status.is_some()
        || input.location.is_some()
        || input.elevation.is_some()
        || sample.timestamp().is_some();
    let count = sink.message_count(&sample);
    let expected_count = match input.per_field {
        true => mapped.len(),
        // Always one bulk message: refused with NothingToSend when it would be empty.
        false => 1,
    };
    assert_eq!(count, expected_count);
    let topic = format!("channels/{}/publish", input.channel);
    let mut buf = vec![0u8; usize::from(input.buf_len % 1024)];
    let mut now = 0u64;
    for index in 0..count + 1 {
        now += u64::from(input.steps.get(index).copied().unwrap_or(0));
        let before = sink.clone();
        match sink.encode(&sample, index, now, &mut buf) {
            Ok(message) => {
                assert!(index < count, "message {index} of {count}");
                let payload = std::str::from_utf8(message.payload).expect("UTF-8");
                assert!(payload.is_ascii());
                if input.per_field {
                    let (field, _, value) = mapped[index];
                    assert_eq!(message.topic, format!("{topic}/fields/field{field}"));
                    assert_number_text(payload, value, input.decimals);
                } else {
                    assert_eq!(message.topic, topic);
                    check_form(payload, &input, &mapped, sample.timestamp().is_some());
                }
            }
            Err(EncodeError::TooSoon { .. }) => assert!(before.ready_in_ms(now) > 0),
            Err(EncodeError::NoSuchMessage) => assert!(index >= count),
            Err(EncodeError::BufferTooSmall) => {
                let mut big = vec![0u8; 1 << 16];
                let again = before;
                let message = again
                    .encode(&sample, index, now, &mut big)
                    .expect("fits in 64 KiB");
                assert!(message.topic.len() + message.payload.len() > buf.len());
            }
            Err(EncodeError::NonFinite { quantity }) => {
                let refused: Vec<&(u8, Quantity, f32)> = match input.per_field {
                    true => mapped.get(index).into_iter().collect(),
                    false => mapped.iter().collect(),
                };
                assert!(
                    refused
                        .iter()
                        .any(|&&(_, q, v)| q == quantity && !v.is_finite())
                );
            }
            Err(EncodeError::NothingToSend) => {
                assert!(!input.per_field && mapped.is_empty() && !has_extras)
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
});

/// The bulk form holds the mapped readings in field order, then `lat`, `long`, `elevation`,
/// `status` and `created_at`, each only when configured or present, nothing else.
fn check_form(payload: &str, input: &Input, mapped: &[(u8, Quantity, f32)], timestamp: bool) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(payload.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut at = pairs.iter();
    for &(field, _, value) in mapped {
        let (key, text) = at.next().expect("a field");
        assert_eq!(key, &format!("field{field}"));
        assert_number_text(text, value, input.decimals);
    }
    let location = input
        .location
        .map(|(lat, long)| [("lat", lat), ("long", long)]);
    let elevation = input.elevation.map(|e| [("elevation", e)]);
    for (name, value) in location.iter().flatten().chain(elevation.iter().flatten()) {
        let (key, text) = at.next().expect("a location member");
        assert_eq!(key, name);
        assert_close(text.parse().expect("a number"), *value, None);
    }
    if let Some(status) = &input.status {
        assert_eq!(at.next(), Some(&("status".to_string(), status.clone())));
    }
    if timestamp {
        let (key, _) = at.next().expect("created_at");
        assert_eq!(key, "created_at");
    }
    assert_eq!(at.next(), None, "{payload}");
}
