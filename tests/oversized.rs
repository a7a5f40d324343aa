//! A message larger than the transport's buffers never holds up the outage queue, against a
//! real broker (rumqttd in this process, 127.0.0.1), over MQTT 5 and MQTT 3.1.1, with the
//! RAM and the flash-backed queue:
//! - a sample too large for the transport is refused when it is queued, with
//!   `ResilientError::TooLarge`; the queue is untouched and later samples are delivered;
//! - a queue that already holds one (written by a build with bigger buffers) at its head
//!   delivers the messages behind it, in order; the large one is dropped and counted in
//!   `Stats::unsendable`.

mod common;

use common::host::{Fixed, HostClock};
use common::{RawListener, Subscriber, TestBroker, Version};
use sensorpub::{
    Backoff, BackoffConfig, Broker, FlashQueue, JsonSink, Message, MessageQueue, Mqtt5,
    Mqtt5Buffers, Mqtt311, MqttError, MqttOptions, OutageQueue, Publisher, QoS, Quantity, Reading,
    ResilientError, ResilientPublisher, Sample, Transport,
};
use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/oversized/value";

/// Short waits, and few attempts: a publisher that took the large message for a broker
/// outage ends in `GaveUp` instead of retrying it for ever.
fn backoff() -> Backoff<Fixed> {
    let config = BackoffConfig::new(10, 50).and_then(|c| c.with_max_attempts(3));
    Backoff::new(config.expect("valid backoff"), Fixed)
}

/// The JSON key of the large sample: 290 bytes, so its payload is 296.
fn long_key() -> &'static str {
    Box::leak("k".repeat(290).into_boxed_str())
}

/// A sample whose JSON object is about 300 bytes: larger than 256-byte buffers.
fn large_sample() -> Sample<1> {
    let quantity = Quantity::Custom {
        name: long_key(),
        unit: "",
    };
    Sample::from_readings(&[Reading::new(quantity, 7.0)]).expect("one reading")
}

fn sample(n: u8) -> Sample<1> {
    Sample::from_readings(&[Reading::new(Quantity::Value, f32::from(n))]).expect("one reading")
}

/// What [`sample`]`(n)` becomes with `JsonSink::object`.
fn payload(n: u8) -> Vec<u8> {
    format!(r#"{{"value":{n}}}"#).into_bytes()
}

/// Every message the subscriber gets within a moment after `count` of them came.
fn received(subscriber: &mut Subscriber, count: usize) -> Vec<Vec<u8>> {
    let mut payloads = subscriber.payloads(count);
    while let Some(extra) = subscriber.next_within(Duration::from_millis(300)) {
        payloads.push(extra.payload);
    }
    payloads
}

/// Publishes sample 1, the large sample (refused with `TooLarge` at most `max` bytes,
/// before it is queued), samples 2 and 3, through `transport` with a RAM queue.
async fn refuse_then_deliver<T: Transport>(transport: T, max: usize)
where
    T::Error: core::fmt::Debug + PartialEq,
{
    assert_eq!(transport.max_message_len(), Some(max));
    let mut buf = [0u8; 512];
    let sink = JsonSink::object(TOPIC).expect("valid topic");
    let publisher = Publisher::new((), sink, transport, HostClock(Instant::now()), &mut buf)
        .with_qos(QoS::AtLeastOnce);
    let queue = MessageQueue::<8, 1024>::new();
    let mut node = ResilientPublisher::new(publisher, backoff(), queue);
    assert_eq!(node.publish(&sample(1)).await, Ok(1));
    let error = node.publish(&large_sample()).await.unwrap_err();
    let len = TOPIC.len() + long_key().len() + r#"{"":7}"#.len();
    assert_eq!(error, ResilientError::TooLarge { len, max });
    assert!(node.queue().is_empty(), "nothing of it was queued");
    for n in 2..=3 {
        assert_eq!(node.publish(&sample(n)).await, Ok(1));
    }
    node.flush().await.expect("the queue drains");
    let stats = node.stats();
    assert_eq!((stats.published, stats.unsendable, stats.queued), (3, 0, 0));
}

#[test]
fn mqtt5_refuses_a_sample_larger_than_its_buffers_before_queueing_it() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let mut buffers = Mqtt5Buffers::<256, 256, 256>::new();
    let options = MqttOptions::new("oversized-refused-5").with_timeout_ms(2_000);
    common::with_mqtt5_in(
        &mut buffers,
        broker.port(Version::V5),
        options,
        async |mqtt| {
            // The message buffer holds 256; minimq's 256-byte arena 248 of topic and payload.
            refuse_then_deliver(mqtt, 248).await;
        },
    );
    assert_eq!(
        received(&mut subscriber, 3),
        [payload(1), payload(2), payload(3)]
    );
}

#[test]
fn mqtt311_refuses_a_sample_larger_than_its_tx_buffer_before_queueing_it() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("oversized-refused-3").with_timeout_ms(2_000);
    let port = broker.port(Version::V311);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    // 256 bytes of PUBLISH: 1 byte of type, 2 of Remaining Length, 2 of topic length.
    async_io::block_on(refuse_then_deliver(mqtt, 251));
    assert_eq!(
        received(&mut subscriber, 3),
        [payload(1), payload(2), payload(3)]
    );
}

/// The messages an older build with bigger buffers left queued, oldest first: sample 1, the
/// large sample, samples 2 and 3 (QoS 1).
fn left_queued() -> Vec<(String, Vec<u8>)> {
    let large = format!(r#"{{"{}":7}}"#, long_key()).into_bytes();
    [payload(1), large, payload(2), payload(3)]
        .into_iter()
        .map(|payload| (TOPIC.to_owned(), payload))
        .collect()
}

async fn store_all<Q: OutageQueue>(queue: &mut Q) {
    for (topic, payload) in left_queued() {
        let message = Message::new(&topic, &payload).with_qos(QoS::AtLeastOnce);
        queue.store(&message, 0).await.expect("room in the queue");
    }
}

/// Drains `queue` (sample 1, the large sample, samples 2 and 3) through `transport`, then
/// publishes sample 4; returns the queue.
async fn drain<T: Transport, Q: OutageQueue>(transport: T, queue: Q, window: usize) -> Q
where
    T::Error: core::fmt::Debug,
{
    let mut buf = [0u8; 512];
    let sink = JsonSink::object(TOPIC).expect("valid topic");
    let publisher = Publisher::new((), sink, transport, HostClock(Instant::now()), &mut buf)
        .with_qos(QoS::AtLeastOnce);
    let mut node = ResilientPublisher::new(publisher, backoff(), queue).with_window(window);
    assert_eq!(node.queue().len(), 4);
    node.flush().await.expect("the queue drains");
    node.publish(&sample(4)).await.expect("queued");
    node.flush().await.expect("sample 4 goes out");
    let stats = node.stats();
    assert_eq!(stats.unsendable, 1, "{stats:?}");
    assert_eq!((stats.published, stats.queued, stats.dropped), (4, 0, 0));
    // The first connection only: the large message did not cost the connection.
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    let (_, _, queue) = node.into_parts();
    queue
}

/// What the subscriber must see after [`drain`]: samples 1 to 4, in order, once each.
fn delivered() -> Vec<Vec<u8>> {
    (1..=4).map(payload).collect()
}

/// Drains the queue [`left_queued`] describes, from RAM, over MQTT 5 in `buffers` with a
/// QoS 1 window of `window` (the transport's own permitting).
fn drain_mqtt5<const MESSAGE: usize>(
    buffers: &mut Mqtt5Buffers<256, 256, MESSAGE>,
    port: u16,
    window: usize,
) {
    let options = MqttOptions::new("oversized-ram-5")
        .with_timeout_ms(2_000)
        .with_window(window);
    common::with_mqtt5_in(buffers, port, options, async |mqtt: &mut Mqtt5<'_>| {
        let mut queue = MessageQueue::<8, 1024>::new();
        store_all(&mut queue).await;
        drain(mqtt, queue, window).await;
    });
}

#[test]
fn mqtt5_drains_a_ram_queue_past_a_message_larger_than_its_buffers() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let port = broker.port(Version::V5);
    for window in [1, 4] {
        // Refused by the handle: larger than the 256-byte message buffer.
        drain_mqtt5(&mut Mqtt5Buffers::<256, 256, 256>::new(), port, window);
        assert_eq!(received(&mut subscriber, 4), delivered(), "window {window}");
        // Copied to the runner (512-byte message buffer), refused by minimq: its arena is
        // 256 bytes.
        drain_mqtt5(&mut Mqtt5Buffers::<256, 256, 512>::new(), port, window);
        assert_eq!(received(&mut subscriber, 4), delivered(), "window {window}");
    }
}

/// Four pages of 4 KiB.
type Flash = MockFlashBase<4, 4, 1024>;

#[test]
fn mqtt311_drains_a_flash_queue_past_a_message_larger_than_its_tx_buffer() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let port = broker.port(Version::V311);
    // One message at a time, and a QoS 1 window of 4 (the large one behind one in flight).
    for window in [1, 4] {
        let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
        async_io::block_on(async {
            let mut queue = FlashQueue::<_, 512>::open(&mut flash, Flash::FULL_FLASH_RANGE)
                .await
                .expect("the queue opens");
            store_all(&mut queue).await;
        });
        let stack = Stack::default();
        let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
        let options = MqttOptions::new("oversized-flash-3")
            .with_timeout_ms(2_000)
            .with_window(window);
        let mqtt = Mqtt311::new(
            &stack,
            Broker::new("127.0.0.1", port),
            options,
            &mut tx,
            &mut rx,
        );
        async_io::block_on(async {
            // What the last run left on the flash.
            let queue = FlashQueue::<_, 512>::open(&mut flash, Flash::FULL_FLASH_RANGE)
                .await
                .expect("the queue opens");
            let queue = drain(mqtt, queue, window).await;
            assert!(queue.is_empty());
        });
        // The drop reached the flash: after a reboot, nothing is left.
        let reopened = async_io::block_on(FlashQueue::<_, 512>::open(
            &mut flash,
            Flash::FULL_FLASH_RANGE,
        ))
        .expect("the queue opens");
        assert_eq!(reopened.len(), 0, "window {window}");
        assert_eq!(received(&mut subscriber, 4), delivered(), "window {window}");
    }
}

#[test]
fn a_publish_that_times_out_is_not_taken_for_an_unsendable_message() {
    // CONNACK accepted (MQTT 3.1.1 §3.2), then silence: no PUBACK ever, on each connection.
    let listener = RawListener::start_for(&[0x20, 0x02, 0x00, 0x00], 3);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("oversized-timeout")
        .with_timeout_ms(2_000)
        .with_ack_timeout_ms(200);
    let broker = Broker::new("127.0.0.1", listener.port());
    let mqtt = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx);
    let mut buf = [0u8; 512];
    let sink = JsonSink::object(TOPIC).expect("valid topic");
    let publisher = Publisher::new((), sink, mqtt, HostClock(Instant::now()), &mut buf)
        .with_qos(QoS::AtLeastOnce);
    let config = BackoffConfig::new(10, 50).and_then(|c| c.with_max_attempts(1));
    let backoff = Backoff::new(config.expect("valid backoff"), Fixed);
    let mut node = ResilientPublisher::new(publisher, backoff, MessageQueue::<8, 1024>::new());
    let result = async_io::block_on(async {
        node.publish(&sample(1)).await?;
        node.flush().await
    });
    assert_eq!(
        result,
        Err(ResilientError::GaveUp {
            attempts: 1,
            last: MqttError::Timeout
        })
    );
    // Kept for the next attempt, not dropped.
    assert_eq!(node.queue().len(), 1);
    assert_eq!(node.stats().unsendable, 0);
}

/// The TLS transport's limit is its message buffer or its `tx` buffer, whichever is less.
#[cfg(feature = "tls")]
#[test]
fn mqtt311_tls_says_what_its_buffers_can_send() {
    use sensorpub::{Mqtt311Tls, Mqtt311TlsBuffers, TlsBuffers, TlsOptions};
    let stack = Stack::default();
    let broker = Broker::new("127.0.0.1", 8883);
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let options = MqttOptions::new("oversized-tls");
    let tls = TlsOptions::danger_unverified();
    {
        let mut buffers = Mqtt311TlsBuffers::<256, 64, 200>::new();
        let (mqtt, _runner) = Mqtt311Tls::new(
            &stack,
            broker,
            options,
            &mut buffers,
            tls,
            &mut tls_buffers,
            &mut rng,
        );
        assert_eq!(mqtt.max_message_len(), Some(200));
    }
    let mut buffers = Mqtt311TlsBuffers::<256, 64, 512>::new();
    let (mqtt, _runner) = Mqtt311Tls::new(
        &stack,
        broker,
        options,
        &mut buffers,
        tls,
        &mut tls_buffers,
        &mut rng,
    );
    // 256 bytes of PUBLISH, as for `Mqtt311`.
    assert_eq!(mqtt.max_message_len(), Some(251));
}
