//! The publisher seen from outside: which stage failed, and that a failure publishes nothing
//! it should not.

use sensorpub::{
    Blocking, BlockingSensor, EncodeError, JsonSink, MemoryError, MemoryTransport, MockError,
    MockSensor, PublishError, Publisher, QoS, Quantity, RandomSensor, Reading, Sample, SampleFull,
    SimulatedClock, Stage, ThingSpeakSink,
};

fn temperature(value: f32) -> Sample<4> {
    Sample::from_readings(&[Reading::new(Quantity::Temperature, value)]).unwrap()
}

#[test]
fn a_sensor_error_publishes_nothing_and_names_the_sensor_stage() {
    let script: [Result<Sample<4>, MockError>; 1] = [Err(MockError::Scripted(3))];
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::object("t").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    let err = embassy_futures::block_on(publisher.publish_once()).unwrap_err();
    assert_eq!(err, PublishError::Sensor(MockError::Scripted(3)));
    assert_eq!(err.stage(), Stage::Sensor);
    assert_eq!(publisher.transport().attempts(), 0);
}

#[test]
fn an_encode_error_names_the_encode_stage_and_keeps_the_cause() {
    let script = [Ok(temperature(f32::NAN))];
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::object("t").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    let err = embassy_futures::block_on(publisher.publish_once()).unwrap_err();
    assert_eq!(err.stage(), Stage::Encode);
    assert_eq!(
        err,
        PublishError::Encode(EncodeError::NonFinite {
            quantity: Quantity::Temperature
        })
    );
    assert_eq!(
        err.to_string(),
        "encode: temperature is not a finite number; nothing was sent"
    );
    assert_eq!(publisher.transport().attempts(), 0);
}

#[test]
fn a_transport_error_names_the_transport_stage() {
    let script = [Ok(temperature(20.0)), Ok(temperature(21.0))];
    let mut transport = MemoryTransport::<4, 64>::new();
    transport.fail_next(1);
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::object("t").unwrap(),
        transport,
        SimulatedClock::new(),
        &mut buf,
    );
    embassy_futures::block_on(async {
        let err = publisher.publish_once().await.unwrap_err();
        assert_eq!(err, PublishError::Transport(MemoryError::Injected));
        assert_eq!(err.stage(), Stage::Transport);
        assert_eq!(publisher.publish_once().await, Ok(1));
    });
    let sent = publisher.transport().messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].payload, br#"{"temperature":21}"#);
}

#[test]
fn qos_and_retain_reach_the_transport() {
    let script = [Ok(temperature(20.0))];
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::value("t").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce)
    .with_retain(true);
    embassy_futures::block_on(publisher.publish_once()).unwrap();
    let sent = &publisher.transport().messages()[0];
    assert_eq!((sent.qos, sent.retain), (QoS::AtLeastOnce, true));
}

#[test]
fn run_for_publishes_at_a_fixed_rate() {
    let script = [Ok(temperature(20.0))];
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script).repeating(),
        JsonSink::value("t").unwrap(),
        MemoryTransport::<8, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    embassy_futures::block_on(publisher.run_for(10_000, 5)).unwrap();
    assert_eq!(publisher.transport().messages().len(), 5);
    // Four waits between five samples; no wait after the last.
    let mut clock = publisher.clock().clone();
    assert_eq!(sensorpub::Clock::now_ms(&mut clock), 40_000);
}

#[test]
fn run_stops_at_the_first_error() {
    let script = [
        Ok(temperature(20.0)),
        Ok(temperature(21.0)),
        Err(MockError::Scripted(9)),
    ];
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::value("t").unwrap(),
        MemoryTransport::<8, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    let err = embassy_futures::block_on(publisher.run(1_000)).unwrap_err();
    assert_eq!(err, PublishError::Sensor(MockError::Scripted(9)));
    assert_eq!(publisher.transport().messages().len(), 2);
}

#[test]
fn samples_are_stamped_with_the_clock_time_for_created_at() {
    let script = [Ok(temperature(20.5))];
    let sink = ThingSpeakSink::new(3, &[(1, Quantity::Temperature)]).unwrap();
    let mut buf = [0u8; 128];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        sink,
        MemoryTransport::<4, 128>::new(),
        SimulatedClock::new().with_unix_time(1_795_667_846),
        &mut buf,
    );
    embassy_futures::block_on(publisher.publish_once()).unwrap();
    assert_eq!(
        publisher.transport().messages()[0].payload,
        b"field1=20.5&created_at=2026-11-26T04%3A37%3A26Z"
    );
}

#[test]
fn random_sensor_publishes_lab_style_whole_numbers() {
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        RandomSensor::new(Lcg(42)),
        JsonSink::value("apricot/value").unwrap(),
        MemoryTransport::<100, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    embassy_futures::block_on(publisher.run_for(10_000, 100)).unwrap();
    let values: Vec<i32> = publisher
        .transport()
        .messages()
        .iter()
        .map(|m| std::str::from_utf8(&m.payload).unwrap().parse().unwrap())
        .collect();
    assert!(values.iter().all(|v| (0..1000).contains(v)), "{values:?}");
    // 100 draws from 1000 values are not all equal.
    assert!(values.iter().any(|v| *v != values[0]));
}

#[test]
fn blocking_sensors_plug_in_through_the_adapter() {
    struct Thermometer;
    impl BlockingSensor<4> for Thermometer {
        type Error = SampleFull;
        fn read(&mut self) -> Result<Sample<4>, SampleFull> {
            Sample::from_readings(&[Reading::new(Quantity::Temperature, 19.25)])
        }
    }
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        Blocking(Thermometer),
        JsonSink::object("t").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    embassy_futures::block_on(publisher.publish_once()).unwrap();
    assert_eq!(
        publisher.transport().messages()[0].payload,
        br#"{"temperature":19.25}"#
    );
}

#[test]
fn publish_sends_a_sample_the_caller_read_without_a_sensor() {
    let sample = temperature(21.5);
    let mut buf = [0u8; 128];
    // `()`: no sensor; the publisher only publishes what it is handed.
    let mut publisher = Publisher::new(
        (),
        ThingSpeakSink::new(7, &[(1, Quantity::Temperature)]).unwrap(),
        MemoryTransport::<4, 128>::new(),
        SimulatedClock::new().with_unix_time(1_700_000_000),
        &mut buf,
    );
    assert_eq!(embassy_futures::block_on(publisher.publish(&sample)), Ok(1));
    // A sample that carries its time keeps it (published 15 s later, at the channel's pace).
    let mut stamped = temperature(22.0);
    stamped.set_timestamp(Some(1_600_000_000));
    assert_eq!(
        embassy_futures::block_on(publisher.publish(&stamped)),
        Ok(1)
    );
    let pairs: Vec<Vec<(String, String)>> = publisher
        .transport()
        .messages()
        .iter()
        .map(|m| form_urlencoded::parse(&m.payload).into_owned().collect())
        .collect();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    // An unstamped sample goes out with the clock's time; the caller's copy stays as it was.
    assert_eq!(
        pairs,
        [
            vec![
                pair("field1", "21.5"),
                pair("created_at", "2023-11-14T22:13:20Z")
            ],
            vec![
                pair("field1", "22"),
                pair("created_at", "2020-09-13T12:26:40Z")
            ],
        ]
    );
    assert_eq!(sample.timestamp(), None);
}

#[test]
fn publish_errors_name_their_stage() {
    let mut transport = MemoryTransport::<4, 64>::new();
    transport.fail_next(1);
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        (),
        JsonSink::object("t").unwrap(),
        transport,
        SimulatedClock::new(),
        &mut buf,
    );
    let err = embassy_futures::block_on(publisher.publish(&temperature(1.0))).unwrap_err();
    assert_eq!(err, PublishError::Transport(MemoryError::Injected));
    let err =
        embassy_futures::block_on(publisher.publish(&temperature(f32::INFINITY))).unwrap_err();
    assert_eq!(err.stage(), Stage::Encode);
    assert!(publisher.transport().messages().is_empty());
}

#[test]
fn publish_waits_out_the_thingspeak_interval_like_publish_once() {
    let mut buf = [0u8; 128];
    let mut publisher = Publisher::new(
        (),
        ThingSpeakSink::new(7, &[(1, Quantity::Temperature)]).unwrap(),
        MemoryTransport::<4, 128>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    embassy_futures::block_on(publisher.publish(&temperature(1.0))).unwrap();
    assert_eq!(publisher.ready_in_ms(), 15_000);
    embassy_futures::block_on(publisher.publish(&temperature(2.0))).unwrap();
    let (_, _, transport, mut clock) = publisher.into_parts();
    assert_eq!(transport.messages().len(), 2);
    assert_eq!(sensorpub::Clock::now_ms(&mut clock), 15_000);
}

#[test]
fn the_sensor_can_be_reached_between_publishes() {
    let script = [Ok(temperature(1.0)), Ok(temperature(2.0))];
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::object("t").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    embassy_futures::block_on(publisher.publish_once()).unwrap();
    // Swap in another script: the next publish reads from it.
    let replacement = [Ok(temperature(9.0))];
    *publisher.sensor_mut() = MockSensor::new(&replacement);
    embassy_futures::block_on(publisher.publish_once()).unwrap();
    assert_eq!(
        publisher.transport().messages()[1].payload,
        br#"{"temperature":9}"#
    );
}

/// A deterministic RNG for tests (Knuth's MMIX LCG, high bits).
struct Lcg(u64);

impl rand_core::TryRng for Lcg {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Ok((self.0 >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.try_next_u32()?) << 32 | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(4) {
            let bytes = self.try_next_u32()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}
