//! The resilient publisher against a [`MemoryTransport`] that drops and refuses connections,
//! on a simulated clock shared with the transport so the tests can see *when* things happen.

use super::*;
use crate::message::QoS;
use crate::publisher::{BackoffConfig, MessageQueue, PublishError, QueueError, Stage};
use crate::reading::{Quantity, Reading, Sample};
use crate::sensor::{MockError, MockSensor};
use crate::sink::{JsonSink, ThingSpeakSink};
use crate::transport::{MemoryError, MemoryTransport};
use crate::{Message, SimulatedClock};
use embassy_futures::block_on;
use std::cell::RefCell;
use std::rc::Rc;
use std::string::String;
use std::vec::Vec;

/// ThingSpeak's free-account update interval, 15 s, written out rather than taken from
/// `ThingSpeakSink::FREE_INTERVAL_MS`, so a wrong constant fails here.
const FREE_INTERVAL_MS: u64 = 15_000;

/// A [`SimulatedClock`] the publisher and the transport both read.
#[derive(Clone, Default)]
struct SharedClock(Rc<RefCell<SimulatedClock>>);

impl SharedClock {
    fn at_unix(unix_seconds: u64) -> Self {
        Self(Rc::new(RefCell::new(
            SimulatedClock::new().with_unix_time(unix_seconds),
        )))
    }

    fn now(&self) -> u64 {
        self.0.borrow_mut().now_ms()
    }
}

impl Clock for SharedClock {
    fn now_ms(&mut self) -> u64 {
        self.0.borrow_mut().now_ms()
    }

    fn unix_time(&mut self) -> Option<u64> {
        self.0.borrow_mut().unix_time()
    }
}

impl DelayNs for SharedClock {
    async fn delay_ns(&mut self, ns: u32) {
        let mut clock = self.0.borrow().clone();
        clock.delay_ns(ns).await;
        *self.0.borrow_mut() = clock;
    }
}

/// What the transport saw, with the time it saw it.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Connect {
        at_ms: u64,
        ok: bool,
    },
    Publish {
        at_ms: u64,
        payload: String,
        ok: bool,
    },
}

/// More events than any test here causes: a publisher looping without end fails the test
/// instead of hanging it.
const RUNAWAY: usize = 10_000;

/// A [`MemoryTransport`] that logs every connect and publish with the shared clock's time.
struct Logged {
    memory: MemoryTransport<64, 256>,
    clock: SharedClock,
    log: Vec<Event>,
    /// Polls left to fail, each closing the connection (a broker that hung up while idle).
    polls_to_fail: usize,
    polls: usize,
    /// Brokers in the list it fails over across, as the MQTT transports do: every connect
    /// that is not the first goes to the next one (a reconnect follows a failure).
    brokers: usize,
    broker: usize,
    connected_before: bool,
    /// What it reports as [`Transport::max_message_len`].
    max_len: Option<usize>,
    /// What it reports as [`Transport::window`].
    window: usize,
}

impl Logged {
    fn new(clock: &SharedClock) -> Self {
        Self {
            memory: MemoryTransport::new(),
            clock: clock.clone(),
            log: Vec::new(),
            polls_to_fail: 0,
            polls: 0,
            brokers: 1,
            broker: 0,
            connected_before: false,
            max_len: None,
            window: 1,
        }
    }

    fn connect_times(&self) -> Vec<u64> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Event::Connect { at_ms, .. } => Some(*at_ms),
                Event::Publish { .. } => None,
            })
            .collect()
    }

    /// `(time, payload)` of each publish the transport accepted.
    fn accepted(&self) -> Vec<(u64, String)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Event::Publish {
                    at_ms,
                    payload,
                    ok: true,
                } => Some((*at_ms, payload.clone())),
                _ => None,
            })
            .collect()
    }

    /// Payloads that reached the broker, failed acknowledgements included, in arrival order.
    fn received(&self) -> Vec<String> {
        self.memory
            .messages()
            .iter()
            .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
            .collect()
    }
}

impl Transport for Logged {
    type Error = MemoryError;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MemoryError> {
        assert!(self.log.len() < RUNAWAY, "the publisher loops without end");
        let at_ms = self.clock.now();
        let result = self.memory.publish(message).await;
        self.log.push(Event::Publish {
            at_ms,
            payload: String::from_utf8(message.payload.to_vec()).unwrap(),
            ok: result.is_ok(),
        });
        result
    }

    async fn connect(&mut self) -> Result<(), MemoryError> {
        assert!(self.log.len() < RUNAWAY, "the publisher loops without end");
        let at_ms = self.clock.now();
        if !self.memory.is_connected() {
            if self.connected_before {
                self.broker = (self.broker + 1) % self.brokers;
            }
            self.connected_before = true;
        }
        let result = self.memory.connect().await;
        self.log.push(Event::Connect {
            at_ms,
            ok: result.is_ok(),
        });
        result
    }

    fn is_connected(&self) -> bool {
        self.memory.is_connected()
    }

    fn broker_index(&self) -> usize {
        self.broker
    }

    fn max_message_len(&self) -> Option<usize> {
        self.max_len
    }

    fn is_permanent(&self, error: &MemoryError) -> bool {
        self.memory.is_permanent(error)
    }

    fn window(&self) -> usize {
        self.window
    }

    async fn poll(&mut self) -> Result<(), MemoryError> {
        self.polls += 1;
        if self.polls_to_fail > 0 {
            self.polls_to_fail -= 1;
            self.memory.disconnect();
            return Err(MemoryError::NotConnected);
        }
        Ok(())
    }
}

/// Always the same bits: with jitter 0 the waits are exact anyway.
struct Fixed;

impl rand_core::TryRng for Fixed {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(0);
        Ok(())
    }
}

/// Samples `1.0, 2.0, …, count` (payloads "1", "2", … with [`JsonSink::value`]).
fn numbered(count: usize) -> Vec<Result<Sample<1>, MockError>> {
    (1..=count)
        .map(|v| Ok(Sample::from_readings(&[Reading::new(Quantity::Value, v as f32)]).unwrap()))
        .collect()
}

fn strings(values: impl IntoIterator<Item = usize>) -> Vec<String> {
    values.into_iter().map(|v| std::format!("{v}")).collect()
}

/// Exact waits (no jitter): 100, 200, 400, 400, … ms, at most `attempts` of them.
fn exact_backoff(attempts: Option<u32>) -> Backoff<Fixed> {
    let config = BackoffConfig::new(100, 400)
        .and_then(|c| c.with_jitter_percent(0))
        .unwrap();
    let config = match attempts {
        Some(n) => config.with_max_attempts(n).unwrap(),
        None => config,
    };
    Backoff::new(config, Fixed)
}

type JsonPublisher<'b, 's, const MSGS: usize, const BYTES: usize> = ResilientPublisher<
    'b,
    MockSensor<'s, 1>,
    JsonSink<'static>,
    Logged,
    SharedClock,
    Fixed,
    MessageQueue<MSGS, BYTES>,
>;

fn json_publisher<'b, 's, const MSGS: usize, const BYTES: usize>(
    script: &'s [Result<Sample<1>, MockError>],
    buf: &'b mut [u8],
    clock: &SharedClock,
    attempts: Option<u32>,
) -> JsonPublisher<'b, 's, MSGS, BYTES> {
    let publisher = Publisher::new(
        MockSensor::new(script),
        JsonSink::value("apricot/value").unwrap(),
        Logged::new(clock),
        clock.clone(),
        buf,
    )
    .with_qos(QoS::AtLeastOnce);
    ResilientPublisher::new(publisher, exact_backoff(attempts), MessageQueue::new())
}

#[test]
fn while_connected_each_message_goes_out_at_once() {
    let clock = SharedClock::default();
    let script = numbered(2);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&script, &mut buf, &clock, None);
    assert_eq!(block_on(p.publish_once()), Ok(1));
    assert_eq!(p.transport().received(), strings([1]));
    assert_eq!(p.transport().memory.messages()[0].qos, QoS::AtLeastOnce);
    assert_eq!(
        p.stats(),
        Stats {
            published: 1,
            queued: 0,
            dropped: 0,
            reconnects: 0,
            broker: 0,
            switches: 0,
            unsendable: 0
        }
    );
}

#[test]
fn messages_made_during_an_outage_wait_in_the_queue_in_order() {
    let clock = SharedClock::default();
    let script = numbered(3);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<8, 256>(&script, &mut buf, &clock, None);
    p.transport_mut().memory.disconnect();
    p.transport_mut().memory.fail_connects(usize::MAX);
    for _ in 0..3 {
        assert_eq!(block_on(p.publish_once()), Ok(1));
    }
    let queued: Vec<&[u8]> = p.queue().iter().map(|m| m.payload).collect();
    assert_eq!(queued, [b"1", b"2", b"3"]);
    assert!(p.queue().iter().all(|m| m.qos == QoS::AtLeastOnce));
    assert_eq!(p.stats().queued, 3);
    assert_eq!(p.stats().published, 0);
    assert!(p.transport().received().is_empty());
}

#[test]
fn after_reconnect_the_backlog_goes_first_then_new_messages() {
    let clock = SharedClock::default();
    let script = numbered(6);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<8, 256>(&script, &mut buf, &clock, None);
    // "1" goes out, then the broker goes away for 5 connects (≈1.5 s of backoff) while a
    // sample is taken every 500 ms.
    p.transport_mut().memory.disconnect_after(1);
    p.transport_mut().memory.fail_connects(5);
    block_on(p.run_for(500, 6)).unwrap();
    let t = p.transport();
    assert_eq!(t.received(), strings(1..=6));
    // Some samples really waited: they went out after the sample that followed was taken.
    let accepted = t.accepted();
    assert!(accepted[1].0 >= 1_000, "{accepted:?}");
    assert_eq!(p.stats().reconnects, 1);
    assert_eq!(p.stats().published, 6);
    assert!(p.queue().is_empty());
}

#[test]
fn reconnects_follow_the_backoff_schedule_up_to_its_cap() {
    let clock = SharedClock::default();
    let script = numbered(1);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&script, &mut buf, &clock, None);
    p.transport_mut().memory.disconnect();
    p.transport_mut().memory.fail_connects(5);
    block_on(p.publish_once()).unwrap();
    block_on(p.flush()).unwrap();
    // Noticed "not connected": one attempt at once; then waits of 100, 200, 400 (cap), 400,
    // 400 ms after each refusal; the sixth connect is accepted.
    assert_eq!(
        p.transport().connect_times(),
        [0, 100, 300, 700, 1_100, 1_500]
    );
    assert_eq!(p.transport().accepted(), [(1_500, String::from("1"))]);
}

#[test]
fn a_broker_that_never_comes_back_ends_in_gave_up_with_the_queue_readable() {
    let clock = SharedClock::default();
    let script = numbered(3);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<8, 256>(&script, &mut buf, &clock, Some(3));
    // "1" is delivered, then the broker is gone for good.
    p.transport_mut().memory.disconnect_after(1);
    p.transport_mut().memory.fail_connects(usize::MAX);
    let error = block_on(p.run_for(100, 3)).unwrap_err();
    assert_eq!(
        error,
        ResilientError::GaveUp {
            attempts: 3,
            last: MemoryError::ConnectRefused
        }
    );
    assert_eq!(error.stage(), Stage::Transport);
    // One connect when the drop was noticed, then the three backoff attempts.
    assert_eq!(p.transport().connect_times().len(), 4);
    let queued: Vec<&[u8]> = p.queue().iter().map(|m| m.payload).collect();
    assert_eq!(queued, [b"2", b"3"]);
    assert_eq!(p.stats().published, 1);

    // The broker returns: the next call starts a fresh round and delivers the backlog.
    p.transport_mut().memory.fail_connects(0);
    block_on(p.flush()).unwrap();
    assert_eq!(p.transport().received(), strings(1..=3));
}

#[test]
fn a_broker_that_accepts_connects_but_fails_every_publish_also_runs_out_of_attempts() {
    let clock = SharedClock::default();
    let script = numbered(1);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&script, &mut buf, &clock, Some(4));
    p.transport_mut().memory.fail_next(usize::MAX);
    block_on(p.publish_once()).unwrap();
    let error = block_on(p.flush()).unwrap_err();
    assert_eq!(
        error,
        ResilientError::GaveUp {
            attempts: 4,
            last: MemoryError::Injected
        }
    );
    // Each successful connect did not reset the schedule: the waits still grew.
    assert_eq!(p.transport().connect_times(), [100, 300, 700, 1_100]);
    assert_eq!(p.queue().len(), 1);
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts_it() {
    let clock = SharedClock::default();
    let script = numbered(5);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<3, 256>(&script, &mut buf, &clock, None);
    p.transport_mut().memory.disconnect();
    p.transport_mut().memory.fail_connects(usize::MAX);
    for _ in 0..5 {
        block_on(p.publish_once()).unwrap();
    }
    assert_eq!(p.stats().dropped, 2);
    assert_eq!(p.stats().queued, 3);
    p.transport_mut().memory.fail_connects(0);
    block_on(p.flush()).unwrap();
    // The two oldest are gone, the three newest arrive in order.
    assert_eq!(p.transport().received(), strings(3..=5));
    assert_eq!(
        p.stats(),
        Stats {
            published: 3,
            queued: 0,
            dropped: 2,
            reconnects: 1,
            broker: 0,
            switches: 0,
            unsendable: 0
        }
    );
}

#[test]
fn a_qos1_message_whose_ack_was_lost_is_sent_again_after_reconnect() {
    let clock = SharedClock::default();
    let script = numbered(3);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<8, 256>(&script, &mut buf, &clock, None);
    block_on(p.publish_once()).unwrap();
    // "2" reaches the broker, but the connection dies before its PUBACK.
    p.transport_mut().memory.lose_acks(1);
    block_on(p.publish_once()).unwrap();
    assert_eq!(p.queue().front().map(|m| m.payload), Some(&b"2"[..]));
    block_on(p.publish_once()).unwrap();
    block_on(p.flush()).unwrap();
    // At least once: every payload arrived, "2" twice; the publisher counted it once.
    assert_eq!(p.transport().received(), ["1", "2", "2", "3"]);
    assert_eq!(p.stats().published, 3);
    assert_eq!(p.stats().reconnects, 1);
}

#[test]
fn sensor_errors_queue_nothing() {
    let clock = SharedClock::default();
    let script = [Err(MockError::Scripted(9))];
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&script, &mut buf, &clock, None);
    let error = block_on(p.publish_once()).unwrap_err();
    assert_eq!(error, ResilientError::Sensor(MockError::Scripted(9)));
    assert!(p.queue().is_empty());
}

#[test]
fn a_message_larger_than_the_whole_queue_is_a_queue_error() {
    let clock = SharedClock::default();
    let script = numbered(1);
    let mut buf = [0u8; 64];
    // "apricot/value" alone is 13 bytes.
    let mut p = json_publisher::<4, 8>(&script, &mut buf, &clock, None);
    let error = block_on(p.publish_once()).unwrap_err();
    assert_eq!(
        error,
        ResilientError::Queue(QueueError::TooLarge {
            len: 14,
            capacity: 8
        })
    );
    assert_eq!(error.stage(), Stage::Queue);
}

fn value(v: f32) -> Sample<1> {
    Sample::from_readings(&[Reading::new(Quantity::Value, v)]).unwrap()
}

#[test]
fn a_message_longer_than_the_transport_can_send_is_refused_before_it_is_queued() {
    let clock = SharedClock::default();
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&[], &mut buf, &clock, None);
    // "apricot/value" and "1" are 14 bytes: the longest the transport takes.
    p.transport_mut().max_len = Some(14);
    assert_eq!(block_on(p.publish(&value(1.0))), Ok(1));
    let error = block_on(p.publish(&value(10.0))).unwrap_err();
    assert_eq!(error, ResilientError::TooLarge { len: 15, max: 14 });
    assert_eq!(error.stage(), Stage::Transport);
    assert!(p.queue().is_empty());
    // Storing without sending refuses it too.
    let error = block_on(p.store(&value(11.0))).unwrap_err();
    assert_eq!(error, ResilientError::TooLarge { len: 15, max: 14 });
    assert!(p.queue().is_empty());
    assert_eq!(block_on(p.publish(&value(2.0))), Ok(1));
    assert_eq!(p.transport().received(), strings([1, 2]));
    // Never tried, so never counted as unsendable.
    assert_eq!(p.stats().unsendable, 0);
    assert_eq!(p.stats().published, 2);
}

/// A queue as an older build with bigger buffers left it: "1", a message too large for the
/// transport (a 300-byte payload; it records at most 256), "2", "3".
fn queue_with_an_unsendable_message() -> MessageQueue<8, 1024> {
    let mut queue = MessageQueue::new();
    let big = [b'9'; 300];
    for payload in [&b"1"[..], &big, b"2", b"3"] {
        let message = Message::new("apricot/value", payload).with_qos(QoS::AtLeastOnce);
        queue.push(&message).unwrap();
    }
    queue
}

#[test]
fn a_queued_message_the_transport_can_never_send_is_dropped_and_counted() {
    for window in [1, 4] {
        let clock = SharedClock::default();
        let mut buf = [0u8; 64];
        let publisher = Publisher::new(
            (),
            JsonSink::value("apricot/value").unwrap(),
            Logged::new(&clock),
            clock.clone(),
            &mut buf,
        )
        .with_qos(QoS::AtLeastOnce);
        let backoff = exact_backoff(Some(3));
        let queue = queue_with_an_unsendable_message();
        let mut p = ResilientPublisher::new(publisher, backoff, queue).with_window(4);
        p.transport_mut().window = window;
        block_on(p.flush()).unwrap();
        assert_eq!(p.transport().received(), strings(1..=3), "window {window}");
        assert_eq!(p.stats().unsendable, 1);
        // Refused behind "1" in flight, a message is tried again alone before it is dropped
        // (it may only have lacked room); refused alone, it is dropped at once.
        let tries = p.transport().log.iter().filter(
            |e| matches!(e, Event::Publish { payload, ok: false, .. } if payload.len() == 300),
        );
        assert_eq!(tries.count(), if window == 1 { 1 } else { 2 });
        assert_eq!(p.stats().published, 3);
        assert_eq!(p.stats().dropped, 0);
        // No reconnection for it: the connection was never in doubt.
        assert_eq!(p.stats().reconnects, 0);
        assert_eq!(p.transport().connect_times(), Vec::<u64>::new());
        // Later samples go straight out.
        block_on(p.publish(&value(4.0))).unwrap();
        assert_eq!(p.transport().received(), strings(1..=4));
    }
}

/// A QoS 1 window of 4 whose transport, like a runner that answers every error alike,
/// forgets the messages in flight when it refuses one: their acknowledgements never come,
/// and `next_ack` fails until the next connect.
struct Forgetful {
    memory: MemoryTransport<64, 256>,
    in_flight: std::collections::VecDeque<u16>,
    last_id: u16,
}

impl Transport for Forgetful {
    type Error = MemoryError;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MemoryError> {
        self.memory.publish(message).await
    }

    async fn connect(&mut self) -> Result<(), MemoryError> {
        self.in_flight.clear();
        self.memory.connect().await
    }

    fn window(&self) -> usize {
        4
    }

    async fn submit(&mut self, message: &Message<'_>) -> Result<u16, MemoryError> {
        assert!(
            self.memory.attempts() < RUNAWAY,
            "the publisher loops without end"
        );
        if let Err(error) = self.memory.publish(message).await {
            self.in_flight.clear();
            return Err(error);
        }
        self.last_id += 1;
        self.in_flight.push_back(self.last_id);
        Ok(self.last_id)
    }

    async fn next_ack(&mut self) -> Result<u16, MemoryError> {
        self.in_flight.pop_front().ok_or(MemoryError::NotConnected)
    }

    fn is_permanent(&self, error: &MemoryError) -> bool {
        self.memory.is_permanent(error)
    }
}

#[test]
fn a_transport_that_forgets_its_window_on_a_refusal_still_gets_past_the_message() {
    let mut buf = [0u8; 64];
    let transport = Forgetful {
        memory: MemoryTransport::new(),
        in_flight: std::collections::VecDeque::new(),
        last_id: 0,
    };
    let sink = JsonSink::value("apricot/value").unwrap();
    let publisher = Publisher::new((), sink, transport, SimulatedClock::new(), &mut buf)
        .with_qos(QoS::AtLeastOnce);
    let queue = queue_with_an_unsendable_message();
    let mut p = ResilientPublisher::new(publisher, exact_backoff(Some(3)), queue);
    block_on(p.flush()).unwrap();
    let received: Vec<&[u8]> = p
        .transport()
        .memory
        .messages()
        .iter()
        .map(|m| &m.payload[..])
        .collect();
    // "1" was in flight when the large one was refused: sent again after the reconnect, alone
    // (at least once); the large one then alone, refused and dropped; "2", "3" in a window.
    assert_eq!(received, [b"1", b"1", b"2", b"3"]);
    assert_eq!(p.stats().unsendable, 1);
    assert_eq!(p.stats().published, 3);
    assert_eq!(p.stats().reconnects, 1);
}

#[test]
fn a_transient_failure_is_not_taken_for_an_unsendable_message() {
    let clock = SharedClock::default();
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<8, 256>(&[], &mut buf, &clock, None);
    // "1" fails twice (a publish error, then a PUBACK lost with the connection); the broker
    // then refuses two connects.
    p.transport_mut().memory.fail_next(1);
    block_on(p.publish(&value(1.0))).unwrap();
    p.transport_mut().memory.lose_acks(1);
    p.transport_mut().memory.fail_connects(2);
    block_on(p.publish(&value(2.0))).unwrap();
    block_on(p.flush()).unwrap();
    // Nothing dropped: "1" arrived twice (at least once), "2" once.
    assert_eq!(p.transport().received(), ["1", "1", "2"]);
    assert_eq!(p.stats().unsendable, 0);
    assert_eq!(p.stats().published, 2);
}

/// 2023-11-14T22:13:20Z.
const UNIX_START: u64 = 1_700_000_000;

fn created_at(payload: &str) -> String {
    form_urlencoded::parse(payload.as_bytes())
        .find(|(k, _)| k == "created_at")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[test]
fn a_thingspeak_backlog_is_replayed_at_the_channel_pace_and_keeps_its_timestamps() {
    let clock = SharedClock::at_unix(UNIX_START);
    let script = numbered(6);
    let mut buf = [0u8; 128];
    let sink = ThingSpeakSink::new(42, &[(1, Quantity::Value)]).unwrap();
    let publisher = Publisher::new(
        MockSensor::new(&script),
        sink,
        Logged::new(&clock),
        clock.clone(),
        &mut buf,
    );
    let backoff = Backoff::new(
        BackoffConfig::new(1_000, 8_000)
            .and_then(|c| c.with_jitter_percent(0))
            .unwrap(),
        Fixed,
    );
    let mut p = ResilientPublisher::new(publisher, backoff, MessageQueue::<8, 1024>::new());
    // Field 1 is delivered, then the broker is away for about a minute (1+2+4+8+8+8+8+8+8 s
    // of backoff) while a sample is taken every 15 s.
    p.transport_mut().memory.disconnect_after(1);
    p.transport_mut().memory.fail_connects(9);
    block_on(p.run_for(15_000, 6)).unwrap();

    let accepted = p.transport().accepted();
    let fields: Vec<String> = accepted
        .iter()
        .map(|(_, payload)| {
            form_urlencoded::parse(payload.as_bytes())
                .find(|(k, _)| k == "field1")
                .map(|(_, v)| v.into_owned())
                .unwrap()
        })
        .collect();
    assert_eq!(fields, strings(1..=6));
    // Nothing reached the broker early: at least 15 s between any two channel updates,
    // replays included.
    for pair in accepted.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= FREE_INTERVAL_MS,
            "updates too close: {accepted:?}"
        );
    }
    // The backlog really was replayed late…
    assert!(accepted[1].0 > 30_000, "{accepted:?}");
    // …yet every update carries the time its sample was taken, every 15 s from the start.
    let stamps: Vec<String> = accepted.iter().map(|(_, p)| created_at(p)).collect();
    assert_eq!(
        stamps,
        [
            "2023-11-14T22:13:20Z",
            "2023-11-14T22:13:35Z",
            "2023-11-14T22:13:50Z",
            "2023-11-14T22:14:05Z",
            "2023-11-14T22:14:20Z",
            "2023-11-14T22:14:35Z",
        ]
    );
    assert_eq!(p.stats().dropped, 0);
}

#[test]
fn publish_once_still_waits_out_the_sink_rate_limit() {
    let clock = SharedClock::default();
    let script = numbered(2);
    let mut buf = [0u8; 128];
    let sink = ThingSpeakSink::new(42, &[(1, Quantity::Value)]).unwrap();
    let publisher = Publisher::new(
        MockSensor::new(&script),
        sink,
        Logged::new(&clock),
        clock.clone(),
        &mut buf,
    );
    let mut p = ResilientPublisher::new(
        publisher,
        exact_backoff(None),
        MessageQueue::<4, 512>::new(),
    );
    block_on(p.publish_once()).unwrap();
    block_on(p.publish_once()).unwrap();
    let times: Vec<u64> = p.transport().accepted().iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [0, FREE_INTERVAL_MS]);
}

#[test]
fn a_connection_closed_while_idle_is_noticed_by_poll_and_reopened_before_sending() {
    let clock = SharedClock::default();
    let script = numbered(2);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&script, &mut buf, &clock, None);
    block_on(p.publish_once()).unwrap();
    assert_eq!(p.transport().polls, 1);
    // The broker hung up while we waited for the next sample.
    p.transport_mut().polls_to_fail = 1;
    block_on(p.publish_once()).unwrap();
    block_on(p.flush()).unwrap();
    // "2" was never written into the dead connection: one publish each, after a reconnect.
    let publishes = p
        .transport()
        .log
        .iter()
        .filter(|e| matches!(e, Event::Publish { .. }))
        .count();
    assert_eq!(publishes, 2);
    assert_eq!(p.transport().connect_times(), [100]);
    assert_eq!(p.transport().received(), strings(1..=2));
}

#[test]
fn publish_queues_a_sample_read_once_for_two_destinations() {
    let clock = SharedClock::at_unix(UNIX_START);
    let sample: Sample<2> = Sample::from_readings(&[Reading::new(Quantity::Value, 7.0)]).unwrap();
    let (mut json_buf, mut ts_buf) = ([0u8; 64], [0u8; 128]);
    let mut json = ResilientPublisher::new(
        Publisher::new(
            (),
            JsonSink::value("apricot/value").unwrap(),
            Logged::new(&clock),
            clock.clone(),
            &mut json_buf,
        )
        .with_qos(QoS::AtLeastOnce),
        exact_backoff(None),
        MessageQueue::<4, 128>::new(),
    );
    let mut thingspeak = ResilientPublisher::new(
        Publisher::new(
            (),
            ThingSpeakSink::new(42, &[(1, Quantity::Value)]).unwrap(),
            Logged::new(&clock),
            clock.clone(),
            &mut ts_buf,
        ),
        exact_backoff(None),
        MessageQueue::<4, 512>::new(),
    );
    // The JSON broker is away: its copy waits in the queue; ThingSpeak's goes out.
    json.transport_mut().memory.disconnect();
    json.transport_mut().memory.fail_connects(usize::MAX);
    assert_eq!(block_on(json.publish(&sample)), Ok(1));
    assert_eq!(block_on(thingspeak.publish(&sample)), Ok(1));
    let queued: Vec<&[u8]> = json.queue().iter().map(|m| m.payload).collect();
    assert_eq!(queued, [b"7"]);
    assert_eq!(json.queue().front().map(|m| m.qos), Some(QoS::AtLeastOnce));
    let sent = thingspeak.transport().accepted();
    assert_eq!(sent.len(), 1);
    assert_eq!(created_at(&sent[0].1), "2023-11-14T22:13:20Z");
    assert_eq!(sample.timestamp(), None);
    // The channel's next update is 15 s away: a caller can skip instead of waiting.
    assert_eq!(thingspeak.ready_in_ms(), 15_000);

    json.transport_mut().memory.fail_connects(0);
    block_on(json.flush()).unwrap();
    assert_eq!(json.transport().received(), strings([7]));
}

#[test]
fn into_parts_hands_back_the_publisher_backoff_and_undelivered_queue() {
    let clock = SharedClock::default();
    let script = numbered(3);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<8, 256>(&script, &mut buf, &clock, Some(2));
    p.transport_mut().memory.disconnect();
    p.transport_mut().memory.fail_connects(usize::MAX);
    block_on(p.publish_once()).unwrap();
    block_on(p.publish_once()).unwrap();
    let stats = p.stats();
    assert_eq!(stats.queued, 2);
    let (mut publisher, backoff, queue) = p.into_parts();
    // The undelivered messages, in order, with their QoS.
    let queued: Vec<(&[u8], QoS)> = queue.iter().map(|m| (m.payload, m.qos)).collect();
    assert_eq!(
        queued,
        [(&b"1"[..], QoS::AtLeastOnce), (&b"2"[..], QoS::AtLeastOnce)]
    );
    // The backoff keeps its count: the immediate attempt cost none, the failure one.
    assert_eq!(backoff.attempts(), 1);
    // The publisher keeps its sensor position and settings: the next read is "3".
    assert_eq!(
        block_on(publisher.publish_once()),
        Err(PublishError::Transport(MemoryError::NotConnected))
    );
    assert_eq!(publisher.sensor().reads(), 3);

    // Put back together, the queue is delivered once the broker returns.
    let mut p = ResilientPublisher::new(publisher, backoff, queue);
    p.transport_mut().memory.fail_connects(0);
    block_on(p.flush()).unwrap();
    assert_eq!(p.transport().received(), strings(1..=2));
}

#[test]
fn a_thingspeak_backlog_on_flash_is_replayed_after_a_reboot_at_the_pace_and_with_its_times() {
    use crate::publisher::FlashQueue;
    use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};
    type Flash = MockFlashBase<4, 4, 128>;
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
    let clock = SharedClock::at_unix(UNIX_START);
    let sink = || ThingSpeakSink::new(42, &[(1, Quantity::Value)]).unwrap();
    fn open(flash: &mut Flash) -> Result<FlashQueue<&mut Flash, 160>, QueueError> {
        block_on(FlashQueue::open(flash, Flash::FULL_FLASH_RANGE))
    }

    // Boot 1: the broker is away; four samples, 15 s apart, are stored on flash; reset.
    let script = numbered(4);
    {
        let mut buf = [0u8; 128];
        let publisher = Publisher::new(
            MockSensor::new(&script),
            sink(),
            Logged::new(&clock),
            clock.clone(),
            &mut buf,
        );
        let mut p =
            ResilientPublisher::new(publisher, exact_backoff(None), open(&mut flash).unwrap());
        p.transport_mut().memory.disconnect();
        p.transport_mut().memory.fail_connects(usize::MAX);
        // One sample every 15 s (the sensor is read, and the sample stamped, on the period).
        for _ in 0..4 {
            block_on(p.publish_once()).unwrap();
            clock.0.borrow().advance_ms(FREE_INTERVAL_MS);
        }
        assert!(p.transport().accepted().is_empty());
        assert_eq!(p.stats().queued, 4);
    }
    // A minute later, boot 2 with the broker back: the backlog goes first, at the pace.
    clock.0.borrow().advance_ms(60_000);
    let mut buf = [0u8; 128];
    let publisher = Publisher::new((), sink(), Logged::new(&clock), clock.clone(), &mut buf);
    let queue = open(&mut flash).unwrap();
    assert_eq!(queue.len(), 4);
    let mut p = ResilientPublisher::new(publisher, exact_backoff(None), queue);
    block_on(p.flush()).unwrap();
    let accepted = p.transport().accepted();
    assert_eq!(accepted.len(), 4, "{accepted:?}");
    for pair in accepted.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= FREE_INTERVAL_MS,
            "updates too close: {accepted:?}"
        );
    }
    let stamps: Vec<String> = accepted.iter().map(|(_, p)| created_at(p)).collect();
    assert_eq!(
        stamps,
        [
            "2023-11-14T22:13:20Z",
            "2023-11-14T22:13:35Z",
            "2023-11-14T22:13:50Z",
            "2023-11-14T22:14:05Z",
        ]
    );
    assert_eq!(p.stats().queued, 0);
    assert_eq!(
        open(&mut flash).map(|q| q.len()),
        Ok(0),
        "nothing left on flash"
    );
}

#[test]
fn stats_say_which_broker_is_in_use_and_count_the_switches() {
    let clock = SharedClock::default();
    let script = numbered(3);
    let mut buf = [0u8; 64];
    let mut p = json_publisher::<4, 128>(&script, &mut buf, &clock, None);
    p.transport_mut().brokers = 3;
    p.transport_mut().connected_before = true;
    block_on(p.publish_once()).unwrap();
    assert_eq!((p.stats().broker, p.stats().switches), (0, 0));

    // Lost; broker 1 refuses, broker 2 serves: one switch, to 2.
    p.transport_mut().memory.disconnect();
    p.transport_mut().memory.fail_connects(1);
    block_on(p.publish_once()).unwrap();
    block_on(p.flush()).unwrap();
    assert_eq!((p.stats().broker, p.stats().switches), (2, 1));

    // Lost again; broker 0 (round robin) serves: the second switch.
    p.transport_mut().memory.disconnect();
    block_on(p.publish_once()).unwrap();
    block_on(p.flush()).unwrap();
    assert_eq!(p.transport().received(), strings(1..=3));
    assert_eq!(
        p.stats(),
        Stats {
            published: 3,
            queued: 0,
            dropped: 0,
            reconnects: 2,
            broker: 0,
            switches: 2,
            unsendable: 0
        }
    );
}
