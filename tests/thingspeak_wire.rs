//! The ThingSpeak sink's topics and form payloads, decoded with a real form decoder, and its
//! update interval under a simulated clock.

use std::cell::Cell;
use std::rc::Rc;

use sensorpub::{
    EncodeError, MemoryTransport, MockSensor, PublishError, Publisher, Quantity, Reading, Sample,
    SimulatedClock, Sink, SinkConfigError, ThingSpeakSink,
};

/// ThingSpeak's free-account update interval, 15 s, written out rather than taken from
/// `ThingSpeakSink::FREE_INTERVAL_MS`, so a wrong constant fails here.
const FREE_INTERVAL_MS: u64 = 15_000;

fn sample(values: &[(Quantity, f32)]) -> Sample<8> {
    let readings: Vec<Reading> = values.iter().map(|&(q, v)| Reading::new(q, v)).collect();
    Sample::from_readings(&readings).unwrap()
}

fn decode(payload: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(payload).into_owned().collect()
}

fn encode(
    sink: &mut ThingSpeakSink<'_>,
    sample: &Sample<8>,
    index: usize,
    now_ms: u64,
) -> (String, Vec<u8>) {
    let mut buf = [0u8; 1024];
    let msg = sink.encode(sample, index, now_ms, &mut buf).unwrap();
    (msg.topic.to_owned(), msg.payload.to_vec())
}

#[test]
fn bulk_feed_decodes_to_the_configured_fields() {
    let mut sink = ThingSpeakSink::new(
        1_234_567,
        &[
            (1, Quantity::Temperature),
            (2, Quantity::Humidity),
            (5, Quantity::Pressure),
        ],
    )
    .unwrap();
    let s = sample(&[
        (Quantity::Pressure, 101_325.5),
        (Quantity::Temperature, 21.53),
        (Quantity::Humidity, 45.2),
        (Quantity::Illuminance, 300.0), // not mapped: not sent
    ]);
    let (topic, payload) = encode(&mut sink, &s, 0, 0);
    assert_eq!(topic, "channels/1234567/publish");
    assert_eq!(payload, b"field1=21.53&field2=45.2&field5=101325.5");
    let fields = decode(&payload);
    assert_eq!(
        fields,
        vec![
            ("field1".into(), "21.53".into()),
            ("field2".into(), "45.2".into()),
            ("field5".into(), "101325.5".into()),
        ]
    );
}

#[test]
fn fields_missing_from_the_sample_are_left_out() {
    let mut sink =
        ThingSpeakSink::new(9, &[(1, Quantity::Temperature), (2, Quantity::Humidity)]).unwrap();
    let (_, payload) = encode(&mut sink, &sample(&[(Quantity::Humidity, 50.0)]), 0, 0);
    assert_eq!(decode(&payload), vec![("field2".into(), "50".into())]);
}

#[test]
fn a_sample_without_mapped_readings_is_nothing_to_send_whatever_the_buffer() {
    let sink = ThingSpeakSink::new(9, &[(1, Quantity::Temperature)]).unwrap();
    let unmapped = sample(&[(Quantity::Humidity, 50.0)]);
    // Too short even for the topic, and plenty: the same answer.
    for len in [0, 8, 512] {
        let mut buf = vec![0u8; len];
        assert_eq!(
            sink.encode(&unmapped, 0, 0, &mut buf),
            Err(EncodeError::NothingToSend),
            "buffer of {len} bytes"
        );
    }
    // With a status there is something to send.
    let mut with_status = sink.with_status("ok").unwrap();
    let (_, payload) = encode(&mut with_status, &unmapped, 0, 0);
    assert_eq!(decode(&payload), vec![("status".into(), "ok".into())]);
}

#[test]
fn out_of_range_and_duplicate_fields_are_config_errors() {
    for field in [0u8, 9, 255] {
        assert_eq!(
            ThingSpeakSink::new(1, &[(field, Quantity::Temperature)]).err(),
            Some(SinkConfigError::FieldOutOfRange { field })
        );
    }
    assert_eq!(
        ThingSpeakSink::new(1, &[(3, Quantity::Temperature), (3, Quantity::Humidity)]).err(),
        Some(SinkConfigError::DuplicateField { field: 3 })
    );
    for field in 1..=8u8 {
        assert!(ThingSpeakSink::new(1, &[(field, Quantity::Value)]).is_ok());
    }
}

#[test]
fn status_with_special_characters_round_trips() {
    let status = "a&b=c d+e %20 ünïcødé ✓ / ? #";
    let mut sink = ThingSpeakSink::new(1, &[(1, Quantity::Temperature)])
        .unwrap()
        .with_status(status)
        .unwrap();
    let (_, payload) = encode(&mut sink, &sample(&[(Quantity::Temperature, 1.5)]), 0, 0);
    // Only unreserved characters and the separators we wrote appear raw.
    let text = std::str::from_utf8(&payload).unwrap();
    assert!(text.is_ascii());
    assert_eq!(text.matches('&').count(), 1);
    assert_eq!(text.matches('=').count(), 2);
    assert!(!text.contains(' ') && !text.contains('+'));
    assert_eq!(
        decode(&payload),
        vec![
            ("field1".into(), "1.5".into()),
            ("status".into(), status.into())
        ]
    );
}

#[test]
fn status_over_255_bytes_is_refused() {
    let long = "x".repeat(256);
    let sink = ThingSpeakSink::new(1, &[(1, Quantity::Temperature)]).unwrap();
    assert_eq!(
        sink.clone().with_status(&long).err(),
        Some(SinkConfigError::StatusTooLong)
    );
    assert!(sink.with_status(&long[..255]).is_ok());
}

#[test]
fn location_elevation_and_created_at() {
    let mut sink = ThingSpeakSink::new(42, &[(1, Quantity::Temperature)])
        .unwrap()
        .with_location(40.4168, -3.7038)
        .unwrap()
        .with_elevation(667.0)
        .unwrap()
        .with_status("ok")
        .unwrap();
    let mut s = sample(&[(Quantity::Temperature, 21.53)]);
    s.set_timestamp(Some(1_795_667_846));
    let (_, payload) = encode(&mut sink, &s, 0, 0);
    assert_eq!(
        decode(&payload),
        vec![
            ("field1".into(), "21.53".into()),
            ("lat".into(), "40.4168".into()),
            ("long".into(), "-3.7038".into()),
            ("elevation".into(), "667".into()),
            ("status".into(), "ok".into()),
            ("created_at".into(), "2026-11-26T04:37:26Z".into()),
        ]
    );
    assert_eq!(
        ThingSpeakSink::new(1, &[])
            .unwrap()
            .with_location(f32::NAN, 0.0)
            .err(),
        Some(SinkConfigError::NonFiniteLocation)
    );
}

#[test]
fn per_field_mode_sends_one_message_per_present_field() {
    let mut sink = ThingSpeakSink::new(7, &[(1, Quantity::Temperature), (3, Quantity::Humidity)])
        .unwrap()
        .per_field()
        .with_decimals(1)
        .unwrap();
    let s = sample(&[(Quantity::Humidity, 45.26), (Quantity::Temperature, 21.53)]);
    assert_eq!(sink.message_count(&s), 2);
    assert_eq!(
        encode(&mut sink, &s, 0, 0),
        ("channels/7/publish/fields/field1".into(), b"21.5".to_vec())
    );
    assert_eq!(
        encode(&mut sink, &s, 1, FREE_INTERVAL_MS),
        ("channels/7/publish/fields/field3".into(), b"45.3".to_vec())
    );
    let mut buf = [0u8; 128];
    assert_eq!(
        sink.encode(&s, 2, 10 * FREE_INTERVAL_MS, &mut buf),
        Err(EncodeError::NoSuchMessage)
    );
}

#[test]
fn an_update_inside_the_interval_is_refused_and_the_slot_kept() {
    let sink = ThingSpeakSink::new(1, &[(1, Quantity::Temperature)]).unwrap();
    let s = sample(&[(Quantity::Temperature, 20.0)]);
    let mut buf = [0u8; 128];
    assert_eq!(
        sensorpub::ThingSpeakSink::FREE_INTERVAL_MS,
        FREE_INTERVAL_MS
    );
    assert_eq!(sink.interval_ms(), FREE_INTERVAL_MS);
    assert!(sink.encode(&s, 0, 1_000, &mut buf).is_ok());
    assert_eq!(sink.ready_in_ms(1_000), FREE_INTERVAL_MS);
    assert_eq!(
        sink.encode(&s, 0, 1_000 + FREE_INTERVAL_MS - 1, &mut buf),
        Err(EncodeError::TooSoon { retry_in_ms: 1 })
    );
    // The refused attempt did not restart the interval.
    assert!(
        sink.encode(&s, 0, 1_000 + FREE_INTERVAL_MS, &mut buf)
            .is_ok()
    );
}

#[test]
fn a_failed_encode_does_not_take_the_slot() {
    let sink = ThingSpeakSink::new(1, &[(1, Quantity::Temperature)]).unwrap();
    let bad = sample(&[(Quantity::Temperature, f32::NAN)]);
    let mut buf = [0u8; 128];
    assert_eq!(
        sink.encode(&bad, 0, 0, &mut buf),
        Err(EncodeError::NonFinite {
            quantity: Quantity::Temperature
        })
    );
    assert_eq!(sink.ready_in_ms(0), 0);
}

#[test]
fn paid_interval_is_configurable() {
    let sink = ThingSpeakSink::new(1, &[(1, Quantity::Temperature)])
        .unwrap()
        .with_interval_ms(1_000);
    let s = sample(&[(Quantity::Temperature, 20.0)]);
    let mut buf = [0u8; 128];
    assert!(sink.encode(&s, 0, 0, &mut buf).is_ok());
    assert_eq!(
        sink.encode(&s, 0, 999, &mut buf),
        Err(EncodeError::TooSoon { retry_in_ms: 1 })
    );
    assert!(sink.encode(&s, 0, 1_000, &mut buf).is_ok());
}

#[test]
fn publisher_holds_updates_so_none_reaches_the_broker_early() {
    // Two samples published back to back, and a per-field sink that turns each into two
    // updates: every update must reach the transport at least 15 s after the previous one.
    let s = sample(&[(Quantity::Temperature, 21.0), (Quantity::Humidity, 40.0)]);
    let script = [Ok(s.clone()), Ok(s)];
    let sink = ThingSpeakSink::new(5, &[(1, Quantity::Temperature), (2, Quantity::Humidity)])
        .unwrap()
        .per_field();
    let now = Rc::new(Cell::new(0u64));
    let recorder = Recorder {
        now: now.clone(),
        times: Vec::new(),
    };
    let mut buf = [0u8; 256];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        sink,
        recorder,
        SharedClock(now),
        &mut buf,
    );
    embassy_futures::block_on(async {
        assert_eq!(publisher.publish_once().await, Ok(2));
        assert_eq!(publisher.publish_once().await, Ok(2));
    });
    let times = &publisher.transport().times;
    assert_eq!(
        times,
        &[
            0,
            FREE_INTERVAL_MS,
            2 * FREE_INTERVAL_MS,
            3 * FREE_INTERVAL_MS
        ]
    );
}

#[test]
fn publisher_reports_a_too_small_buffer_as_an_encode_error() {
    let script = [Ok(sample(&[(Quantity::Temperature, 21.0)]))];
    let sink = ThingSpeakSink::new(5, &[(1, Quantity::Temperature)]).unwrap();
    // `field1=21` needs 9 bytes (the topic is the sink's, not in the buffer).
    let mut buf = [0u8; 8];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        sink,
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    let result = embassy_futures::block_on(publisher.publish_once());
    assert_eq!(
        result,
        Err(PublishError::Encode(EncodeError::BufferTooSmall))
    );
    assert!(publisher.transport().messages().is_empty());
}

/// Milliseconds shared between the clock and the transport, so the transport can record when
/// each message arrived.
struct SharedClock(Rc<Cell<u64>>);

impl sensorpub::Clock for SharedClock {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }
}

impl embedded_hal_async::delay::DelayNs for SharedClock {
    async fn delay_ns(&mut self, ns: u32) {
        self.0.set(self.0.get() + u64::from(ns).div_ceil(1_000_000));
    }
}

/// Records the simulated time of every publish.
struct Recorder {
    now: Rc<Cell<u64>>,
    times: Vec<u64>,
}

impl sensorpub::Transport for Recorder {
    type Error = core::convert::Infallible;
    async fn publish(&mut self, _message: &sensorpub::Message<'_>) -> Result<(), Self::Error> {
        self.times.push(self.now.get());
        Ok(())
    }
}

#[test]
fn per_field_a_bad_value_blocks_only_its_own_message() {
    let mut sink = ThingSpeakSink::new(7, &[(1, Quantity::Temperature), (2, Quantity::Humidity)])
        .unwrap()
        .per_field();
    let s = sample(&[
        (Quantity::Temperature, 21.0),
        (Quantity::Humidity, f32::NAN),
    ]);
    assert_eq!(encode(&mut sink, &s, 0, 0).1, b"21".to_vec());
    let mut buf = [0u8; 128];
    assert_eq!(
        sink.encode(&s, 1, FREE_INTERVAL_MS, &mut buf),
        Err(EncodeError::NonFinite {
            quantity: Quantity::Humidity
        })
    );
    // The bulk feed refuses the whole sample instead.
    let bulk =
        ThingSpeakSink::new(7, &[(1, Quantity::Temperature), (2, Quantity::Humidity)]).unwrap();
    assert_eq!(
        bulk.encode(&s, 0, 0, &mut buf),
        Err(EncodeError::NonFinite {
            quantity: Quantity::Humidity
        })
    );
}
