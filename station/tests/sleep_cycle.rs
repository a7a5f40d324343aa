//! The battery node's cycle, [`sensorpub_station::wake`], on the host: every wake is a fresh
//! process as after deep sleep (new transport, new publisher, the queue opened afresh on the
//! same simulated NOR flash, only the small `WakeState` kept, as in RTC RAM), a simulated
//! clock that runs through the sleep, the simulated PySense, and a real broker on 127.0.0.1
//! that is away for several wakes. Once it is back every sample arrives, in order, with the
//! time it was measured; ThingSpeak's updates keep their `created_at` and the 15 s pace.
//!
//! The radio's cost is measured on the simulated clock: the transport is wrapped so that each
//! exchange with the broker takes [`RTT_MS`] of it (a connection: TCP and CONNECT/CONNACK, two
//! round trips; a QoS 1 PUBLISH: one, to its PUBACK; QoS 0: half of one), plus what the
//! publisher waits with the radio on (backoff, ThingSpeak's pace). The figures printed here
//! are the README's ("What a cycle costs"):
//! `cargo test -p sensorpub-station --test sleep_cycle -- --nocapture`.

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/pysense_bus/mod.rs"]
mod pysense_bus;

use common::host::Fixed;
use common::thingspeak_like::ThingSpeakLike;
use common::{PATIENCE, TestBroker, Version};
use embedded_storage_async::nor_flash::{ErrorType, MultiwriteNorFlash, NorFlash, ReadNorFlash};
use pysense_bus::{Environment, PySenseBus};
use sensorpub::{
    Backoff, BackoffConfig, Broker, FlashQueue, JsonSink, Message, Mqtt5Buffers, MqttOptions,
    Publisher, QoS, ResilientPublisher, SimulatedClock, ThingSpeak, Transport,
};
use sensorpub_station::{
    self as station, Event, FLASH_RECORD, MESSAGE_BUFFER, MQTT5_RX, MQTT5_TX, MQTT311_RX,
    MQTT311_TX, Nowhere, SleepConfig, THINGSPEAK_FIELDS, WakeState,
};
use sequential_storage::mock_flash::{MockFlashBase, MockFlashError, Operation, WriteCountCheck};
use std::cell::RefCell;
use std::time::Duration;

/// 16 pages of 4 KiB (the ESP32's erase size): a 64 KiB queue partition.
type Flash = MockFlashBase<16, 4, 1024>;

const DEVICE: &str = "lopy4-sleep";
const TOPIC: &str = "sensorpub/lopy4-sleep/value";
const CHANNEL: u32 = 1_234_567;
const PASSWORD: &str = "device-password";
/// 2025-11-24T16:00:00Z.
const FIRST_TIME: u64 = 1_764_000_000;
const PERIOD_MS: u32 = 60_000;
/// Assumed round trip between the node and the broker on the simulated clock (a Wi-Fi LAN
/// and a broker on the same site; a cloud broker is 50-150 ms).
const RTT_MS: u64 = 20;

/// Two attempts a send wake, 1 s apart: a broker that is away costs little radio.
fn backoff() -> Backoff<Fixed> {
    let config = BackoffConfig::new(1_000, 2_000)
        .and_then(|c| c.with_max_attempts(2))
        .expect("backoff");
    Backoff::new(config, Fixed)
}

/// What crossed the radio, on the simulated clock.
#[derive(Default)]
struct Air {
    connects: usize,
    /// `(topic, simulated ms)` of every PUBLISH the transport reported delivered.
    sent: Vec<(String, u64)>,
}

/// A transport whose exchanges take simulated time, and are logged.
struct Radio<'a, T> {
    inner: T,
    clock: &'a SimulatedClock,
    air: &'a RefCell<Air>,
}

impl<T: Transport> Transport for Radio<'_, T> {
    type Error = T::Error;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), Self::Error> {
        self.clock.advance_ms(match message.qos {
            QoS::AtLeastOnce => RTT_MS,
            QoS::AtMostOnce => RTT_MS / 2,
        });
        self.inner.publish(message).await?;
        let now = sensorpub::Clock::now_ms(&mut &*self.clock);
        self.air
            .borrow_mut()
            .sent
            .push((message.topic.to_owned(), now));
        Ok(())
    }

    async fn connect(&mut self) -> Result<(), Self::Error> {
        self.clock.advance_ms(2 * RTT_MS);
        self.air.borrow_mut().connects += 1;
        self.inner.connect().await
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    async fn poll(&mut self) -> Result<(), Self::Error> {
        self.inner.poll().await
    }
}

/// What the node's wakes added up to.
#[derive(Default)]
struct Totals {
    wakes: usize,
    send_wakes: usize,
    published: u32,
    radio_on_ms: u64,
    /// Radio time of the send wakes that delivered (the broker there).
    delivering_radio_on_ms: u64,
    /// The timestamp of every sample, in the order read.
    stamps: Vec<u64>,
}

impl Totals {
    fn add(&mut self, wake: &station::Wake) {
        self.wakes += 1;
        self.send_wakes += usize::from(wake.connected);
        self.published += wake.published;
        self.radio_on_ms += wake.radio_on_ms;
        if wake.published > 0 {
            self.delivering_radio_on_ms += wake.radio_on_ms;
        }
    }
}

fn record_stamp(stamps: &mut Vec<u64>, event: &Event<'_>) {
    if let Event::Sampled { sample } = event {
        stamps.push(sample.timestamp().expect("the clock knows the date"));
    }
}

fn warmer_each_sample() -> PySenseBus {
    PySenseBus::pysense2(Environment {
        temperature_step: 1.0,
        ..Environment::default()
    })
}

/// `values` without repeats, each where it first arrived.
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
fn a_sleeping_node_sends_every_sample_in_batches_through_a_broker_outage() {
    const WAKES: u32 = 24;
    let mut broker = TestBroker::start();
    let mut feed = broker.subscribe(TOPIC);
    let port = broker.port(Version::V5);
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
    let flash_start = flash.stats_snapshot();
    let clock = SimulatedClock::new().with_unix_time(FIRST_TIME);
    let bus = warmer_each_sample();
    let config = SleepConfig::new(PERIOD_MS)
        .connect_every(4)
        .with_threshold(10);
    let air = RefCell::new(Air::default());
    let mut state = WakeState::new();
    let mut totals = Totals::default();

    for n in 1..=WAKES {
        // Away for the send wakes 8 and 12; back before 13.
        match n {
            7 => broker.stop(),
            13 => broker.restart(),
            _ => {}
        }
        let queue = async_io::block_on(FlashQueue::<_, FLASH_RECORD>::open(
            &mut flash,
            Flash::FULL_FLASH_RANGE,
        ))
        .expect("the queue opens");
        let connects_before = air.borrow().connects;
        let mut buffers = Mqtt5Buffers::<MQTT5_RX, MQTT5_TX, MESSAGE_BUFFER>::new();
        let options = MqttOptions::new(DEVICE).with_timeout_ms(2_000);
        let wake = common::with_mqtt5_in(&mut buffers, port, options, async |mqtt| {
            let mut buf = [0u8; MESSAGE_BUFFER];
            let sink = JsonSink::object(TOPIC)
                .and_then(|s| s.with_device(DEVICE).with_decimals(2))
                .expect("sink")
                .with_time();
            let transport = Radio {
                inner: mqtt,
                clock: &clock,
                air: &air,
            };
            let publisher =
                Publisher::new((), sink, transport, &clock, &mut buf).with_qos(QoS::AtLeastOnce);
            let mut json = ResilientPublisher::new(publisher, backoff(), queue);
            let handles = bus.clone();
            station::wake(
                move || handles.clone(),
                &clock,
                &mut json,
                &mut Nowhere,
                &config,
                &mut state,
                |event| record_stamp(&mut totals.stamps, &event),
            )
            .await
        });
        assert!(wake.sampled, "wake {n}: the board was read");
        totals.add(&wake);
        if !wake.connected {
            assert_eq!(
                air.borrow().connects,
                connects_before,
                "wake {n}: the radio stayed off"
            );
            assert_eq!(wake.radio_on_ms, 0);
        }
        match n {
            // Send wakes 8 and 12 find the broker away: two attempts, then sleep.
            8 | 12 => {
                assert!(wake.connected && wake.published == 0, "wake {n}: {wake:?}");
                assert!(air.borrow().connects >= connects_before + 2, "wake {n}");
            }
            // Past the threshold (10) while behind: no attempt before the next send wake.
            9..=11 | 13..=15 => assert!(!wake.connected, "wake {n}: {wake:?}"),
            16 => assert_eq!((wake.published, wake.queued), (12, 0), "the backlog"),
            _ => {}
        }
        // Sleep: the clock runs on through it.
        assert!(wake.sleep_ms > 0 && wake.sleep_ms <= u64::from(PERIOD_MS));
        clock.advance_ms(wake.sleep_ms);
    }
    assert_eq!(state.wakes, WAKES);
    assert_eq!(state.dropped, 0);
    // Sample n was taken (n - 1) periods after the first: the wake's time awake and the
    // radio's never pushed the schedule.
    let first = totals.stamps[0];
    let offsets: Vec<u64> = totals.stamps.iter().map(|t| t - first).collect();
    let want: Vec<u64> = (0..u64::from(WAKES)).map(|i| i * 60).collect();
    assert_eq!(offsets, want);

    // Every sample, in order, with its time; at least once (a lost PUBACK may repeat one).
    let mut received = Vec::new();
    while first_occurrences(&received).len() < WAKES as usize {
        let message = feed
            .next_within(PATIENCE)
            .unwrap_or_else(|| panic!("missing samples; got {received:?}"));
        assert_eq!(message.qos, 1);
        let json: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
        let index = (json["temperature"].as_f64().expect("temperature") - 21.5).round() as i64;
        let time = json["time"].as_u64().expect("time");
        assert_eq!(time, first + 60 * index as u64, "{json}");
        assert_eq!(json["device"], DEVICE);
        received.push(index);
    }
    let expected: Vec<i64> = (0..i64::from(WAKES)).collect();
    assert_eq!(first_occurrences(&received), expected);
    let duplicates = received.len() - WAKES as usize;

    let air = air.into_inner();
    assert_eq!(totals.published as usize, air.sent.len());
    assert_eq!(totals.published, WAKES + duplicates as u32);
    assert!(totals.send_wakes <= 8, "{} send wakes", totals.send_wakes);
    let flash_cost = flash_start.compare_to(flash.stats_snapshot());
    println!(
        "JSON over MQTT 5, QoS 1, {WAKES} wakes, K = 4, broker away for 2 send wakes: \
         {} send wakes, {} connection attempts, {} published ({duplicates} duplicates); \
         radio on {} ms in all = {:.0} ms per published sample, of which the send wakes \
         that found the broker: {} ms = {:.1} ms per sample (RTT {RTT_MS} ms, Wi-Fi \
         association not included); flash: {} bytes written, {} page erases = {:.0} bytes \
         per sample",
        totals.send_wakes,
        air.connects,
        totals.published,
        totals.radio_on_ms,
        totals.radio_on_ms as f64 / f64::from(totals.published),
        totals.delivering_radio_on_ms,
        totals.delivering_radio_on_ms as f64 / f64::from(totals.published),
        flash_cost.bytes_written,
        flash_cost.erases,
        flash_cost.bytes_written as f64 / f64::from(WAKES),
    );
}

/// Unix seconds of an ISO 8601 `YYYY-MM-DDTHH:MM:SSZ` (days from the civil date, written
/// here apart from the crate's formatter).
fn unix_seconds(iso: &str) -> u64 {
    let field = |range: core::ops::Range<usize>| -> i64 { iso[range].parse().expect("digits") };
    let (y, m, d) = (field(0..4), field(5..7), field(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + field(11..13) * 3_600 + field(14..16) * 60 + field(17..19)) as u64
}

#[test]
fn thingspeak_updates_taken_in_deep_sleep_keep_their_created_at_and_the_15_s_pace() {
    const WAKES: u32 = 12;
    let thingspeak_broker = ThingSpeakLike::start(PASSWORD.as_bytes());
    let channel = ThingSpeak::new(CHANNEL, "client-id", "user", PASSWORD)
        .with_broker(Broker::new("127.0.0.1", thingspeak_broker.port()))
        .with_timeout_ms(2_000);
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
    let flash_start = flash.stats_snapshot();
    let clock = SimulatedClock::new().with_unix_time(FIRST_TIME);
    let bus = warmer_each_sample();
    let config = SleepConfig::new(PERIOD_MS).connect_every(4);
    let air = RefCell::new(Air::default());
    let mut state = WakeState::new();
    let mut totals = Totals::default();
    let net = std_embedded_nal_async::Stack::default();

    for n in 1..=WAKES {
        // Away for the send wake 4; back for 8.
        match n {
            3 => thingspeak_broker.go_away(),
            6 => thingspeak_broker.come_back(),
            _ => {}
        }
        let queue = async_io::block_on(FlashQueue::<_, FLASH_RECORD>::open(
            &mut flash,
            Flash::FULL_FLASH_RANGE,
        ))
        .expect("the queue opens");
        let (mut tx, mut rx) = ([0u8; MQTT311_TX], [0u8; MQTT311_RX]);
        let mut buf = [0u8; MESSAGE_BUFFER];
        let transport = Radio {
            inner: channel.transport(&net, &mut tx, &mut rx),
            clock: &clock,
            air: &air,
        };
        let sink = channel.sink(&THINGSPEAK_FIELDS).expect("sink");
        let publisher =
            Publisher::new((), sink, transport, &clock, &mut buf).with_qos(channel.qos());
        let mut thingspeak = ResilientPublisher::new(publisher, backoff(), queue);
        let handles = bus.clone();
        let wake = async_io::block_on(station::wake(
            move || handles.clone(),
            &clock,
            &mut Nowhere,
            &mut thingspeak,
            &config,
            &mut state,
            |event| record_stamp(&mut totals.stamps, &event),
        ));
        totals.add(&wake);
        match n {
            4 => assert_eq!((wake.connected, wake.published), (true, 0), "away"),
            8 => assert_eq!((wake.published, wake.queued), (8, 0), "the backlog"),
            12 => assert_eq!((wake.published, wake.queued), (4, 0)),
            _ => assert!(!wake.connected, "wake {n}: {wake:?}"),
        }
        clock.advance_ms(wake.sleep_ms);
    }

    // Every update, once (nothing was in flight when the broker went away), in order, each
    // with the time its sample was taken, although most arrived minutes later.
    let topic = format!("channels/{CHANNEL}/publish");
    let updates = thingspeak_broker.published(Duration::from_millis(200));
    let created: Vec<u64> = updates
        .iter()
        .map(|(t, payload)| {
            assert_eq!(t, &topic);
            let fields: std::collections::HashMap<String, String> =
                form_urlencoded::parse(payload).into_owned().collect();
            assert!(fields.contains_key("field1"), "{fields:?}");
            unix_seconds(&fields["created_at"])
        })
        .collect();
    assert_eq!(created, totals.stamps);
    assert_eq!(created.len(), WAKES as usize);

    // ThingSpeak's pace: 15 s between updates, in a replay too, on the node's clock.
    let air = air.into_inner();
    for pair in air.sent.windows(2) {
        assert!(pair[1].1 - pair[0].1 >= 15_000, "{pair:?}");
    }
    // The replay of 8 held the radio for 7 × 15 s: the period overran, and the next wake
    // came at once rather than a minute after the one before.
    let flash_cost = flash_start.compare_to(flash.stats_snapshot());
    println!(
        "ThingSpeak over MQTT 3.1.1, QoS 0, {WAKES} wakes, K = 4: {} send wakes, radio on \
         {} ms in all = {:.0} ms per published sample (15 s pace); flash: {:.0} bytes \
         written per sample",
        totals.send_wakes,
        totals.radio_on_ms,
        totals.radio_on_ms as f64 / f64::from(totals.published),
        flash_cost.bytes_written as f64 / f64::from(WAKES),
    );
}

/// The flash of a wake whose power is cut: after the mock's cut (`bytes_until_shutoff`), every
/// operation fails, as nothing more reaches a flash without power; the wake's code carries on
/// without effect on it, and the next wake is the reboot.
struct Dying<'a> {
    flash: &'a mut Flash,
    dead: bool,
}

impl Dying<'_> {
    fn check<T>(&mut self, result: Result<T, MockFlashError>) -> Result<T, MockFlashError> {
        if let Err(MockFlashError::EarlyShutoff(..)) = result {
            self.dead = true;
        }
        result
    }

    fn alive(&self) -> Result<(), MockFlashError> {
        if self.dead {
            Err(MockFlashError::EarlyShutoff(0, Operation::Write))
        } else {
            Ok(())
        }
    }
}

impl ErrorType for Dying<'_> {
    type Error = MockFlashError;
}

impl ReadNorFlash for Dying<'_> {
    const READ_SIZE: usize = Flash::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.alive()?;
        let result = self.flash.read(offset, bytes).await;
        self.check(result)
    }

    fn capacity(&self) -> usize {
        ReadNorFlash::capacity(&*self.flash)
    }
}

impl NorFlash for Dying<'_> {
    const WRITE_SIZE: usize = Flash::WRITE_SIZE;
    const ERASE_SIZE: usize = Flash::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.alive()?;
        let result = self.flash.erase(from, to).await;
        self.check(result)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.alive()?;
        let result = self.flash.write(offset, bytes).await;
        self.check(result)
    }
}

impl MultiwriteNorFlash for Dying<'_> {}

/// One run of [`a_power_cut_in_a_wake_costs_at_most_that_wake_s_sample`]: 12 wakes, a send
/// every 4, the power cut after `cut` bytes written or erased in wake `cut_wake` (wake 6
/// stores only; wake 8 stores and sends, removing each delivered message). Returns the
/// received sample indexes, the bytes the cut wake wrote or erased (for an uncut run), and
/// whether the cut happened.
fn run_with_cut(cut_wake: u32, cut: Option<u32>) -> (Vec<i64>, u32, bool) {
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
    let mut broker = sensorpub::MemoryTransport::<32, 512>::new();
    let clock = SimulatedClock::new().with_unix_time(FIRST_TIME);
    let bus = warmer_each_sample();
    let config = SleepConfig::new(PERIOD_MS).connect_every(4);
    let mut state = WakeState::new();
    let mut budget = 0;
    let mut was_cut = false;
    for n in 1..=12 {
        broker.disconnect(); // deep sleep
        let cut_here = n == cut_wake;
        flash.bytes_until_shutoff = if cut_here {
            Some(cut.unwrap_or(u32::MAX))
        } else {
            None
        };
        let dying = Dying {
            flash: &mut flash,
            dead: false,
        };
        let queue = async_io::block_on(FlashQueue::<_, FLASH_RECORD>::open(
            dying,
            Flash::FULL_FLASH_RANGE,
        ));
        let mut buf = [0u8; MESSAGE_BUFFER];
        let sink = JsonSink::object(TOPIC).expect("sink").with_time();
        let publisher =
            Publisher::new((), sink, &mut broker, &clock, &mut buf).with_qos(QoS::AtLeastOnce);
        let sleep_ms = match queue {
            Ok(queue) => {
                let mut json = ResilientPublisher::new(publisher, backoff(), queue);
                let handles = bus.clone();
                let wake = async_io::block_on(station::wake(
                    move || handles.clone(),
                    &clock,
                    &mut json,
                    &mut Nowhere,
                    &config,
                    &mut state,
                    |_| {},
                ));
                was_cut |= json.into_parts().2.into_flash().dead;
                wake.sleep_ms
            }
            // The cut came while the queue was being opened (counted, repaired): reboot.
            Err(_) => {
                was_cut = true;
                u64::from(PERIOD_MS)
            }
        };
        if cut_here {
            budget = match flash.bytes_until_shutoff {
                Some(left) => u32::MAX - left,
                None => 0,
            };
        }
        clock.advance_ms(sleep_ms);
    }
    let received = broker
        .messages()
        .iter()
        .map(|m| {
            let json: serde_json::Value = serde_json::from_slice(&m.payload).expect("JSON");
            (json["temperature"].as_f64().expect("temperature") - 21.5).round() as i64
        })
        .collect();
    (received, budget, was_cut)
}

#[test]
fn a_power_cut_in_a_wake_costs_at_most_that_wake_s_sample() {
    let mut cuts = 0;
    let mut lost = 0;
    for cut_wake in [6, 8] {
        let (all, budget, was_cut) = run_with_cut(cut_wake, None);
        assert!(!was_cut);
        assert_eq!(
            all,
            (0..12).collect::<Vec<i64>>(),
            "no cut: every sample once"
        );
        // A cut after each byte the wake writes or erases.
        for cut in 0..budget {
            let (received, _, was_cut) = run_with_cut(cut_wake, Some(cut));
            assert!(
                was_cut,
                "wake {cut_wake}: a cut after {cut} of {budget} bytes"
            );
            let arrived = first_occurrences(&received);
            // Each stored sample at least once, in order; only the cut wake's own sample may
            // be missing (the power went while it was being stored).
            let cut_sample = i64::from(cut_wake) - 1;
            let want: Vec<i64> = (0..12).filter(|&i| i != cut_sample).collect();
            let others: Vec<i64> = arrived
                .iter()
                .copied()
                .filter(|&i| i != cut_sample)
                .collect();
            assert_eq!(
                others, want,
                "wake {cut_wake}, cut after {cut} bytes: {received:?}"
            );
            assert!(
                arrived.windows(2).all(|w| w[0] < w[1]),
                "order: {received:?}"
            );
            lost += usize::from(!arrived.contains(&cut_sample));
            cuts += 1;
        }
    }
    println!(
        "{cuts} power cuts (after each byte a store wake and a send wake write or erase): \
         {lost} caught the wake's own sample before it was stored, none lost another sample"
    );
}
