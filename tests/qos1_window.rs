//! The QoS 1 window (MQTT 3.1.1 and MQTT 5): a [`ResilientPublisher`] drains a backlog with
//! up to W messages in flight, PUBACKs matched by packet id. Against the in-process rumqttd
//! on 127.0.0.1, and scripted TCP listeners for a broker that acknowledges out of order or
//! holds its acknowledgements to count what is in flight.
//!
//! What we state and test: the at-least-once contract of one message at a time still holds.
//! A message leaves the queue only when its own PUBACK came and every message before it was
//! acknowledged; the subscriber sees every message, in order of first arrival; after a
//! broker restart the unacknowledged ones (at most W) go again, in order.
//!
//! `backlog_drain_benchmark` (ignored) times the drain of 1,000 queued messages, windows 1, 4
//! and 16, over both protocols; see BENCHMARKS.md for the command.

mod common;

use common::host::HostClock;
use common::{PATIENCE, TestBroker, Version};
use core::convert::Infallible;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;
use sensorpub::{
    Backoff, BackoffConfig, Broker, JsonSink, MessageQueue, Mqtt311, MqttOptions, Publisher, QoS,
    Quantity, Reading, ResilientError, ResilientPublisher, Sample, Sensor, Sink, Stats, Transport,
};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/window/value";

/// The tests store samples themselves ([`ResilientPublisher::store`]); nothing reads this.
struct NoSensor;

impl Sensor<2> for NoSensor {
    type Error = Infallible;

    async fn read(&mut self) -> Result<Sample<2>, Infallible> {
        Ok(Sample::from_readings(&[]).expect("empty sample"))
    }
}

fn backoff(max_attempts: Option<u32>) -> Backoff<XorShiftRng> {
    let config = BackoffConfig::new(10, 200).expect("valid backoff");
    let config = match max_attempts {
        Some(n) => config.with_max_attempts(n).expect("valid attempts"),
        None => config,
    };
    Backoff::new(config, XorShiftRng::seed_from_u64(16))
}

fn value(n: u32) -> Sample<1> {
    Sample::from_readings(&[Reading::new(Quantity::Value, n as f32)]).expect("one reading")
}

/// Builds a resilient publisher over `transport` with a RAM queue for 256 messages.
fn resilient<'b, T: Transport, K: Sink>(
    sink: K,
    transport: T,
    buf: &'b mut [u8],
    max_attempts: Option<u32>,
) -> ResilientPublisher<'b, NoSensor, K, T, HostClock, XorShiftRng, MessageQueue<256, 16384>> {
    let publisher = Publisher::new(NoSensor, sink, transport, HostClock(Instant::now()), buf)
        .with_qos(QoS::AtLeastOnce);
    ResilientPublisher::new(publisher, backoff(max_attempts), MessageQueue::new())
}

/// The numbers in `received` in order of first arrival, and how many were repeats.
fn first_arrivals(received: &[u32]) -> (Vec<u32>, usize) {
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<u32> = received
        .iter()
        .copied()
        .filter(|n| seen.insert(*n))
        .collect();
    let repeats = received.len() - firsts.len();
    (firsts, repeats)
}

/// Receives on another thread while the publisher drains (rumqttd's in-process subscriber
/// link stalls when 200 forwards pile up unread): the numbers of the first `count`
/// messages, and whatever else comes within 200 ms after them.
fn receive_numbers(
    mut subscriber: common::Subscriber,
    count: usize,
) -> thread::JoinHandle<Vec<u32>> {
    thread::spawn(move || {
        let mut numbers = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while numbers.len() < count {
            let wait = deadline.saturating_duration_since(Instant::now());
            let Some(m) = subscriber.next_within(wait) else {
                break;
            };
            assert_eq!(m.qos, 1, "{m:?}");
            numbers.push(String::from_utf8_lossy(&m.payload).parse().expect("number"));
        }
        while let Some(m) = subscriber.next_within(Duration::from_millis(200)) {
            numbers.push(String::from_utf8_lossy(&m.payload).parse().expect("number"));
        }
        numbers
    })
}

#[test]
fn a_backlog_of_200_drains_with_window_4_each_once_in_order() {
    const COUNT: u32 = 200;
    let broker = TestBroker::start();
    let subscriber = broker.subscribe(TOPIC);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("window-200")
        .with_timeout_ms(5_000)
        .with_window(4);
    assert_eq!(options.window(), 4);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", broker.port(Version::V311)),
        options,
        &mut tx,
        &mut rx,
    );
    let mut buf = [0u8; 64];
    let mut publisher = resilient(JsonSink::value(TOPIC).unwrap(), mqtt, &mut buf, None);
    let receiver = receive_numbers(subscriber, COUNT as usize);
    async_io::block_on(async {
        for n in 1..=COUNT {
            publisher.store(&value(n)).await.expect("stored");
        }
        assert_eq!(publisher.stats().queued, COUNT as usize);
        publisher.flush().await.expect("drained");
    });
    assert_eq!(publisher.stats().published, COUNT);
    assert_eq!(publisher.stats().queued, 0);
    let numbers = receiver.join().expect("receiver");
    assert_eq!(numbers, (1..=COUNT).collect::<Vec<_>>());
}

/// Stores 1..=`count` and drains them through `transport` (`max_attempts` connection
/// attempts in a row, or no limit); returns the publisher's stats.
async fn store_and_flush<T: Transport>(transport: T, count: u32, max_attempts: Option<u32>) -> Stats
where
    T::Error: core::fmt::Debug,
{
    let mut buf = [0u8; 64];
    let mut publisher = resilient(
        JsonSink::value(TOPIC).unwrap(),
        transport,
        &mut buf,
        max_attempts,
    );
    for n in 1..=count {
        publisher.store(&value(n)).await.expect("stored");
    }
    assert_eq!(publisher.stats().queued, count as usize);
    publisher.flush().await.expect("drained");
    publisher.stats()
}

#[test]
fn mqtt5_a_backlog_of_200_drains_with_window_4_each_once_in_order() {
    const COUNT: u32 = 200;
    let broker = TestBroker::start();
    let subscriber = broker.subscribe(TOPIC);
    let options = MqttOptions::new("window5-200")
        .with_timeout_ms(5_000)
        .with_window(4);
    let receiver = receive_numbers(subscriber, COUNT as usize);
    let stats = common::with_mqtt5(broker.port(Version::V5), options, async |mqtt| {
        assert_eq!(mqtt.window(), 4);
        store_and_flush(mqtt, COUNT, None).await
    });
    assert_eq!(stats.published, COUNT);
    assert_eq!(stats.queued, 0);
    let numbers = receiver.join().expect("receiver");
    assert_eq!(numbers, (1..=COUNT).collect::<Vec<_>>());
}

/// Watches `subscriber` on another thread until it saw every number of 1..=`count`; once it
/// has seen 50 messages it stops the broker and starts it again 100 ms later. Returns the
/// numbers in order of arrival and whether the restart happened.
fn restart_after_50(
    broker: &Arc<Mutex<TestBroker>>,
    mut subscriber: common::Subscriber,
    count: u32,
) -> (thread::JoinHandle<Vec<u32>>, Arc<AtomicBool>) {
    let restarted = Arc::new(AtomicBool::new(false));
    let watcher = {
        let broker = Arc::clone(broker);
        let restarted = Arc::clone(&restarted);
        thread::spawn(move || {
            let mut received = Vec::new();
            let deadline = Instant::now() + PATIENCE;
            while !(1..=count).all(|n| received.contains(&n)) {
                let wait = deadline.saturating_duration_since(Instant::now());
                let Some(message) = subscriber.next_within(wait) else {
                    break;
                };
                assert_eq!(message.qos, 1);
                let n: u32 = String::from_utf8(message.payload).unwrap().parse().unwrap();
                received.push(n);
                if received.len() == 50 {
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
    (watcher, restarted)
}

/// The broker is stopped from another thread once the subscriber has seen 50 messages, with
/// up to 4 in flight, and comes back 100 ms later: nothing is lost, the order of first
/// arrival is kept, and at most the window's 4 messages are repeated.
#[test]
fn a_broker_restart_mid_drain_loses_nothing_and_keeps_the_order() {
    const COUNT: u32 = 200;
    const WINDOW: usize = 4;
    let broker = Arc::new(Mutex::new(TestBroker::start()));
    let subscriber = broker.lock().unwrap().subscribe(TOPIC);
    let port = broker.lock().unwrap().port(Version::V311);
    let (watcher, restarted) = restart_after_50(&broker, subscriber, COUNT);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("window-restart")
        .with_timeout_ms(2_000)
        .with_window(WINDOW);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    let stats = async_io::block_on(store_and_flush(mqtt, COUNT, None));
    let received = watcher.join().expect("watcher");
    assert!(restarted.load(Ordering::SeqCst), "never restarted");
    let (firsts, repeats) = first_arrivals(&received);
    assert_eq!(firsts, (1..=COUNT).collect::<Vec<_>>(), "{received:?}");
    assert!(repeats <= WINDOW, "{repeats} repeats: {received:?}");
    assert_eq!(stats.published, COUNT);
    assert_eq!(stats.dropped, 0);
    assert!(stats.reconnects >= 1);
}

/// As above over MQTT 5: minimq resends nothing of a lost connection (every connection is
/// a clean session), the queue resends the unacknowledged ones, in order.
#[test]
fn mqtt5_a_broker_restart_mid_drain_loses_nothing_and_keeps_the_order() {
    const COUNT: u32 = 200;
    const WINDOW: usize = 4;
    let broker = Arc::new(Mutex::new(TestBroker::start()));
    let subscriber = broker.lock().unwrap().subscribe(TOPIC);
    let port = broker.lock().unwrap().port(Version::V5);
    let (watcher, restarted) = restart_after_50(&broker, subscriber, COUNT);
    let options = MqttOptions::new("window5-restart")
        .with_timeout_ms(2_000)
        .with_window(WINDOW);
    let stats = common::with_mqtt5(port, options, async |mqtt| {
        store_and_flush(mqtt, COUNT, None).await
    });
    let received = watcher.join().expect("watcher");
    assert!(restarted.load(Ordering::SeqCst), "never restarted");
    let (firsts, repeats) = first_arrivals(&received);
    assert_eq!(firsts, (1..=COUNT).collect::<Vec<_>>(), "{received:?}");
    assert!(repeats <= WINDOW, "{repeats} repeats: {received:?}");
    assert_eq!(stats.published, COUNT);
    assert_eq!(stats.dropped, 0);
    assert!(stats.reconnects >= 1);
}

const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
/// MQTT 5 CONNACK: no session present, success, no properties.
const CONNACK5: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];
/// MQTT 5 CONNACK with the property Receive Maximum 2.
const CONNACK5_RECEIVE_MAXIMUM_2: [u8; 8] = [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x02];

/// A broker on one connection: answers CONNECT, waits until it has read `publishes` QoS 1
/// PUBLISHes (all in flight at once: a client with a window of 1 never sends the second),
/// then acknowledges the packet ids in `acks`' order and closes the connection. Returns the
/// port and a handle that yields the packet ids it read.
fn out_of_order_broker(
    connack: &'static [u8],
    publishes: usize,
    acks: &'static [u16],
    rejected: Option<u16>,
) -> (u16, thread::JoinHandle<Vec<u16>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut bytes = Vec::new();
        let mut ids = Vec::new();
        let mut connected = false;
        let mut chunk = [0u8; 1024];
        while ids.len() < publishes {
            let n = match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            bytes.extend_from_slice(&chunk[..n]);
            while let Some(len) = frame(&bytes) {
                let packet: Vec<u8> = bytes.drain(..len).collect();
                match packet[0] >> 4 {
                    1 if !connected => {
                        connected = true;
                        stream.write_all(connack).expect("CONNACK");
                    }
                    3 => ids.push(publish_id(&packet)),
                    _ => {}
                }
            }
        }
        for &id in acks {
            let [hi, lo] = id.to_be_bytes();
            if rejected == Some(id) {
                // MQTT 5: reason code 0x80, unspecified error.
                stream
                    .write_all(&[0x40, 0x03, hi, lo, 0x80])
                    .expect("PUBACK");
            } else {
                stream.write_all(&[0x40, 0x02, hi, lo]).expect("PUBACK");
            }
        }
        // Let the client read the acknowledgements before the connection goes.
        thread::sleep(Duration::from_millis(200));
        ids
    });
    (port, handle)
}

/// The packet id of a QoS 1 PUBLISH (MQTT 3.1.1 and 5: after the topic).
fn publish_id(packet: &[u8]) -> u16 {
    // Topic length, topic, then the packet id.
    let header = if packet[1] & 0x80 == 0 { 2 } else { 3 };
    let topic_len = usize::from(u16::from_be_bytes([packet[header], packet[header + 1]]));
    let at = header + 2 + topic_len;
    u16::from_be_bytes([packet[at], packet[at + 1]])
}

/// The length of the first whole MQTT packet in `bytes`, if it is all there.
fn frame(bytes: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for i in 1..5 {
        let byte = *bytes.get(i)?;
        remaining |= usize::from(byte & 0x7f) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            let total = i + 1 + remaining;
            return (bytes.len() >= total).then_some(total);
        }
    }
    None
}

/// Runs three stored messages against [`out_of_order_broker`] with a window of 3; the
/// broker goes away after its acknowledgements and does not come back (one attempt).
/// Returns the packet ids the broker read, the payloads still queued and the publisher's
/// `published` count.
fn three_against(acks: &'static [u16]) -> (Vec<u16>, Vec<String>, u32) {
    let (port, broker) = out_of_order_broker(&CONNACK, 3, acks, None);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("window-raw")
        .with_timeout_ms(1_000)
        .with_window(3);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    let (queued, published) = async_io::block_on(three_through(mqtt));
    let ids = broker.join().expect("broker");
    (ids, queued, published)
}

/// [`three_against`] over MQTT 5, `rejected` acknowledged with an error reason code.
fn three_against5(acks: &'static [u16], rejected: Option<u16>) -> (Vec<u16>, Vec<String>, u32) {
    let (port, broker) = out_of_order_broker(&CONNACK5, 3, acks, rejected);
    let options = MqttOptions::new("window5-raw")
        .with_timeout_ms(1_000)
        .with_window(3);
    let (queued, published) =
        common::with_mqtt5(port, options, async |mqtt| three_through(mqtt).await);
    let ids = broker.join().expect("broker");
    (ids, queued, published)
}

/// Stores three messages and flushes them through `transport` with one connection attempt;
/// returns the payloads still queued and the `published` count.
async fn three_through<T: Transport>(transport: T) -> (Vec<String>, u32)
where
    T::Error: core::fmt::Debug,
{
    let mut buf = [0u8; 64];
    let mut publisher = resilient(
        JsonSink::value(TOPIC).unwrap(),
        transport,
        &mut buf,
        Some(1),
    );
    for n in 1..=3 {
        publisher.store(&value(n)).await.expect("stored");
    }
    let result = publisher.flush().await;
    let mut queued = Vec::new();
    let queue = publisher.queue();
    for i in 0..queue.len() {
        let message = queue.iter().nth(i).expect("queued");
        queued.push(String::from_utf8_lossy(message.payload).into_owned());
    }
    if !queued.is_empty() {
        assert!(
            matches!(result, Err(ResilientError::GaveUp { .. })),
            "{result:?}"
        );
    }
    (queued, publisher.stats().published)
}

/// PUBACK 3, then 1, then the connection goes: only message 1 was delivered with every
/// message before it, so 2 and 3 stay queued (3's early acknowledgement does not remove 2).
#[test]
fn an_out_of_order_ack_removes_only_the_acknowledged_head() {
    let (ids, queued, published) = three_against(&[3, 1]);
    assert_eq!(ids, [1, 2, 3], "all three in flight at once");
    assert_eq!(queued, ["2", "3"]);
    assert_eq!(published, 1);
}

/// PUBACK 2, 3, then 1: the early acknowledgements are held until the head's comes, then
/// all three leave the queue.
#[test]
fn early_acks_are_held_until_the_head_is_acknowledged() {
    let (ids, queued, published) = three_against(&[2, 3, 1]);
    assert_eq!(ids, [1, 2, 3], "all three in flight at once");
    assert!(queued.is_empty(), "{queued:?}");
    assert_eq!(published, 3);
}

/// As [`an_out_of_order_ack_removes_only_the_acknowledged_head`], over MQTT 5.
#[test]
fn mqtt5_an_out_of_order_ack_removes_only_the_acknowledged_head() {
    let (ids, queued, published) = three_against5(&[3, 1], None);
    assert_eq!(ids, [1, 2, 3], "all three in flight at once");
    assert_eq!(queued, ["2", "3"]);
    assert_eq!(published, 1);
}

/// As [`early_acks_are_held_until_the_head_is_acknowledged`], over MQTT 5.
#[test]
fn mqtt5_early_acks_are_held_until_the_head_is_acknowledged() {
    let (ids, queued, published) = three_against5(&[2, 3, 1], None);
    assert_eq!(ids, [1, 2, 3], "all three in flight at once");
    assert!(queued.is_empty(), "{queued:?}");
    assert_eq!(published, 3);
}

/// PUBACK 1, then 2 with reason code 0x80, then 3: a refused message is not delivered, so
/// it stays queued, and so does every message after it.
#[test]
fn mqtt5_a_rejected_puback_keeps_its_message_queued() {
    let (ids, queued, published) = three_against5(&[1, 2, 3], Some(2));
    assert_eq!(ids, [1, 2, 3], "all three in flight at once");
    assert!(
        queued.ends_with(&["2".to_string(), "3".to_string()]),
        "{queued:?}"
    );
    assert_eq!(published as usize + queued.len(), 3);
}

/// A broker on one connection that holds its acknowledgements to count what is in flight:
/// it answers CONNECT with `connack`, reads PUBLISHes until `limit` are unacknowledged (or
/// all `total` came), then gives the client 300 ms to send more than it may, and
/// acknowledges the oldest; until all `total` were read and acknowledged. Returns the most
/// PUBLISHes it ever held unacknowledged.
fn holding_broker(
    connack: &'static [u8],
    limit: usize,
    total: usize,
) -> (u16, thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut bytes = Vec::new();
        let mut held = std::collections::VecDeque::<u16>::new();
        let (mut read, mut most) = (0, 0);
        let mut chunk = [0u8; 1024];
        loop {
            let full = held.len() >= limit || (read == total && !held.is_empty());
            // Full: only a client over its limit sends more now.
            let wait = if full {
                Duration::from_millis(300)
            } else {
                PATIENCE
            };
            stream.set_read_timeout(Some(wait)).expect("timeout");
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(_) if full => {
                    let [hi, lo] = held.pop_front().expect("held").to_be_bytes();
                    stream.write_all(&[0x40, 0x02, hi, lo]).expect("PUBACK");
                    if read == total && held.is_empty() {
                        break;
                    }
                }
                Err(e) => panic!("client went quiet: {e}"),
            }
            while let Some(len) = frame(&bytes) {
                let packet: Vec<u8> = bytes.drain(..len).collect();
                match packet[0] >> 4 {
                    1 => stream.write_all(connack).expect("CONNACK"),
                    3 => {
                        held.push_back(publish_id(&packet));
                        read += 1;
                        most = most.max(held.len());
                    }
                    _ => {}
                }
            }
        }
        // Let the client read the last acknowledgement before the connection goes.
        thread::sleep(Duration::from_millis(200));
        most
    });
    (port, handle)
}

/// Drains `total` messages over MQTT 5 with `window` against [`holding_broker`]; returns
/// the most messages the broker held unacknowledged.
fn most_in_flight5(connack: &'static [u8], window: usize, limit: usize, total: u32) -> usize {
    let (port, broker) = holding_broker(connack, limit, total as usize);
    let options = MqttOptions::new("window5-held")
        .with_timeout_ms(2_000)
        .with_window(window);
    let stats = common::with_mqtt5(port, options, async |mqtt| {
        assert_eq!(mqtt.window(), window.min(8));
        store_and_flush(mqtt, total, Some(2)).await
    });
    assert_eq!(stats.published, total);
    broker.join().expect("broker")
}

/// Window 3: three messages go out before the first PUBACK, never a fourth.
#[test]
fn mqtt5_the_window_is_filled_and_never_exceeded() {
    assert_eq!(most_in_flight5(&CONNACK5, 3, 3, 7), 3);
}

/// The transport itself keeps the window, whatever its caller does: with window 3, a
/// fourth `submit` waits for an acknowledgement; every message is reported once.
#[test]
fn mqtt5_a_submit_beyond_the_window_waits_for_an_acknowledgement() {
    let (port, broker) = holding_broker(&CONNACK5, 3, 4);
    let options = MqttOptions::new("window5-submit")
        .with_timeout_ms(2_000)
        .with_window(3);
    let mut ids = common::with_mqtt5(port, options, async |mqtt| {
        mqtt.connect().await.expect("connect");
        let message = sensorpub::Message::new(TOPIC, b"1").with_qos(QoS::AtLeastOnce);
        let mut submitted = Vec::new();
        for _ in 0..4 {
            submitted.push(mqtt.submit(&message).await.expect("submit"));
        }
        let mut acknowledged = Vec::new();
        for _ in 0..4 {
            acknowledged.push(mqtt.next_ack().await.expect("next_ack"));
        }
        assert_eq!(submitted, acknowledged, "each id once, oldest first");
        acknowledged
    });
    assert_eq!(broker.join().expect("broker"), 3);
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

/// Window 4 against a broker whose CONNACK says Receive Maximum 2: two in flight at most.
#[test]
fn mqtt5_the_brokers_receive_maximum_bounds_the_window() {
    assert_eq!(most_in_flight5(&CONNACK5_RECEIVE_MAXIMUM_2, 4, 2, 6), 2);
}

/// Window 16 over MQTT 5: minimq keeps 8 QoS 1 messages in flight at most, so the handle
/// says 8 and never sends a ninth before an acknowledgement.
#[test]
fn mqtt5_the_window_is_at_most_minimqs_eight() {
    assert_eq!(most_in_flight5(&CONNACK5, 16, 8, 12), 8);
}

/// `MqttOptions::with_window` clamps to 1..=MAX_WINDOW; the default is DEFAULT_WINDOW.
#[test]
fn the_window_option_is_clamped() {
    assert_eq!(MqttOptions::new("w").window(), MqttOptions::DEFAULT_WINDOW);
    assert_eq!(MqttOptions::new("w").with_window(0).window(), 1);
    assert_eq!(
        MqttOptions::new("w").with_window(1_000).window(),
        MqttOptions::MAX_WINDOW
    );
}

/// Drains 1,000 queued messages (topic 24 B + JSON payload 37 B) to the in-process broker
/// over MQTT 3.1.1 and MQTT 5 with windows 1, 4 and 16 (MQTT 5: at most minimq's 8),
/// `SENSORPUB_WINDOW_RUNS` runs each (default 5), interleaved, and prints the medians;
/// `SENSORPUB_WINDOW_PORT=1883` uses a broker already listening on 127.0.0.1 instead (both
/// protocols on that port, as mosquitto), `SENSORPUB_WINDOW_MQTT=311` or `=5` one protocol.
/// A benchmark, not a test: run it with
/// `SENSORPUB_WINDOW_RUNS=9 cargo test --test qos1_window backlog_drain_benchmark -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark; see BENCHMARKS.md"]
fn backlog_drain_benchmark() {
    const WINDOWS: [usize; 3] = [1, 4, MqttOptions::MAX_WINDOW];
    let runs: usize = std::env::var("SENSORPUB_WINDOW_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // SENSORPUB_WINDOW_PORT: a broker already listening on 127.0.0.1 (e.g. mosquitto).
    let external: Option<u16> = std::env::var("SENSORPUB_WINDOW_PORT")
        .ok()
        .and_then(|s| s.parse().ok());
    let versions: Vec<Version> = match std::env::var("SENSORPUB_WINDOW_MQTT").as_deref() {
        Ok("311") => vec![Version::V311],
        Ok("5") => vec![Version::V5],
        _ => vec![Version::V311, Version::V5],
    };
    let broker = external.is_none().then(TestBroker::start);
    let port = |version| {
        external
            .or_else(|| broker.as_ref().map(|b| b.port(version)))
            .expect("a broker")
    };
    let mut times: Vec<(Version, usize, Vec<f64>)> = versions
        .iter()
        .flat_map(|&v| WINDOWS.map(|w| (v, w, Vec::new())))
        .collect();
    for run in 0..runs {
        for (version, window, samples) in &mut times {
            let client_id = format!("window-bench-{version:?}-{window}-{run}");
            let options = MqttOptions::new(&client_id).with_window(*window);
            let elapsed_ms = match version {
                Version::V311 => {
                    let stack = Stack::default();
                    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
                    let broker = Broker::new("127.0.0.1", port(Version::V311));
                    let mqtt = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx);
                    async_io::block_on(drain_1000(mqtt))
                }
                Version::V5 => common::with_mqtt5(port(Version::V5), options, async |mqtt| {
                    drain_1000(mqtt).await
                }),
            };
            samples.push(elapsed_ms);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut window_1 = 0.0;
    for (version, window, samples) in &mut times {
        let m = median(samples);
        if *window == 1 {
            window_1 = m;
        }
        println!(
            "{version:?} window {window}: median {m:.1} ms to drain 1000 messages over {runs} runs, {:.2}x window 1 ({samples:.1?})",
            window_1 / m
        );
    }
}

/// Queues 1,000 messages of the benchmark, connects, and returns how many milliseconds the
/// drain took (the connect not counted).
async fn drain_1000<T: Transport>(transport: T) -> f64
where
    T::Error: core::fmt::Debug,
{
    const COUNT: usize = 1_000;
    const BENCH_TOPIC: &str = "sensorpub/window/bench";
    let sample: Sample<2> = Sample::from_readings(&[
        Reading::new(Quantity::Temperature, 21.53),
        Reading::new(Quantity::Humidity, 45.2),
    ])
    .expect("two readings");
    let mut buf = [0u8; 128];
    let publisher = Publisher::new(
        NoSensor,
        JsonSink::object(BENCH_TOPIC).unwrap(),
        transport,
        HostClock(Instant::now()),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let mut publisher =
        ResilientPublisher::new(publisher, backoff(None), MessageQueue::<1024, 65536>::new());
    for _ in 0..COUNT {
        publisher.store(&sample).await.expect("stored");
    }
    let first = publisher.queue().iter().next().expect("queued");
    assert_eq!(first.payload.len(), 37);
    // Connect first, so the time is the drain's alone.
    publisher.transport_mut().connect().await.expect("connect");
    let start = Instant::now();
    publisher.flush().await.expect("drained");
    let elapsed_ms = start.elapsed().as_secs_f64() * 1_000.0;
    assert_eq!(publisher.stats().published, COUNT as u32);
    elapsed_ms
}
