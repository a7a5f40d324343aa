//! Failover across a list of brokers (`MqttOptions::with_fallbacks`), for both protocol
//! versions, with real brokers on 127.0.0.1: in-process rumqttd instances, a closed port, and
//! a loopback listener replaying the MQTT 5 CONNACK of a broker that sends its clients
//! elsewhere (reason 0x9C / 0x9D).
//!
//! What we state and test: after a failed connect or a lost connection the transport's next
//! connect tries the next broker of the list, round robin; a `ResilientPublisher` over it
//! loses nothing across the switch (QoS 1: every message at least once, in order of first
//! arrival), and its `Stats` say which broker is in use and how many switches happened.

mod common;

use common::host::HostClock;
use common::{PATIENCE, RawListener, Subscriber, TestBroker, Version, free_port};
use core::convert::Infallible;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;
use sensorpub::{
    Backoff, BackoffConfig, FlashQueue, JsonSink, Message, MessageQueue, OutageQueue, Publisher,
    QoS, Quantity, Reading, ResilientPublisher, Sample, Sensor, Stats, Transport,
};
use sensorpub::{Broker, Mqtt311, MqttError, MqttOptions, Refusal, ThingSpeak};
use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};
use std::cell::RefCell;
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/failover/value";

/// Samples in a stream.
const COUNT: u32 = 30;

/// Time between samples: short, so the test is quick; the outage spans many samples.
const PERIOD_MS: u32 = 5;

/// The sample before which the first broker goes away in the mid-stream tests.
const STOP_BEFORE: u32 = 11;

/// Counts 1, 2, 3, … and stops `broker` (for good) just before sample `stop_before`.
struct Counting<'a> {
    next: u32,
    stop: Option<(&'a RefCell<TestBroker>, u32)>,
}

impl Sensor<1> for Counting<'_> {
    type Error = Infallible;

    async fn read(&mut self) -> Result<Sample<1>, Infallible> {
        if let Some((broker, stop_before)) = self.stop
            && self.next == stop_before
        {
            broker.borrow_mut().stop();
        }
        let sample = Sample::from_readings(&[Reading::new(Quantity::Value, self.next as f32)])
            .expect("one reading fits");
        self.next += 1;
        Ok(sample)
    }
}

/// Bounded, so that a transport that never switches ends in `GaveUp` instead of hanging.
fn backoff() -> Backoff<XorShiftRng> {
    let config = BackoffConfig::new(10, 200)
        .and_then(|config| config.with_max_attempts(20))
        .expect("valid backoff");
    Backoff::new(config, XorShiftRng::seed_from_u64(17))
}

/// Publishes [`COUNT`] QoS 1 samples through `transport` with a resilient publisher (the
/// sensor stopping `stop`'s broker on the way, if given); returns the stats and the
/// transport's broker index at the end.
async fn stream<T>(transport: T, stop: Option<(&RefCell<TestBroker>, u32)>) -> (Stats, usize)
where
    T: Transport,
    T::Error: core::fmt::Debug,
{
    stream_via(transport, stop, MessageQueue::<64, 2048>::new()).await
}

/// [`stream`] with the outage queue `queue` (RAM or flash).
async fn stream_via<T, Q>(
    transport: T,
    stop: Option<(&RefCell<TestBroker>, u32)>,
    queue: Q,
) -> (Stats, usize)
where
    T: Transport,
    T::Error: core::fmt::Debug,
    Q: OutageQueue,
{
    let sensor = Counting { next: 1, stop };
    let mut buf = [0u8; 64];
    let publisher = Publisher::new(
        sensor,
        JsonSink::value(TOPIC).unwrap(),
        transport,
        HostClock(Instant::now()),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let mut publisher = ResilientPublisher::new(publisher, backoff(), queue);
    publisher
        .run_for(PERIOD_MS, COUNT)
        .await
        .expect("the stream completes on the second broker");
    (publisher.stats(), publisher.transport().broker_index())
}

/// The numbers a subscriber received, until nothing more comes for a little while; each
/// must have been published at QoS 1.
fn received_numbers(subscriber: &mut Subscriber, wait: Duration) -> Vec<u32> {
    let mut received = Vec::new();
    while let Some(message) = subscriber.next_within(wait) {
        assert_eq!(message.qos, 1, "{message:?}");
        let text = String::from_utf8(message.payload).expect("UTF-8 payload");
        received.push(text.parse().expect("a whole number"));
    }
    received
}

/// Every number of `1..=COUNT` at least once, in order once repeats are removed, at most
/// `repeats_allowed` repeats (the message in flight when a connection broke).
fn assert_all_in_order(received: &[u32], repeats_allowed: usize) {
    let mut distinct = received.to_vec();
    distinct.dedup();
    assert_eq!(distinct, (1..=COUNT).collect::<Vec<_>>(), "{received:?}");
    assert!(
        received.len() - distinct.len() <= repeats_allowed,
        "too many repeats: {received:?}"
    );
}

fn host(port: u16) -> Broker<'static> {
    Broker::new("127.0.0.1", port)
}

/// The stats after a single failover to broker 1 with nothing lost.
fn assert_failed_over_once(stats: Stats, index: usize) {
    assert_eq!(stats.published, COUNT, "{stats:?}");
    assert_eq!((stats.queued, stats.dropped), (0, 0), "{stats:?}");
    assert_eq!((stats.broker, stats.switches), (1, 1), "{stats:?}");
    assert_eq!(index, 1);
}

#[test]
fn mqtt311_refusing_first_broker_fails_over_to_the_second() {
    let second = TestBroker::start();
    let mut subscriber = second.subscribe(TOPIC);
    // Nothing listens on the first: every connect is refused at once.
    let fallbacks = [host(second.port(Version::V311))];
    let options = MqttOptions::new("failover-311-refused")
        .with_timeout_ms(2_000)
        .with_fallbacks(&fallbacks);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = Mqtt311::new(&stack, host(free_port()), options, &mut tx, &mut rx);
    let (stats, index) = async_io::block_on(stream(&mut mqtt, None));
    assert_failed_over_once(stats, index);
    assert_eq!(mqtt.broker(), fallbacks[0]);
    assert_all_in_order(&received_numbers(&mut subscriber, PATIENCE / 40), 0);

    // A clean disconnect keeps the broker: the next connect goes to the second again.
    async_io::block_on(async {
        mqtt.disconnect().await;
        mqtt.connect().await.expect("reconnects to the second");
    });
    assert_eq!(mqtt.broker_index(), 1);
}

#[test]
fn mqtt5_refusing_first_broker_fails_over_to_the_second() {
    let second = TestBroker::start();
    let mut subscriber = second.subscribe(TOPIC);
    let fallbacks = [host(second.port(Version::V5))];
    let options = MqttOptions::new("failover-5-refused")
        .with_timeout_ms(2_000)
        .with_fallbacks(&fallbacks);
    let (stats, index, broker) = common::with_mqtt5(free_port(), options, async |mqtt| {
        let (stats, index) = stream(&mut *mqtt, None).await;
        let broker = mqtt.broker().to_string();
        // A clean disconnect keeps the broker.
        mqtt.disconnect().await;
        mqtt.connect().await.expect("reconnects to the second");
        assert_eq!(mqtt.broker_index(), 1);
        (stats, index, broker)
    });
    assert_failed_over_once(stats, index);
    assert_eq!(broker, fallbacks[0].to_string());
    assert_all_in_order(&received_numbers(&mut subscriber, PATIENCE / 40), 0);
}

/// The first broker serves the first samples, then goes away for good in the middle of the
/// stream; the rest reaches the second. Each broker has its own subscriber (separate
/// routers); what the first received comes before what the second received.
fn assert_lost_first_broker_mid_stream(
    first_subscriber: &mut Subscriber,
    second_subscriber: &mut Subscriber,
    stats: Stats,
    index: usize,
) {
    assert_failed_over_once(stats, index);
    let mut received = received_numbers(first_subscriber, PATIENCE / 40);
    assert!(
        received.len() >= (STOP_BEFORE - 1) as usize,
        "the first broker saw the samples before its stop: {received:?}"
    );
    received.extend(received_numbers(second_subscriber, PATIENCE / 40));
    assert_all_in_order(&received, 1);
}

#[test]
fn mqtt311_broker_lost_mid_stream_fails_over_and_the_queue_carries_over() {
    let first = RefCell::new(TestBroker::start());
    let second = TestBroker::start();
    let mut first_subscriber = first.borrow().subscribe(TOPIC);
    let mut second_subscriber = second.subscribe(TOPIC);
    let fallbacks = [host(second.port(Version::V311))];
    let options = MqttOptions::new("failover-311-lost")
        .with_timeout_ms(2_000)
        .with_fallbacks(&fallbacks);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let primary = host(first.borrow().port(Version::V311));
    let mqtt = Mqtt311::new(&stack, primary, options, &mut tx, &mut rx);
    let (stats, index) = async_io::block_on(stream(mqtt, Some((&first, STOP_BEFORE))));
    assert_lost_first_broker_mid_stream(
        &mut first_subscriber,
        &mut second_subscriber,
        stats,
        index,
    );
}

/// The same with the outage queue on (mock) NOR flash: it carries over too.
#[test]
fn mqtt311_broker_lost_mid_stream_fails_over_with_a_flash_queue() {
    let first = RefCell::new(TestBroker::start());
    let second = TestBroker::start();
    let mut first_subscriber = first.borrow().subscribe(TOPIC);
    let mut second_subscriber = second.subscribe(TOPIC);
    let fallbacks = [host(second.port(Version::V311))];
    let options = MqttOptions::new("failover-311-flash")
        .with_timeout_ms(2_000)
        .with_fallbacks(&fallbacks);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let primary = host(first.borrow().port(Version::V311));
    let mqtt = Mqtt311::new(&stack, primary, options, &mut tx, &mut rx);
    // Eight pages of 512 bytes.
    let mut flash = MockFlashBase::<8, 4, 128>::new(WriteCountCheck::Twice, None, true);
    let (stats, index) = async_io::block_on(async {
        let range = MockFlashBase::<8, 4, 128>::FULL_FLASH_RANGE;
        let queue = FlashQueue::<_, 128>::open(&mut flash, range)
            .await
            .expect("the queue opens");
        stream_via(mqtt, Some((&first, STOP_BEFORE)), queue).await
    });
    assert_lost_first_broker_mid_stream(
        &mut first_subscriber,
        &mut second_subscriber,
        stats,
        index,
    );
}

#[test]
fn mqtt5_broker_lost_mid_stream_fails_over_and_the_queue_carries_over() {
    let first = RefCell::new(TestBroker::start());
    let second = TestBroker::start();
    let mut first_subscriber = first.borrow().subscribe(TOPIC);
    let mut second_subscriber = second.subscribe(TOPIC);
    let fallbacks = [host(second.port(Version::V5))];
    let options = MqttOptions::new("failover-5-lost")
        .with_timeout_ms(2_000)
        .with_fallbacks(&fallbacks);
    let port = first.borrow().port(Version::V5);
    let (stats, index) = common::with_mqtt5(port, options, async |mqtt| {
        stream(mqtt, Some((&first, STOP_BEFORE))).await
    });
    assert_lost_first_broker_mid_stream(
        &mut first_subscriber,
        &mut second_subscriber,
        stats,
        index,
    );
}

/// An MQTT 5 CONNACK refusing with `reason` and a Server Reference property naming
/// `reference` (MQTT 5 §3.2.2.3.16), as a broker that sends its clients elsewhere writes it.
fn redirecting_connack(reason: u8, reference: &str) -> &'static [u8] {
    let reference = reference.as_bytes();
    let reference_len = u16::try_from(reference.len()).expect("short reference");
    // Property 0x1C, then a UTF-8 string: two length bytes and the text.
    let mut properties = vec![0x1c];
    properties.extend(reference_len.to_be_bytes());
    properties.extend(reference);
    let mut body = vec![0x00, reason, u8::try_from(properties.len()).expect("short")];
    body.extend(properties);
    let mut packet = vec![0x20, u8::try_from(body.len()).expect("short")];
    packet.extend(body);
    Box::leak(packet.into_boxed_slice())
}

/// A broker answering CONNECT with 0x9C "use another server" or 0x9D "server moved" and a
/// Server Reference: the connect fails with the typed refusal (minimq 0.13 does not pass the
/// reference on, so it is not followed), and the next connect goes to the next broker of the
/// list, where the message arrives.
#[test]
fn mqtt5_redirecting_connack_is_a_typed_refusal_and_the_next_broker_is_tried() {
    let second = TestBroker::start();
    let mut subscriber = second.subscribe(TOPIC);
    let reference = format!("127.0.0.1:{}", second.port(Version::V5));
    for (reason, refusal) in [
        (0x9c, Refusal::UseAnotherServer),
        (0x9d, Refusal::ServerMoved),
    ] {
        let redirecting = RawListener::start(redirecting_connack(reason, &reference));
        let fallbacks = [host(second.port(Version::V5))];
        let options = MqttOptions::new("failover-5-redirect")
            .with_timeout_ms(2_000)
            .with_fallbacks(&fallbacks);
        let message = Message::new(TOPIC, b"redirected").with_qos(QoS::AtLeastOnce);
        common::with_mqtt5(redirecting.port(), options, async |mqtt| {
            assert_eq!(
                mqtt.connect().await,
                Err(MqttError::Refused(refusal)),
                "reason {reason:#04x}"
            );
            assert!(!mqtt.is_connected());
            assert_eq!(mqtt.broker_index(), 0);
            mqtt.connect().await.expect("the next broker of the list");
            assert_eq!(mqtt.broker_index(), 1);
            mqtt.publish(&message).await.expect("acknowledged");
            mqtt.disconnect().await;
        });
        let arrived = subscriber
            .next_within(PATIENCE)
            .expect("the message arrived");
        assert_eq!(arrived.payload, b"redirected");
        // The redirecting listener saw one CONNECT and nothing after it.
        let packets = common::split_packets(&redirecting.received());
        assert_eq!(packets.len(), 1, "{packets:?}");
        assert_eq!(packets[0][0], 0x10, "CONNECT");
    }
    assert!(
        Refusal::UseAnotherServer
            .to_string()
            .contains("use another server")
    );
    assert!(Refusal::ServerMoved.to_string().contains("0x9d"));
}

/// The ThingSpeak profile takes fallbacks too (a local proxy in front of ThingSpeak, say):
/// its transport moves to the next broker after a refused connect.
#[test]
fn thingspeak_transport_fails_over_to_its_fallback() {
    let second = TestBroker::start();
    let mut subscriber = second.subscribe("channels/1234567/publish");
    let fallbacks = [host(second.port(Version::V311))];
    let profile = ThingSpeak::new(1_234_567, "device", "device", "secret")
        .with_broker(host(free_port()))
        .with_fallbacks(&fallbacks)
        .with_timeout_ms(2_000);
    assert_eq!(profile.options().fallbacks(), fallbacks);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = profile.transport(&stack, &mut tx, &mut rx);
    async_io::block_on(async {
        assert!(matches!(mqtt.connect().await, Err(MqttError::Connect(_))));
        mqtt.connect().await.expect("the fallback");
        let update = Message::new("channels/1234567/publish", b"field1=7");
        mqtt.publish(&update).await.expect("written");
        mqtt.disconnect().await;
    });
    assert_eq!(mqtt.broker(), fallbacks[0]);
    let arrived = subscriber
        .next_within(PATIENCE)
        .expect("the update arrived");
    assert_eq!(arrived.payload, b"field1=7");
}

/// One broker in the list (no fallbacks): a lost connection comes back to the same broker,
/// and `broker_index` stays 0 throughout.
#[test]
fn without_fallbacks_the_broker_index_stays_0_and_no_switch_is_counted() {
    let first = RefCell::new(TestBroker::start());
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let primary = host(first.borrow().port(Version::V311));
    let options = MqttOptions::new("failover-311-single").with_timeout_ms(2_000);
    let mut mqtt = Mqtt311::new(&stack, primary, options, &mut tx, &mut rx);
    async_io::block_on(async {
        mqtt.connect().await.expect("connects");
        first.borrow_mut().restart();
        let message = Message::new(TOPIC, b"1").with_qos(QoS::AtLeastOnce);
        // The restart closed the connection: the publish fails, the reconnect succeeds.
        let _ = mqtt.publish(&message).await;
        mqtt.connect().await.expect("reconnects to the same broker");
        mqtt.publish(&message).await.expect("acknowledged");
    });
    assert_eq!(mqtt.broker_index(), 0);
    assert_eq!(mqtt.broker(), primary);
}
