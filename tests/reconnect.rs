//! Broker restart with the resilient publisher over real MQTT (rumqttd in this process,
//! 127.0.0.1), for both protocol versions.
//!
//! What we state and test: **at-least-once**. Every QoS 1 message the publisher produced
//! reaches the subscriber, in order, published at QoS 1; one whose PUBACK was lost with the
//! connection is sent again after the reconnect, so the subscriber may see it twice (counted,
//! allowed). One message is in flight at a time, so each outage repeats at most one message.
//! A broker that never comes back ends in `ResilientError::GaveUp` after the configured
//! attempts, and every message not delivered is still in the publisher's queue.

mod common;

use common::host::HostClock;
use common::{PATIENCE, Subscriber, TestBroker, Version};
use core::convert::Infallible;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;
use sensorpub::{
    Backoff, BackoffConfig, JsonSink, MessageQueue, Publisher, QoS, Quantity, Reading,
    ResilientError, ResilientPublisher, Sample, Sensor, Stage, Transport,
};
use sensorpub::{Broker, Mqtt311, MqttOptions};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/reconnect/value";

/// Samples in a stream.
const COUNT: u32 = 40;

/// Time between samples: short, so the test is quick; the outage spans many samples.
const PERIOD_MS: u32 = 5;

/// What happens to the broker just before a given sample is read: placing the outage by
/// sample number puts it in the middle of the stream whatever the machine's speed.
#[derive(Clone, Copy)]
struct Outage {
    stop_before: u32,
    /// `None`: the broker never comes back.
    restart_before: Option<u32>,
}

/// Counts 1, 2, 3, … and stops or restarts the broker on the [`Outage`]'s schedule.
struct Counting<'a> {
    next: u32,
    /// The broker and when to stop and restart it; `None`: leave the broker alone.
    outage: Option<(&'a RefCell<TestBroker>, Outage)>,
}

impl Counting<'_> {
    fn produced(&self) -> u32 {
        self.next - 1
    }
}

impl Sensor<1> for Counting<'_> {
    type Error = Infallible;

    async fn read(&mut self) -> Result<Sample<1>, Infallible> {
        if let Some((broker, outage)) = self.outage {
            if self.next == outage.stop_before {
                broker.borrow_mut().stop();
            }
            if Some(self.next) == outage.restart_before {
                broker.borrow_mut().restart();
            }
        }
        let sample = Sample::from_readings(&[Reading::new(Quantity::Value, self.next as f32)])
            .expect("one reading fits");
        self.next += 1;
        Ok(sample)
    }
}

fn backoff(max_attempts: Option<u32>) -> Backoff<XorShiftRng> {
    let config = BackoffConfig::new(10, 200).expect("valid backoff");
    let config = match max_attempts {
        Some(n) => config.with_max_attempts(n).expect("valid attempts"),
        None => config,
    };
    Backoff::new(config, XorShiftRng::seed_from_u64(4))
}

/// The numbers the subscriber received until it has seen each of `1..=count` at least once;
/// each must have been published at QoS 1.
fn receive_all(subscriber: &mut Subscriber, count: u32) -> Vec<u32> {
    let mut received = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while !(1..=count).all(|n| received.contains(&n)) {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Some(message) = subscriber.next_within(wait) else {
            panic!("not every message arrived; got {received:?}");
        };
        assert_eq!(message.qos, 1, "{message:?}");
        let text = String::from_utf8(message.payload).expect("UTF-8 payload");
        received.push(text.parse().expect("a whole number"));
    }
    received
}

/// Checks at-least-once delivery of `1..=count` across `outages` broker outages: every
/// number present, in order once repeats are removed (a re-sent message follows its first
/// copy directly), and at most one repeat per outage (the one message in flight when the
/// connection broke); returns how many repeats there were.
fn assert_at_least_once_in_order(received: &[u32], count: u32, outages: usize) -> usize {
    let mut distinct = received.to_vec();
    distinct.dedup();
    assert_eq!(distinct, (1..=count).collect::<Vec<_>>(), "{received:?}");
    let repeats = received.len() - distinct.len();
    assert!(
        repeats <= outages,
        "{repeats} repeats after {outages} outage(s): {received:?}"
    );
    repeats
}

/// Runs a QoS 1 stream of [`COUNT`] samples through `transport` with the broker stopped and
/// restarted in the middle; checks what the subscriber got.
async fn stream_survives_a_restart<T>(
    broker: &RefCell<TestBroker>,
    subscriber: &mut Subscriber,
    transport: T,
) where
    T: Transport,
    T::Error: core::fmt::Debug,
{
    let sensor = Counting {
        next: 1,
        outage: Some((
            broker,
            Outage {
                stop_before: 11,
                restart_before: Some(26),
            },
        )),
    };
    let mut buf = [0u8; 64];
    let publisher = Publisher::new(
        sensor,
        JsonSink::value(TOPIC).unwrap(),
        transport,
        HostClock(Instant::now()),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let mut publisher =
        ResilientPublisher::new(publisher, backoff(None), MessageQueue::<64, 2048>::new());
    publisher
        .run_for(PERIOD_MS, COUNT)
        .await
        .expect("the stream completes");

    let received = receive_all(subscriber, COUNT);
    let repeats = assert_at_least_once_in_order(&received, COUNT, 1);
    eprintln!(
        "{} messages received, {repeats} sent again after a lost PUBACK",
        received.len()
    );
    let stats = publisher.stats();
    assert_eq!(stats.published, COUNT);
    assert_eq!((stats.queued, stats.dropped), (0, 0));
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert!(publisher.transport().is_connected());
    // Nothing else is on the way.
    assert_eq!(subscriber.next_within(Duration::from_millis(200)), None);
}

#[test]
fn mqtt311_qos1_stream_survives_a_broker_restart() {
    let broker = RefCell::new(TestBroker::start());
    let mut subscriber = broker.borrow().subscribe(TOPIC);
    let port = broker.borrow().port(Version::V311);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("reconnect-311").with_timeout_ms(2_000);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    async_io::block_on(stream_survives_a_restart(&broker, &mut subscriber, mqtt));
}

#[test]
fn mqtt5_qos1_stream_survives_a_broker_restart() {
    let broker = RefCell::new(TestBroker::start());
    let mut subscriber = broker.borrow().subscribe(TOPIC);
    let port = broker.borrow().port(Version::V5);
    let options = MqttOptions::new("reconnect-5").with_timeout_ms(2_000);
    common::with_mqtt5(port, options, async |mqtt| {
        stream_survives_a_restart(&broker, &mut subscriber, mqtt).await
    });
}

/// The broker is stopped from another thread as soon as the subscriber has seen a few
/// messages, so the stop lands wherever the publisher happens to be, possibly between a
/// PUBLISH and its PUBACK; it comes back a little later on the same port.
#[test]
fn mqtt311_qos1_stream_survives_a_restart_at_an_arbitrary_moment() {
    const MANY: u32 = 200;
    let broker = Arc::new(Mutex::new(TestBroker::start()));
    let mut subscriber = broker.lock().unwrap().subscribe(TOPIC);
    let port = broker.lock().unwrap().port(Version::V311);
    let restarted = Arc::new(AtomicBool::new(false));
    // Forwards what the subscriber sees, and restarts the broker after the 20th message.
    let watcher = {
        let broker = Arc::clone(&broker);
        let restarted = Arc::clone(&restarted);
        thread::spawn(move || {
            let mut received = Vec::new();
            let deadline = Instant::now() + PATIENCE;
            while !(1..=MANY).all(|n| received.contains(&n)) {
                let wait = deadline.saturating_duration_since(Instant::now());
                let Some(message) = subscriber.next_within(wait) else {
                    break;
                };
                let n: u32 = String::from_utf8(message.payload).unwrap().parse().unwrap();
                received.push(n);
                if received.len() == 20 {
                    let mut broker = broker.lock().unwrap();
                    broker.stop();
                    thread::sleep(Duration::from_millis(100));
                    broker.restart();
                    restarted.store(true, Ordering::SeqCst);
                }
            }
            received
        })
    };
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    // One message in flight, as before the QoS 1 window (tests/qos1_window.rs covers more).
    let options = MqttOptions::new("reconnect-311-any")
        .with_timeout_ms(2_000)
        .with_window(1);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    let sensor = Counting {
        next: 1,
        outage: None,
    };
    let mut buf = [0u8; 64];
    let publisher = Publisher::new(
        sensor,
        JsonSink::value(TOPIC).unwrap(),
        mqtt,
        HostClock(Instant::now()),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let mut publisher =
        ResilientPublisher::new(publisher, backoff(None), MessageQueue::<256, 8192>::new());
    async_io::block_on(publisher.run_for(1, MANY)).expect("the stream completes");
    let received = watcher.join().expect("watcher");
    assert!(
        restarted.load(Ordering::SeqCst),
        "the broker was never restarted"
    );
    // The queue holds all MANY samples, so even an outage as long as the stream drops none.
    assert_eq!(publisher.stats().dropped, 0);
    let repeats = assert_at_least_once_in_order(&received, MANY, 1);
    eprintln!("{} messages received, {repeats} repeated", received.len());
    assert_eq!(publisher.stats().published, MANY);
    assert!(publisher.stats().reconnects >= 1);
}

/// A broker that never comes back: after the configured attempts the publisher returns a
/// typed error; what it could not deliver is in its queue, what it delivered reached the
/// subscriber, and together they are every sample produced.
async fn gives_up_with_the_queue_readable<T>(
    broker: &RefCell<TestBroker>,
    subscriber: &mut Subscriber,
    transport: T,
) where
    T: Transport,
    T::Error: core::fmt::Debug,
{
    let sensor = Counting {
        next: 1,
        outage: Some((
            broker,
            Outage {
                stop_before: 6,
                restart_before: None,
            },
        )),
    };
    let mut buf = [0u8; 64];
    let publisher = Publisher::new(
        sensor,
        JsonSink::value(TOPIC).unwrap(),
        transport,
        HostClock(Instant::now()),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let mut publisher =
        ResilientPublisher::new(publisher, backoff(Some(3)), MessageQueue::<64, 2048>::new());
    let error = publisher
        .run_for(PERIOD_MS, COUNT)
        .await
        .expect_err("a broker that never returns is an error");
    let ResilientError::GaveUp { attempts, last } = &error else {
        panic!("expected GaveUp, got {error:?}");
    };
    assert_eq!(*attempts, 3);
    assert_eq!(error.stage(), Stage::Transport);
    eprintln!("gave up: {last:?}");

    let delivered = publisher.stats().published;
    let produced = publisher.sensor().produced();
    assert_eq!(delivered, 5, "the first five went out before the stop");
    let received = receive_all(subscriber, delivered);
    assert_at_least_once_in_order(&received, delivered, 1);
    assert_eq!(subscriber.next_within(Duration::from_millis(200)), None);
    let queued: Vec<u32> = publisher
        .queue()
        .iter()
        .map(|m| std::str::from_utf8(m.payload).unwrap().parse().unwrap())
        .collect();
    assert_eq!(queued, (delivered + 1..=produced).collect::<Vec<_>>());
    assert!(!queued.is_empty());
    assert!(
        publisher
            .queue()
            .iter()
            .all(|m| m.topic == TOPIC && m.qos == QoS::AtLeastOnce)
    );
}

#[test]
fn mqtt311_broker_that_never_returns_ends_in_gave_up_with_the_queue_readable() {
    let broker = RefCell::new(TestBroker::start());
    let mut subscriber = broker.borrow().subscribe(TOPIC);
    let port = broker.borrow().port(Version::V311);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("gaveup-311").with_timeout_ms(2_000);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    async_io::block_on(gives_up_with_the_queue_readable(
        &broker,
        &mut subscriber,
        mqtt,
    ));
}

#[test]
fn mqtt5_broker_that_never_returns_ends_in_gave_up_with_the_queue_readable() {
    let broker = RefCell::new(TestBroker::start());
    let mut subscriber = broker.borrow().subscribe(TOPIC);
    let port = broker.borrow().port(Version::V5);
    let options = MqttOptions::new("gaveup-5").with_timeout_ms(2_000);
    common::with_mqtt5(port, options, async |mqtt| {
        gives_up_with_the_queue_readable(&broker, &mut subscriber, mqtt).await
    });
}
