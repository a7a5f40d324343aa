//! The example firmware's publish loop, [`sensorpub_station::run`], on the host: the same
//! function the ESP32 runs, here over std's network stack, against an MQTT broker in this
//! process (127.0.0.1) and a simulated PySense 2 bus. What the subscriber receives is what a
//! device on a PySense would have published.

// The crate's own test helpers, shared rather than copied.
#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/pysense_bus/mod.rs"]
mod pysense_bus;

use common::{PATIENCE, Received, TestBroker, Version};
use embedded_hal::i2c::I2c;
use pysense_bus::{COPROCESSOR, Environment, LTR329, PySenseBus, SI7006};
use rand_core::SeedableRng;
use sensorpub::EmbassyClock;
use sensorpub::{Broker, ThingSpeak};
use sensorpub_station::{self as station, Buffers, NodeConfig};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

const DEVICE: &str = "lopy4-test";
const CHANNEL: u32 = 1_234_567;

/// The station running on its own thread, as on a device; stopped (and its events
/// collected) by [`Station::stop`].
struct Station {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    events: mpsc::Receiver<String>,
    thread: Option<JoinHandle<bool>>,
}

impl Station {
    /// Starts `run` with the JSON feed on the broker's MQTT 5 listener and, if `thingspeak`,
    /// the ThingSpeak profile pointed at its MQTT 3.1.1 listener.
    fn start(broker: &TestBroker, env: Environment, period_ms: u32, thingspeak: bool) -> Self {
        Self::start_on(
            broker,
            move || PySenseBus::pysense2(env),
            period_ms,
            thingspeak,
        )
    }

    /// As [`start`](Self::start), on the bus `board` makes (inside the station's thread).
    fn start_on(
        broker: &TestBroker,
        board: impl FnOnce() -> PySenseBus + Send + 'static,
        period_ms: u32,
        thingspeak: bool,
    ) -> Self {
        let v5 = broker.port(Version::V5);
        let v311 = broker.port(Version::V311);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (events_tx, events) = mpsc::channel();
        let thread = thread::spawn(move || {
            let bus = board();
            let config = NodeConfig {
                device: DEVICE,
                broker: Broker::new("127.0.0.1", v5),
                topic: None,
                period_ms,
                thingspeak: thingspeak.then(|| {
                    ThingSpeak::new(CHANNEL, "client-id", "user", "not-a-secret")
                        .with_broker(Broker::new("127.0.0.1", v311))
                }),
            };
            let net = std_embedded_nal_async::Stack::default();
            let rng = rand_xorshift::XorShiftRng::seed_from_u64(7);
            let mut buffers = Buffers::new();
            let handles = bus.clone();
            let station = station::run(
                &net,
                move || handles.clone(),
                EmbassyClock,
                rng,
                &config,
                &mut buffers,
                |event| {
                    let _ = events_tx.send(event.to_string());
                },
            );
            async_io::block_on(async {
                match embassy_futures::select::select(station, stopped).await {
                    embassy_futures::select::Either::First(result) => {
                        panic!("station stopped: {result:?}")
                    }
                    embassy_futures::select::Either::Second(_) => {}
                }
            });
            bus.sensors_powered()
        });
        Self {
            stop: Some(stop),
            events,
            thread: Some(thread),
        }
    }

    /// Waits (at most [`PATIENCE`]) for an event that `matches`; returns it.
    fn wait_for_event(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if matches(&event) => return event,
                Ok(_) => {}
                Err(_) => panic!("the station never reported {what}"),
            }
        }
    }

    /// Stops the station; returns whether the co-processor had powered the sensors.
    fn stop(mut self) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("station thread")
    }
}

/// `(published, queued, dropped, reconnects)` from a "broker: ..." delivery event.
fn broker_stats(event: &str) -> Option<(usize, usize, u32, u32)> {
    let rest = event.strip_prefix("broker: ")?;
    let numbers: Vec<u64> = rest
        .split(", ")
        .map(|part| part.split_whitespace().next()?.parse().ok())
        .collect::<Option<_>>()?;
    match numbers[..] {
        [published, queued, dropped, reconnects] => Some((
            published as usize,
            queued as usize,
            dropped as u32,
            reconnects as u32,
        )),
        _ => None,
    }
}

/// A JSON sample as the subscriber received it.
fn json(message: &Received) -> serde_json::Value {
    assert_eq!(message.topic, format!("sensorpub/{DEVICE}/value"));
    serde_json::from_slice(&message.payload).expect("valid JSON")
}

fn number(sample: &serde_json::Value, key: &str) -> f64 {
    sample[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key} in {sample}"))
}

fn assert_near(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got}, want {want} ± {tolerance}"
    );
}

/// LTR-329 appnote lux for CH0 = 1000, CH1 = 500 at gain 1×, 100 ms: ratio 0.33 < 0.45, so
/// 1.7743·CH0 + 1.1059·CH1.
const LUX: f64 = 1.7743 * 1000.0 + 1.1059 * 500.0;

#[test]
fn every_sample_reaches_the_broker_as_json_with_every_pysense_reading() {
    let broker = TestBroker::start();
    let mut feed = broker.subscribe(&format!("sensorpub/{DEVICE}/value"));
    let station = Station::start(&broker, Environment::default(), 50, false);

    let samples: Vec<serde_json::Value> = feed.take(3).iter().map(json).collect();
    for sample in &samples {
        assert_eq!(sample["device"], DEVICE);
        assert_near("temperature", number(sample, "temperature"), 21.5, 0.01);
        assert_near("humidity", number(sample, "humidity"), 45.0, 0.01);
        assert_near("pressure", number(sample, "pressure"), 101_325.0, 0.25);
        assert_near("illuminance", number(sample, "illuminance"), LUX, 0.5);
        assert_near(
            "acceleration x",
            number(sample, "acceleration_x"),
            0.0,
            0.001,
        );
        assert_near(
            "acceleration y",
            number(sample, "acceleration_y"),
            0.0,
            0.001,
        );
        assert_near(
            "acceleration z",
            number(sample, "acceleration_z"),
            1.0,
            0.001,
        );
        // Lying flat: neither pitched nor rolled.
        assert_near("pitch", number(sample, "pitch"), 0.0, 0.01);
        assert_near("roll", number(sample, "roll"), 0.0, 0.01);
        assert_near(
            "pressure sensor temperature",
            number(sample, "pressure_sensor_temperature"),
            21.5,
            0.0625,
        );
    }
    station.wait_for_event("the sensors' power-on", |e| {
        e == "PySense: sensors powered on"
    });
    assert!(station.stop(), "the co-processor never powered the sensors");
}

#[test]
fn an_absent_sensor_is_left_out_of_the_sample_not_sent_as_zero() {
    let broker = TestBroker::start();
    let mut feed = broker.subscribe(&format!("sensorpub/{DEVICE}/value"));
    let board = || PySenseBus::pysense2(Environment::default()).without(LTR329);
    let station = Station::start_on(&broker, board, 50, false);

    let sample = json(&feed.take(1)[0]);
    assert!(sample.get("illuminance").is_none(), "{sample}");
    assert_near("temperature", number(&sample, "temperature"), 21.5, 0.01);
    assert_near("pressure", number(&sample, "pressure"), 101_325.0, 0.25);
    station.wait_for_event("the LTR-329 reported absent", |e| {
        e == "PySense: SI7006 found, MPL3115A2 found, LTR-329 absent, LIS2HH12 found"
    });
    station.stop();
}

#[test]
fn thingspeak_gets_the_sample_as_a_bulk_update_over_mqtt_3_1_1() {
    let broker = TestBroker::start();
    let mut channel = broker.subscribe(&format!("channels/{CHANNEL}/publish"));
    let mut feed = broker.subscribe(&format!("sensorpub/{DEVICE}/value"));
    let station = Station::start(&broker, Environment::default(), 50, true);

    let update = channel.take(1).remove(0);
    let fields: std::collections::HashMap<String, String> = form_urlencoded::parse(&update.payload)
        .into_owned()
        .collect();
    let field = |name: &str| -> f64 {
        fields[name]
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number"))
    };
    assert_near("field1 (temperature)", field("field1"), 21.5, 0.01);
    assert_near("field2 (humidity)", field("field2"), 45.0, 0.01);
    assert_near("field3 (pressure)", field("field3"), 101_325.0, 0.25);
    assert_near("field4 (illuminance)", field("field4"), LUX, 0.5);
    assert!(!fields.contains_key("field5"), "only fields 1-4 are mapped");
    // The JSON feed goes on beside it, at its own pace.
    feed.take(3);
    station.stop();
}

#[test]
fn a_broker_outage_loses_no_sample() {
    let mut broker = TestBroker::start();
    let mut feed = broker.subscribe(&format!("sensorpub/{DEVICE}/value"));
    // Every sample 1 °C warmer than the one before: each is told apart.
    let env = Environment {
        temperature_step: 1.0,
        ..Environment::default()
    };
    let station = Station::start(&broker, env, 200, false);

    let index = |message: &Received| (number(&json(message), "temperature") - 21.5).round() as i64;
    let seen: Vec<i64> = feed.take(2).iter().map(index).collect();

    let before = station.wait_for_event("a delivery", |e| broker_stats(e).is_some());
    let reconnects_before = broker_stats(&before).expect("stats").3;
    broker.stop();
    station.wait_for_event("samples queued during the outage", |e| {
        broker_stats(e).is_some_and(|(_, queued, _, _)| queued >= 2)
    });
    broker.restart();
    let after = station.wait_for_event("the queue sent after the broker came back", |e| {
        broker_stats(e).is_some_and(|(_, queued, _, _)| queued == 0)
    });
    station.stop();
    let (published, _, dropped, reconnects) = broker_stats(&after).expect("stats");
    assert_eq!(dropped, 0, "the queue overflowed: {after}");
    assert!(reconnects > reconnects_before, "no reconnect: {after}");

    // At least once: a sample may arrive twice, but every one arrives, in the order taken.
    let mut received = seen;
    while first_occurrences(&received).len() < published {
        match feed.next_within(PATIENCE) {
            Some(message) => received.push(index(&message)),
            None => break,
        };
    }
    // 0..n, n not taken on the station's word alone: what arrived beyond its count must be
    // gapless and in order too.
    let arrived = first_occurrences(&received);
    let n = published.max(arrived.len()) as i64;
    let expected: Vec<i64> = (0..n).collect();
    assert_eq!(
        arrived, expected,
        "every sample, in order, none missing: received {received:?}"
    );
}

/// `values` without repeats, each where it first arrived: a redelivered sample is allowed,
/// a reordered or missing one shows.
fn first_occurrences(values: &[i64]) -> Vec<i64> {
    let mut kept = Vec::new();
    for &value in values {
        if !kept.contains(&value) {
            kept.push(value);
        }
    }
    kept
}

#[test]
fn pysense2_sensors_answer_only_after_the_coprocessor_powers_them() {
    let mut bus = PySenseBus::pysense2(Environment::default());
    let mut reply = [0u8; 3];
    assert!(bus.write_read(SI7006, &[0xE3], &mut reply).is_err());
    // TRISC (0x08E) bit 7 an output, then LATC (0x10E) bit 7 high, by MAGIC AND / OR.
    bus.write(COPROCESSOR, &[0x02, 0x8E, 0x00, 0x7F, 0x00, 0x00])
        .unwrap();
    bus.write(COPROCESSOR, &[0x02, 0x0E, 0x01, 0xFF, 0x80, 0x00])
        .unwrap();
    assert!(bus.sensors_powered());
    bus.write_read(SI7006, &[0xE3], &mut reply).unwrap();
    let code = u16::from_be_bytes([reply[0], reply[1]]);
    let celsius = 175.72 * f32::from(code) / 65_536.0 - 46.85;
    assert!((celsius - 21.5).abs() < 0.01, "{celsius}");
    assert_eq!(pysense_bus::crc8(&reply[..2]), reply[2]);
}
