//! The flash-backed outage queue over real MQTT 3.1.1 (rumqttd in this process, 127.0.0.1):
//! the broker goes away, the node keeps storing samples on (mock) NOR flash, reboots while
//! the broker is still away, reboots again with the power cut in the middle of the replay,
//! and once the broker is back every sample arrives, in order, at QoS 1, with the time it
//! was measured.

mod common;

use common::host::{Fixed, HostClock};
use common::{PATIENCE, Subscriber, TestBroker, Version};
use core::convert::Infallible;
use sensorpub::{
    Backoff, BackoffConfig, Broker, FlashQueue, JsonSink, Mqtt311, MqttOptions, Publisher, QoS,
    Quantity, QueueError, Reading, ResilientError, ResilientPublisher, Sample,
};
use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

/// Eight pages of 512 bytes.
type Flash = MockFlashBase<8, 4, 128>;

const TOPIC: &str = "sensorpub/flash/value";
const COUNT: usize = 12;
const FIRST_TIME: u64 = 1_764_000_000;

/// Sample `n`, measured a minute after sample `n - 1`.
fn sample(n: usize) -> Sample<1> {
    let mut sample = Sample::from_readings(&[Reading::new(Quantity::Value, n as f32)]).unwrap();
    sample.set_timestamp(Some(FIRST_TIME + 60 * n as u64));
    sample
}

fn expected(n: usize) -> Vec<u8> {
    format!(r#"{{"time":{},"value":{n}}}"#, FIRST_TIME + 60 * n as u64).into_bytes()
}

/// One boot of the node: opens the queue on `flash`, publishes `samples`, then, if
/// `drain`, waits until the queue is empty. Returns what the queue held when opened.
fn boot(
    flash: &mut Flash,
    port: u16,
    samples: core::ops::Range<usize>,
    drain: bool,
) -> Result<usize, ResilientError<Infallible, sensorpub::EncodeError, sensorpub::MqttError>> {
    let queue = async_io::block_on(FlashQueue::<_, 128>::open(flash, Flash::FULL_FLASH_RANGE))
        .expect("the queue opens");
    let stored = queue.len();
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    // One message in flight: the power cut then catches exactly one delivered message whose
    // removal did not reach the flash (a QoS 1 window would repeat up to W of them).
    let options = MqttOptions::new("flash-node")
        .with_timeout_ms(2_000)
        .with_window(1);
    let mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", port),
        options,
        &mut tx,
        &mut rx,
    );
    let mut buf = [0u8; 96];
    let sink = JsonSink::object(TOPIC).unwrap().with_time();
    let publisher = Publisher::new((), sink, mqtt, HostClock(Instant::now()), &mut buf)
        .with_qos(QoS::AtLeastOnce);
    let backoff = Backoff::new(BackoffConfig::new(10, 100).unwrap(), Fixed);
    let mut publisher = ResilientPublisher::new(publisher, backoff, queue);
    async_io::block_on(async {
        for n in samples {
            publisher.publish(&sample(n)).await?;
        }
        if drain {
            publisher.flush().await?;
            assert!(publisher.queue().is_empty());
        }
        Ok(stored)
    })
}

fn receive(subscriber: &mut Subscriber) -> Vec<usize> {
    let mut received = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while !(1..=COUNT).all(|n| received.contains(&n)) {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Some(message) = subscriber.next_within(wait) else {
            panic!("not every sample arrived; got {received:?}");
        };
        assert_eq!(message.qos, 1, "{message:?}");
        let n = (1..=COUNT)
            .find(|&n| message.payload == expected(n))
            .unwrap_or_else(|| panic!("unexpected payload {message:?}"));
        received.push(n);
    }
    received
}

#[test]
fn samples_stored_on_flash_survive_reboots_and_a_power_cut_while_the_broker_is_away() {
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let port = broker.port(Version::V311);
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);

    // Boot 1: samples 1-3 go out; the broker goes away; 4-7 are stored on flash; reset.
    assert_eq!(boot(&mut flash, port, 1..4, true), Ok(0));
    broker.stop();
    assert_eq!(boot(&mut flash, port, 4..8, false), Ok(0));
    // Boot 2, broker still away: 8-10 join the four on flash; reset before any goes out.
    assert_eq!(boot(&mut flash, port, 8..11, false), Ok(4));
    // Boot 3, broker back: the replay starts, and the power is cut a few bytes into it.
    broker.restart();
    // Each delivered message's removal writes one 4-byte word: the cut hits the fourth.
    flash.bytes_until_shutoff = Some(12);
    let cut = boot(&mut flash, port, 11..11, true);
    assert_eq!(cut, Err(ResilientError::Queue(QueueError::Flash)));
    // Boot 4: whatever is left goes out, then samples 11 and 12.
    let left = boot(&mut flash, port, 11..13, true).expect("the last boot drains the queue");
    assert!(
        left >= 1,
        "the cut came before the replay ended: {left} left"
    );

    let received = receive(&mut subscriber);
    let mut distinct = received.clone();
    distinct.dedup();
    let want: Vec<usize> = (1..=COUNT).collect();
    assert_eq!(distinct, want, "every sample, in order: {received:?}");
    let repeats = received.len() - distinct.len();
    assert!(
        repeats <= 1,
        "only the message the cut caught repeats: {received:?}"
    );
    assert_eq!(subscriber.next_within(Duration::from_millis(200)), None);
    eprintln!("{} messages received, {repeats} repeated", received.len());
}
