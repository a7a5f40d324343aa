//! [`ResilientPublisher`]: a [`Publisher`] that lives through broker outages.
//!
//! It is the `Publisher`'s own publish path with a different end ([`Recovery`], an
//! [`Outlet`]): the queue, the reconnection schedule and the pacing of replays live here;
//! reading, stamping, encoding and the run loops are the `Publisher`'s.
//!
//! Every encoded message goes into an [`OutageQueue`] first (a RAM
//! [`MessageQueue`](super::MessageQueue) or a flash-backed [`FlashQueue`](super::FlashQueue))
//! and leaves it only when the
//! transport returns `Ok` (QoS 1: the broker acknowledged it), or an error it calls
//! permanent for that message ([`Transport::is_permanent`]: counted, see
//! [`ResilientPublisher`]). While the broker is away the
//! publisher keeps sampling into the queue and reconnects on a [`Backoff`] schedule; once
//! back, it sends the queue in order, oldest first, before anything newer.
//!
//! The state machine, driven by the clock (never by a busy loop):
//!
//! ```text
//! Up   ── publish Ok ─────────────────────▶ Up: message popped, backoff reset
//! Up   ── publish Err, permanent ─────────▶ Up: message dropped, counted (unsendable)
//! Up   ── publish or poll Err ────────────▶ Down { retry_at: now + next backoff wait }
//! Up   ── transport says not connected ───▶ Down { retry_at: now }
//! Down ── at retry_at, connect Ok ────────▶ Up: the queue is sent, oldest first
//! Down ── at retry_at, connect Err ───────▶ Down { retry_at: now + next backoff wait }
//! any failure with no backoff wait left ──▶ ResilientError::GaveUp; queue kept, backoff reset,
//!                                           Down { retry_at: now } (the next call retries)
//! ```

use super::backoff::Backoff;
use super::outlet::{Outlet, delay_ms};
use super::queue::{OutageQueue, QueueError};
use super::{PublishError, Publisher, Stage};
use crate::clock::Clock;
use crate::message::{Message, QoS};
use crate::reading::Sample;
use crate::sensor::Sensor;
use crate::sink::Sink;
use crate::transport::{MqttOptions, Transport};
use core::convert::Infallible;
use core::fmt;
use embedded_hal_async::delay::DelayNs;
use rand_core::Rng;

/// Whether the publisher believes the broker is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Connected: queued messages may go out.
    Up,
    /// Away: the next connection attempt is due at `retry_at_ms` (monotonic clock).
    Down { retry_at_ms: u64 },
}

/// What a [`ResilientPublisher`] has done, since it was built. Non-exhaustive: read the
/// fields; [`Stats::default`] gives all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Messages the transport accepted (QoS 1: acknowledged by the broker). A message sent
    /// again after a lost acknowledgement counts once, when it is finally accepted.
    pub published: u32,
    /// Messages waiting in the queue now.
    pub queued: usize,
    /// Messages dropped, oldest first, because the queue was full.
    pub dropped: u32,
    /// Connections the publisher opened after the transport failed or reported it was not
    /// connected (a transport handed over unconnected counts its first connect here too).
    pub reconnects: u32,
    /// The broker of the last connection: its index in the transport's list (0: the broker
    /// the transport was built with, `i`: fallback `i - 1`; see
    /// [`MqttOptions::with_fallbacks`](crate::MqttOptions::with_fallbacks) and
    /// [`Transport::broker_index`]).
    pub broker: usize,
    /// Connections opened to another broker than the one before (failovers; a first
    /// connection counts when it is not to broker 0).
    pub switches: u32,
    /// Messages dropped from the queue because the transport can never send them
    /// ([`Transport::is_permanent`]: e.g. larger than its buffers, stored by a build with
    /// bigger ones), so that the messages behind them go out.
    pub unsendable: u32,
}

/// A [`ResilientPublisher`]'s publish failed; says at which stage and keeps the underlying
/// error. There is no transport variant: a transport failure is ridden out, and reported
/// only as [`GaveUp`](Self::GaveUp) when the attempts run out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ResilientError<SE, KE, TE> {
    /// The sensor failed; nothing was queued.
    Sensor(SE),
    /// The sink could not encode the sample; messages of the sample before this one were
    /// queued.
    Encode(KE),
    /// A message could not be queued (larger than the whole queue); messages of the sample
    /// before this one were queued. With a [`FlashQueue`](super::FlashQueue), also a flash
    /// failure while storing, reading or removing a message ([`QueueError::Flash`]: e.g. the
    /// power going): what was stored stays stored, and opening the queue again carries on.
    Queue(QueueError),
    /// A message is longer than the transport could ever send ([`Transport::max_message_len`]:
    /// its buffers are smaller): it was not queued, so it cannot hold up the messages after
    /// it; messages of the sample before this one were queued. Give the transport bigger
    /// buffers, or the sink a shorter topic or payload.
    TooLarge {
        /// Topic plus payload, in bytes.
        len: usize,
        /// The transport's [`max_message_len`](Transport::max_message_len).
        max: usize,
    },
    /// The broker stayed away through the [`BackoffConfig::max_attempts`] reconnection
    /// attempts. Every message not delivered is still in [`ResilientPublisher::queue`];
    /// calling the publisher again starts a new round of attempts.
    ///
    /// [`BackoffConfig::max_attempts`]: super::BackoffConfig::max_attempts
    GaveUp {
        /// Reconnection attempts made, each after a backoff wait.
        attempts: u32,
        /// The error of the last failed attempt.
        last: TE,
    },
}

impl<SE, KE, TE> ResilientError<SE, KE, TE> {
    /// Which stage failed.
    pub fn stage(&self) -> Stage {
        match self {
            ResilientError::Sensor(_) => Stage::Sensor,
            ResilientError::Encode(_) => Stage::Encode,
            ResilientError::Queue(_) => Stage::Queue,
            ResilientError::TooLarge { .. } | ResilientError::GaveUp { .. } => Stage::Transport,
        }
    }
}

impl<SE, KE, TE> ResilientError<SE, KE, TE> {
    /// The publish path's error, with the resilient end's failures as their own variants.
    fn from_path(error: PublishError<SE, KE, Failure<TE>>) -> Self {
        match error {
            PublishError::Sensor(e) => ResilientError::Sensor(e),
            PublishError::Encode(e) => ResilientError::Encode(e),
            PublishError::Transport(Failure::Queue(e)) => ResilientError::Queue(e),
            PublishError::Transport(Failure::TooLarge { len, max }) => {
                ResilientError::TooLarge { len, max }
            }
            PublishError::Transport(Failure::GaveUp { attempts, last }) => {
                ResilientError::GaveUp { attempts, last }
            }
        }
    }
}

impl<SE: fmt::Display, KE: fmt::Display, TE: fmt::Display> fmt::Display
    for ResilientError<SE, KE, TE>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResilientError::Sensor(e) => write!(f, "sensor: {e}"),
            ResilientError::Encode(e) => write!(f, "encode: {e}"),
            ResilientError::Queue(e) => write!(f, "queue: {e}"),
            ResilientError::TooLarge { len, max } => write!(
                f,
                "transport: message of {len} bytes is longer than the transport can send \
                 ({max} bytes): not queued; give the transport bigger buffers"
            ),
            ResilientError::GaveUp { attempts, last } => write!(
                f,
                "transport: broker unreachable after {attempts} reconnection attempts \
                 (last: {last}); undelivered messages are still queued"
            ),
        }
    }
}

impl<SE, KE, TE> core::error::Error for ResilientError<SE, KE, TE>
where
    SE: fmt::Debug + fmt::Display,
    KE: fmt::Debug + fmt::Display,
    TE: fmt::Debug + fmt::Display,
{
}

/// The error of a [`ResilientPublisher`] over sensor `S` (sample capacity `N`), sink `K` and
/// transport `T`.
pub type ResilientPublisherError<S, K, T, const N: usize> =
    ResilientError<<S as Sensor<N>>::Error, <K as Sink>::Error, <T as Transport>::Error>;

/// What only the resilient end of the publish path fails with.
#[derive(Debug)]
pub(crate) enum Failure<TE> {
    Queue(QueueError),
    TooLarge { len: usize, max: usize },
    GaveUp { attempts: u32, last: TE },
}

/// A [`Publisher`] with an outage queue and reconnection: a short broker outage loses
/// nothing, a long one loses the oldest messages (counted), a permanent one ends in
/// [`ResilientError::GaveUp`] with the messages still readable in [`queue`](Self::queue).
///
/// **Delivery guarantee.** A message leaves the queue only when [`Transport::publish`]
/// returned `Ok` (or an error that says this message can never be sent, below). At QoS 1 that means the broker acknowledged it, so every QoS 1 message is
/// delivered **at least once**: one whose acknowledgement was lost with the connection is
/// sent again after the reconnect, and the subscriber may see it twice. A backlog of QoS 1
/// messages goes out with up to W in flight ([`with_window`](Self::with_window),
/// [`Transport::window`]): a message leaves the queue only when its own acknowledgement came
/// and every older one's had, so the guarantee and the order hold, and after a lost
/// connection up to W messages may be seen twice. At QoS 0 (ThingSpeak)
/// `Ok` means written to the network: messages produced while the broker is known to be away
/// are kept and replayed, but one written just before an unnoticed drop can be lost.
/// Messages are delivered in the order they were produced. When the queue is full the oldest
/// message is dropped and counted in [`Stats::dropped`]; nothing is dropped silently.
///
/// **Messages the transport cannot send.** A message longer than the transport could ever
/// send ([`Transport::max_message_len`], e.g. an MQTT transport's buffers) is refused before
/// it is queued, with [`ResilientError::TooLarge`], so it never holds up the queue. One
/// already queued (by a build with bigger buffers, or a limit only found when sending) whose
/// send fails with an error the transport calls permanent ([`Transport::is_permanent`],
/// e.g. [`MqttError::TooLarge`](crate::MqttError::TooLarge)) is dropped and counted in
/// [`Stats::unsendable`], and the messages behind it go out; the connection is kept. (Refused
/// behind messages in a QoS 1 window, it may only have lacked room: it is tried again alone
/// before it is dropped.) Every other failure is a broker outage: the message stays queued
/// and is sent again.
///
/// **Connection upkeep.** At every wake-up (a sample, a due message, a due reconnection) the
/// publisher calls [`Transport::poll`], which answers keep-alives and notices a connection the
/// broker closed meanwhile; keep the sample period below the transport's keep-alive.
///
/// **Timing.** The publisher never sleeps in a busy loop: it waits through the clock's
/// [`DelayNs`] until the next sample, the next reconnection attempt or the next message a
/// rate limit allows, whichever comes first. A sink's rate limit (ThingSpeak's 15 s) is also
/// kept when replaying: each queued message remembers how long the sink wanted the next one
/// held, so a backlog reaches the broker at the sink's pace, never early. Samples are stamped
/// when read ([`Clock::unix_time`]), so replayed ThingSpeak updates keep their `created_at`.
///
/// ```
/// use sensorpub::{
///     Backoff, BackoffConfig, JsonSink, MemoryTransport, MessageQueue, MockSensor, Publisher,
///     QoS, Quantity, Reading, ResilientPublisher, Sample, SimulatedClock,
/// };
/// # struct Fixed;
/// # impl rand_core::TryRng for Fixed {
/// #     type Error = core::convert::Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(0) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(0) }
/// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> { d.fill(0); Ok(()) }
/// # }
/// # let rng = Fixed; // any rand_core RNG, e.g. esp-hal's hardware RNG
///
/// let script: Vec<Result<Sample<1>, _>> = (1..=4)
///     .map(|v| Ok(Sample::from_readings(&[Reading::new(Quantity::Value, v as f32)]).unwrap()))
///     .collect();
/// let mut buf = [0u8; 64];
/// let publisher = Publisher::new(
///     MockSensor::new(&script),
///     JsonSink::value("apricot/value")?,
///     MemoryTransport::<8, 64>::new(),
///     SimulatedClock::new(),
///     &mut buf,
/// )
/// .with_qos(QoS::AtLeastOnce);
/// let backoff = Backoff::new(BackoffConfig::new(500, 30_000)?.with_max_attempts(10)?, rng);
/// let mut publisher = ResilientPublisher::new(publisher, backoff, MessageQueue::<16, 512>::new());
///
/// // The broker drops the connection after the first message and refuses three connects.
/// publisher.transport_mut().disconnect_after(1);
/// publisher.transport_mut().fail_connects(3);
/// embassy_futures::block_on(publisher.run_for(1_000, 4))?;
///
/// let received: Vec<&[u8]> =
///     publisher.transport().messages().iter().map(|m| &m.payload[..]).collect();
/// assert_eq!(received, [b"1", b"2", b"3", b"4"]); // all of them, in order
/// assert_eq!(publisher.stats().reconnects, 1);
/// assert_eq!(publisher.stats().dropped, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ResilientPublisher<'b, S, K, T, C, R, Q> {
    publisher: Publisher<'b, S, K, T, C>,
    recovery: Recovery<R, Q>,
}

impl<'b, S, K, T, C, R, Q> ResilientPublisher<'b, S, K, T, C, R, Q>
where
    K: Sink,
    Q: OutageQueue,
    T: Transport,
    C: Clock + DelayNs,
    R: Rng,
{
    /// Wraps `publisher` (its QoS, retain flag and buffer are kept), reconnecting on
    /// `backoff`'s schedule and keeping up to the capacity of `queue` through an outage.
    ///
    /// `queue` is a RAM [`MessageQueue`](super::MessageQueue) or a flash-backed
    /// [`FlashQueue`](super::FlashQueue) (its messages survive a reset: the publisher sends
    /// what an earlier run left stored first). Give the queue more bytes than the encode
    /// buffer, so that any message the sink can write also fits the queue.
    pub fn new(publisher: Publisher<'b, S, K, T, C>, backoff: Backoff<R>, queue: Q) -> Self {
        let broker = publisher.transport().broker_index();
        Self {
            publisher,
            recovery: Recovery {
                broker,
                switches: 0,
                backoff,
                queue,
                link: Link::Up,
                next_send_ms: 0,
                published: 0,
                reconnects: 0,
                unsendable: 0,
                solo: 0,
                window: MqttOptions::MAX_WINDOW,
            },
        }
    }

    /// Sends a backlog with up to `window` QoS 1 messages in flight (clamped to
    /// 1..=[`MqttOptions::MAX_WINDOW`]), or as many as the transport allows
    /// ([`Transport::window`], for MQTT [`MqttOptions::with_window`]), whichever is
    /// fewer. Each message still leaves the queue only when its own acknowledgement came, in
    /// order (an early acknowledgement of a later message waits for those before it); after
    /// a lost connection the unacknowledged ones go again, in order. QoS 0 messages and
    /// messages a sink's rate limit holds apart go one at a time. Default: the transport's
    /// window; 1 sends one message per round trip.
    pub fn with_window(mut self, window: usize) -> Self {
        self.recovery.window = window.clamp(1, MqttOptions::MAX_WINDOW);
        self
    }

    /// Encodes `sample` into the queue and sends nothing: no connection attempt, no radio.
    /// For a battery node that wakes, reads, stores and sleeps again, and connects only every
    /// few wakes ([`flush`](Self::flush) then sends the batch). With a
    /// [`FlashQueue`](super::FlashQueue) the batch survives the deep sleep between wakes.
    /// A sink's rate limit is waited out without serving the queue. Returns how many
    /// messages the sample became.
    pub async fn store<const M: usize>(
        &mut self,
        sample: &Sample<M>,
    ) -> Result<usize, ResilientError<Infallible, K::Error, T::Error>> {
        let mut outlet = StoreOnly(&mut self.recovery);
        let result = self.publisher.publish_via(&mut outlet, sample).await;
        result.map_err(ResilientError::from_path)
    }

    /// Encodes `sample` into the queue, then sends what the link and the sink's rate limit
    /// allow now; returns how many messages the sample became. See
    /// [`publish_once`](Self::publish_once), which reads the sensor and does this.
    pub async fn publish<const M: usize>(
        &mut self,
        sample: &Sample<M>,
    ) -> Result<usize, ResilientError<Infallible, K::Error, T::Error>> {
        let result = self.publisher.publish_via(&mut self.recovery, sample).await;
        result.map_err(ResilientError::from_path)
    }

    /// Reads one sample, encodes its messages into the queue, then sends what the link and
    /// the sink's rate limit allow now; returns how many messages the sample became.
    ///
    /// It does not wait for a reconnection: with the broker away the messages stay queued
    /// (see [`flush`](Self::flush)). It waits only as [`Publisher::publish_once`] does, for
    /// the sink's rate limit before encoding, serving the queue meanwhile. Errors:
    /// [`ResilientError::Sensor`] (nothing queued), [`ResilientError::Encode`],
    /// [`ResilientError::Queue`], [`ResilientError::TooLarge`], [`ResilientError::GaveUp`].
    pub async fn publish_once<const N: usize>(
        &mut self,
    ) -> Result<usize, ResilientPublisherError<S, K, T, N>>
    where
        S: Sensor<N>,
    {
        let result = self.publisher.publish_once_via(&mut self.recovery).await;
        result.map_err(ResilientError::from_path)
    }

    /// Publishes `samples` samples, one every `period_ms` (fixed rate), then waits until the
    /// queue is empty. Between samples it reconnects and replays as the backoff and rate
    /// limits allow. Returns at the first error; with unlimited attempts it waits for the
    /// broker as long as it takes.
    pub async fn run_for<const N: usize>(
        &mut self,
        period_ms: u32,
        samples: u32,
    ) -> Result<(), ResilientPublisherError<S, K, T, N>>
    where
        S: Sensor<N>,
    {
        let result = (self.publisher)
            .run_for_via(&mut self.recovery, period_ms, samples)
            .await;
        result.map_err(ResilientError::from_path)
    }

    /// Publishes one sample every `period_ms`, forever, riding out outages. Returns only with
    /// an error (a sensor or encode failure, or [`ResilientError::GaveUp`] when the attempts
    /// are limited); calling it again carries on with the queue as it is.
    pub async fn run<const N: usize>(
        &mut self,
        period_ms: u32,
    ) -> Result<Infallible, ResilientPublisherError<S, K, T, N>>
    where
        S: Sensor<N>,
    {
        let result = self.publisher.run_via(&mut self.recovery, period_ms).await;
        result.map_err(ResilientError::from_path)
    }

    /// Waits until every queued message is delivered, reconnecting as needed; returns
    /// [`ResilientError::GaveUp`] if the broker stays away through the configured attempts.
    pub async fn flush(&mut self) -> Result<(), ResilientError<Infallible, K::Error, T::Error>> {
        let result = self.publisher.flush_via(&mut self.recovery).await;
        result.map_err(ResilientError::from_path)
    }

    /// Milliseconds until the sink's rate limit lets the next message be encoded (0: now),
    /// e.g. to skip a sample instead of waiting for it. See [`Publisher::ready_in_ms`].
    pub fn ready_in_ms(&mut self) -> u64 {
        self.publisher.ready_in_ms()
    }

    /// The messages not delivered yet, oldest first; still readable after
    /// [`ResilientError::GaveUp`].
    pub fn queue(&self) -> &Q {
        &self.recovery.queue
    }

    /// Counters: published, queued, dropped, reconnects; the broker in use and the switches
    /// between brokers; messages dropped as unsendable.
    pub fn stats(&self) -> Stats {
        Stats {
            published: self.recovery.published,
            queued: self.recovery.queue.len(),
            dropped: self.recovery.queue.dropped(),
            reconnects: self.recovery.reconnects,
            broker: self.recovery.broker,
            switches: self.recovery.switches,
            unsendable: self.recovery.unsendable,
        }
    }

    /// The wrapped publisher (sensor, sink, transport, clock).
    pub fn publisher(&self) -> &Publisher<'b, S, K, T, C> {
        &self.publisher
    }

    /// The sensor.
    pub fn sensor(&self) -> &S {
        self.publisher.sensor()
    }

    /// The sensor, mutably (e.g. to reconfigure or re-initialise it between publishes).
    pub fn sensor_mut(&mut self) -> &mut S {
        self.publisher.sensor_mut()
    }

    /// The transport (e.g. to read what a [`MemoryTransport`](crate::MemoryTransport)
    /// recorded).
    pub fn transport(&self) -> &T {
        self.publisher.transport()
    }

    /// The transport, mutably (e.g. to play an outage on a
    /// [`MemoryTransport`](crate::MemoryTransport)).
    pub fn transport_mut(&mut self) -> &mut T {
        self.publisher.transport_mut()
    }

    /// Takes the publisher apart: the wrapped [`Publisher`], the backoff (its attempt count
    /// as it is) and the queue with every message not delivered yet.
    pub fn into_parts(self) -> (Publisher<'b, S, K, T, C>, Backoff<R>, Q) {
        let Recovery { backoff, queue, .. } = self.recovery;
        (self.publisher, backoff, queue)
    }
}

/// The resilient end of the publish path: the outage queue, the link state, the
/// reconnection schedule and the pacing of queued messages.
struct Recovery<R, Q> {
    backoff: Backoff<R>,
    queue: Q,
    link: Link,
    /// Earliest instant the front of the queue may reach the broker (a sink's rate limit).
    next_send_ms: u64,
    published: u32,
    reconnects: u32,
    /// Messages dropped because the transport can never send them.
    unsendable: u32,
    /// Messages from the head to send one at a time, not in a QoS 1 window: a message was
    /// refused for good behind them while they were in flight.
    solo: usize,
    /// The transport's broker index at the last connection.
    broker: usize,
    switches: u32,
    /// The caller's QoS 1 window ([`ResilientPublisher::with_window`]).
    window: usize,
}

/// How a windowed send ended.
enum Windowed<TE> {
    /// Some messages were delivered; the queue's head may be another kind now.
    Progress,
    /// The head of the queue cannot go in a window (QoS 0, a rate limit): send it alone.
    NotEligible,
    /// The transport failed; the unacknowledged messages are still queued.
    Failed(TE),
}

impl<T, C, R, Q> Outlet<T, C> for Recovery<R, Q>
where
    Q: OutageQueue,
    T: Transport,
    C: Clock + DelayNs,
    R: Rng,
{
    type Error = Failure<T::Error>;

    async fn send(
        &mut self,
        transport: &mut T,
        _clock: &mut C,
        message: &Message<'_>,
        hold_ms: u64,
    ) -> Result<(), Self::Error> {
        let len = message.topic.len() + message.payload.len();
        if let Some(max) = transport.max_message_len()
            && len > max
        {
            return Err(Failure::TooLarge { len, max });
        }
        let hold_ms = u32::try_from(hold_ms).unwrap_or(u32::MAX);
        self.queue
            .store(message, hold_ms)
            .await
            .map_err(Failure::Queue)?;
        Ok(())
    }

    /// Waits until `target_ms`, reconnecting and sending queued messages as they fall due.
    async fn wait_until(
        &mut self,
        transport: &mut T,
        clock: &mut C,
        target_ms: u64,
    ) -> Result<(), Self::Error> {
        loop {
            self.serve(transport, clock).await?;
            let now_ms = clock.now_ms();
            if now_ms >= target_ms {
                return Ok(());
            }
            let wake_ms = self
                .next_event_ms()
                .map_or(target_ms, |event_ms| event_ms.min(target_ms));
            sleep_until(clock, now_ms, wake_ms).await;
        }
    }

    async fn sample_done(&mut self, transport: &mut T, clock: &mut C) -> Result<(), Self::Error> {
        self.serve(transport, clock).await
    }

    async fn flush(&mut self, transport: &mut T, clock: &mut C) -> Result<(), Self::Error> {
        loop {
            self.serve(transport, clock).await?;
            if self.queue.is_empty() {
                return Ok(());
            }
            let now_ms = clock.now_ms();
            let wake_ms = self.next_event_ms().unwrap_or(now_ms);
            sleep_until(clock, now_ms, wake_ms).await;
        }
    }
}

/// The resilient end with the radio off: messages go into the queue, waits only wait.
struct StoreOnly<'r, R, Q>(&'r mut Recovery<R, Q>);

impl<T, C, R, Q> Outlet<T, C> for StoreOnly<'_, R, Q>
where
    Q: OutageQueue,
    T: Transport,
    C: Clock + DelayNs,
    R: Rng,
{
    type Error = Failure<T::Error>;

    async fn send(
        &mut self,
        transport: &mut T,
        clock: &mut C,
        message: &Message<'_>,
        hold_ms: u64,
    ) -> Result<(), Self::Error> {
        self.0.send(transport, clock, message, hold_ms).await
    }

    async fn wait_until(
        &mut self,
        _transport: &mut T,
        clock: &mut C,
        target_ms: u64,
    ) -> Result<(), Self::Error> {
        let now_ms = clock.now_ms();
        delay_ms(clock, target_ms.saturating_sub(now_ms)).await;
        Ok(())
    }
}

/// Sleeps until `wake_ms`, at least 1 ms so that a loop around it always moves the clock.
async fn sleep_until<C: DelayNs>(clock: &mut C, now_ms: u64, wake_ms: u64) {
    delay_ms(clock, wake_ms.saturating_sub(now_ms).max(1)).await;
}

impl<R: Rng, Q: OutageQueue> Recovery<R, Q> {
    /// When [`serve`](Self::serve) next has something to do: a connection attempt, or the
    /// next queued message once the rate limit allows it. `None`: nothing until new messages.
    fn next_event_ms(&self) -> Option<u64> {
        match self.link {
            Link::Down { retry_at_ms } => Some(retry_at_ms),
            Link::Up if !self.queue.is_empty() => Some(self.next_send_ms),
            Link::Up => None,
        }
    }

    /// Does what is due now, without waiting: a connection attempt whose time has come, then
    /// queued messages, oldest first, as long as the link is up and the rate limit allows.
    async fn serve<T: Transport, C: Clock>(
        &mut self,
        transport: &mut T,
        clock: &mut C,
    ) -> Result<(), Failure<T::Error>> {
        // A transport that reports "not connected" right after a successful connect must not
        // spin us in a connect loop: its next publish fails and the backoff takes over.
        let mut just_connected = false;
        // Polled once a wake-up: keeps the connection alive and notices a broker that closed
        // it while we were idle, before a message is written into a dead socket.
        let mut polled = false;
        loop {
            let now_ms = clock.now_ms();
            match self.link {
                Link::Down { retry_at_ms } => {
                    if now_ms < retry_at_ms {
                        return Ok(());
                    }
                    match transport.connect().await {
                        Ok(()) => {
                            let broker = transport.broker_index();
                            if broker != self.broker {
                                crate::log::info!("switched to broker {=usize}", broker);
                                self.broker = broker;
                                self.switches = self.switches.saturating_add(1);
                            }
                            crate::log::info!(
                                "broker connected; {=usize} messages queued",
                                self.queue.len()
                            );
                            self.link = Link::Up;
                            self.reconnects = self.reconnects.saturating_add(1);
                            just_connected = true;
                        }
                        Err(error) => return self.retry_later(clock, error),
                    }
                }
                Link::Up => {
                    if !just_connected && !transport.is_connected() {
                        // Noticed, not failed: try at once; only a failure waits.
                        self.link = Link::Down {
                            retry_at_ms: now_ms,
                        };
                        continue;
                    }
                    if !just_connected && !polled {
                        polled = true;
                        if let Err(error) = transport.poll().await {
                            return self.retry_later(clock, error);
                        }
                    }
                    if self.queue.is_empty() || now_ms < self.next_send_ms {
                        return Ok(());
                    }
                    let window = match self.solo {
                        0 => self.window.min(transport.window()),
                        _ => 1,
                    };
                    if window > 1 {
                        match self.send_window(transport, window).await? {
                            Windowed::Progress => continue,
                            Windowed::Failed(error) => return self.retry_later(clock, error),
                            Windowed::NotEligible => {}
                        }
                    }
                    let Some((message, hold_ms)) =
                        self.queue.oldest().await.map_err(Failure::Queue)?
                    else {
                        return Ok(());
                    };
                    let len = message.topic.len() + message.payload.len();
                    let result = transport.publish(&message).await;
                    // Delivered or not (a failed QoS 0 publish may still have arrived), the
                    // next message keeps the sink's distance from this one.
                    let sent_ms = clock.now_ms();
                    self.next_send_ms = sent_ms.saturating_add(u64::from(hold_ms));
                    match result {
                        Ok(()) => {
                            self.queue.remove_oldest().await.map_err(Failure::Queue)?;
                            self.published = self.published.saturating_add(1);
                            self.solo = self.solo.saturating_sub(1);
                            // A delivery, not a connect, proves the broker is back: a broker
                            // that accepts connects but fails publishes still runs out the
                            // attempts.
                            self.backoff.reset();
                        }
                        // This message can never go (e.g. larger than the transport's
                        // buffers): drop it rather than hold up every later one.
                        Err(error) if transport.is_permanent(&error) => {
                            self.drop_unsendable(len).await?;
                        }
                        Err(error) => return self.retry_later(clock, error),
                    }
                }
            }
        }
    }

    /// Sends the queue's QoS 1 messages from the head with up to `window` in flight, removing
    /// each from the head once it and every message before it were acknowledged; returns
    /// when the head is not a QoS 1 message free of a rate limit (or the queue is empty).
    async fn send_window<T: Transport>(
        &mut self,
        transport: &mut T,
        window: usize,
    ) -> Result<Windowed<T::Error>, Failure<T::Error>> {
        let window = window.min(MqttOptions::MAX_WINDOW);
        // Packet ids of the messages in flight: `ids[j]` is the message `j` places behind
        // the head. Bit `j` of `acked`: its acknowledgement came.
        let mut ids = [0u16; MqttOptions::MAX_WINDOW];
        let mut acked: u32 = 0;
        let mut sent = 0;
        let mut progress = false;
        loop {
            while sent < window && self.solo == 0 {
                let Some((message, hold_ms)) =
                    self.queue.peek(sent).await.map_err(Failure::Queue)?
                else {
                    break;
                };
                if message.qos != QoS::AtLeastOnce || hold_ms != 0 {
                    break;
                }
                let len = message.topic.len() + message.payload.len();
                match transport.submit(&message).await {
                    Ok(id) => ids[sent] = id,
                    Err(error) if transport.is_permanent(&error) => {
                        if sent == 0 {
                            self.drop_unsendable(len).await?;
                            progress = true;
                            continue;
                        }
                        // Refused behind messages in flight, it may only have lacked room
                        // (MQTT 5 keeps them in its transmit arena), and a transport may
                        // forget them after an error: those and it go one at a time, and
                        // it is dropped only if refused alone.
                        self.solo = sent + 1;
                        break;
                    }
                    Err(error) => return Ok(Windowed::Failed(error)),
                }
                sent += 1;
            }
            if sent == 0 {
                return Ok(if progress {
                    Windowed::Progress
                } else {
                    Windowed::NotEligible
                });
            }
            let id = match transport.next_ack().await {
                Ok(id) => id,
                Err(error) => return Ok(Windowed::Failed(error)),
            };
            // An id not in flight (a duplicate acknowledgement) changes nothing.
            if let Some(j) = ids[..sent].iter().position(|&i| i == id) {
                acked |= 1 << j;
            }
            while acked & 1 == 1 {
                self.queue.remove_oldest().await.map_err(Failure::Queue)?;
                self.published = self.published.saturating_add(1);
                self.solo = self.solo.saturating_sub(1);
                self.backoff.reset();
                ids.copy_within(1..sent, 0);
                sent -= 1;
                acked >>= 1;
                progress = true;
            }
        }
    }

    /// Drops the oldest message, which the transport can never send (`len`: its topic plus
    /// payload), and counts it.
    async fn drop_unsendable<TE>(&mut self, len: usize) -> Result<(), Failure<TE>> {
        crate::log::warn!(
            "a queued message of {=usize} bytes can never be sent: dropped",
            len
        );
        let _ = len; // logged only with defmt
        self.queue.remove_oldest().await.map_err(Failure::Queue)?;
        self.unsendable = self.unsendable.saturating_add(1);
        self.solo = self.solo.saturating_sub(1);
        Ok(())
    }

    /// After a failure: schedules the next connection attempt after a backoff wait, or gives
    /// up when the attempts are used up (and starts a fresh round on the next call).
    fn retry_later<C: Clock, TE>(&mut self, clock: &mut C, error: TE) -> Result<(), Failure<TE>> {
        let now_ms = clock.now_ms();
        match self.backoff.next_delay_ms() {
            Some(wait_ms) => {
                crate::log::warn!("broker unreachable; next attempt in {=u32} ms", wait_ms);
                self.link = Link::Down {
                    retry_at_ms: now_ms.saturating_add(u64::from(wait_ms)),
                };
                Ok(())
            }
            None => {
                let attempts = self.backoff.attempts();
                crate::log::warn!(
                    "broker still unreachable after {=u32} attempts; giving up",
                    attempts
                );
                self.backoff.reset();
                self.link = Link::Down {
                    retry_at_ms: now_ms,
                };
                Err(Failure::GaveUp {
                    attempts,
                    last: error,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
