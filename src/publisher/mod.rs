//! [`Publisher`]: reads a sensor, encodes with a sink and publishes through a transport. It
//! is the only part of the crate that knows all three, and it has one publish path:
//! [`Publisher::publish`] encodes and delivers a sample the caller already has;
//! [`publish_once`](Publisher::publish_once), [`run`](Publisher::run) and
//! [`run_for`](Publisher::run_for) read the sensor and take that path.
//!
//! [`ResilientPublisher`] wraps a `Publisher` to live through broker outages: the same path
//! ends in a [`MessageQueue`] instead of the transport, and the connection is reopened on a
//! [`Backoff`] schedule. The plain `Publisher` stays for callers who handle failures
//! themselves.
//!
//! A sink's rate limit (ThingSpeak's 15 s) is the sink's ([`Sink::ready_in_ms`]); the publish
//! path is the only code that asks it, before each message (wait) and after it (how long to
//! hold the next one back, which the resilient queue keeps for replays).

mod backoff;
mod command;
mod flash_queue;
mod outlet;
mod queue;
mod resilient;

pub use backoff::{Backoff, BackoffConfig, BackoffError};
pub use command::IntervalError;
pub use flash_queue::FlashQueue;
pub use queue::{MessageQueue, OutageQueue, QueueError};
pub use resilient::{ResilientError, ResilientPublisher, ResilientPublisherError, Stats};

use crate::clock::Clock;
use crate::message::QoS;
use crate::reading::Sample;
use crate::sensor::Sensor;
use crate::sink::Sink;
use crate::transport::{Inbox, Transport};
use command::IntervalCommand;
use core::convert::Infallible;
use core::fmt;
use embedded_hal_async::delay::DelayNs;
use outlet::{Direct, Outlet};

/// The stage of a publish that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Stage {
    /// Reading the sensor.
    Sensor,
    /// Encoding the sample.
    Encode,
    /// Keeping a message for later ([`ResilientPublisher`]'s queue).
    Queue,
    /// Delivering a message, reconnecting included.
    Transport,
}

/// A [`Publisher`]'s publish failed; says at which stage and keeps the underlying error.
/// ([`ResilientPublisher`] has its own, [`ResilientError`].)
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PublishError<SE, KE, TE> {
    /// The sensor failed; nothing was published.
    Sensor(SE),
    /// The sink could not encode the sample (buffer too small, non-finite value, …);
    /// messages of the sample before this one were published.
    Encode(KE),
    /// The transport could not deliver a message; messages of the sample before this one
    /// were published.
    Transport(TE),
}

impl<SE, KE, TE> PublishError<SE, KE, TE> {
    /// Which stage failed.
    pub fn stage(&self) -> Stage {
        match self {
            PublishError::Sensor(_) => Stage::Sensor,
            PublishError::Encode(_) => Stage::Encode,
            PublishError::Transport(_) => Stage::Transport,
        }
    }
}

impl<KE, TE> PublishError<Infallible, KE, TE> {
    /// The error of a publish that read no sensor, as the error of one that did.
    fn after_read<SE>(self) -> PublishError<SE, KE, TE> {
        match self {
            PublishError::Sensor(never) => match never {},
            PublishError::Encode(e) => PublishError::Encode(e),
            PublishError::Transport(e) => PublishError::Transport(e),
        }
    }
}

impl<SE: fmt::Display, KE: fmt::Display, TE: fmt::Display> fmt::Display
    for PublishError<SE, KE, TE>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Sensor(e) => write!(f, "sensor: {e}"),
            PublishError::Encode(e) => write!(f, "encode: {e}"),
            PublishError::Transport(e) => write!(f, "transport: {e}"),
        }
    }
}

impl<SE, KE, TE> core::error::Error for PublishError<SE, KE, TE>
where
    SE: fmt::Debug + fmt::Display,
    KE: fmt::Debug + fmt::Display,
    TE: fmt::Debug + fmt::Display,
{
}

/// The error of a [`Publisher`] over sensor `S` (sample capacity `N`), sink `K` and
/// transport `T`.
pub type PublisherError<S, K, T, const N: usize> =
    PublishError<<S as Sensor<N>>::Error, <K as Sink>::Error, <T as Transport>::Error>;

/// Reads a [`Sensor`], encodes with a [`Sink`] into a caller-owned buffer, publishes through a
/// [`Transport`].
///
/// `C` supplies time ([`Clock`]) and waiting ([`DelayNs`]). The buffer must hold the longest
/// topic plus payload the sink writes.
///
/// **One path.** [`publish`](Self::publish) encodes and delivers a [`Sample`] you already
/// have (read once, published to several destinations); [`publish_once`](Self::publish_once)
/// reads the sensor and publishes; [`run`](Self::run) and [`run_for`](Self::run_for) do that
/// at a fixed rate. A publisher that only ever gets samples handed to it needs no sensor:
/// pass `()`.
///
/// **Sample capacity.** `publish_once`, `run` and `run_for` read a `Sample<N>`. For a sensor
/// with one capacity (`impl Sensor<4> for MySensor`) `N` is inferred. A sensor that fills
/// any capacity (`impl<const N: usize> Sensor<N>`, as the PySense drivers do) cannot tell
/// the compiler which one (error E0284, "type annotations needed"): name it where you read,
/// once, e.g. `publisher.run::<10>(period_ms)` or `publisher.publish_once::<10>()`.
///
/// **Rate limits.** Before each message the publisher asks the sink how long to wait
/// ([`Sink::ready_in_ms`]) and waits that long, so a ThingSpeak message is held, never sent
/// early and never refused.
///
/// A transport error is returned at once and the message is gone. To keep messages through a
/// broker outage and reconnect by itself, wrap the publisher in a [`ResilientPublisher`].
///
/// ```
/// use sensorpub::{MemoryTransport, MockSensor, JsonSink, Publisher, Quantity, Reading, Sample, SimulatedClock};
///
/// let sample = Sample::<2>::from_readings(&[Reading::new(Quantity::Temperature, 21.53)])?;
/// let script = [Ok(sample)];
/// let mut buf = [0u8; 128];
/// let mut publisher = Publisher::new(
///     MockSensor::new(&script),
///     JsonSink::object("apricot/value")?,
///     MemoryTransport::<4, 64>::new(),
///     SimulatedClock::new(),
///     &mut buf,
/// );
/// let sent = embassy_futures::block_on(publisher.publish_once())?;
/// assert_eq!(sent, 1);
/// assert_eq!(publisher.transport().messages()[0].payload, br#"{"temperature":21.53}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Publisher<'b, S, K, T, C> {
    sensor: S,
    sink: K,
    transport: T,
    clock: C,
    buf: &'b mut [u8],
    qos: QoS,
    retain: bool,
    interval: Option<IntervalCommand<'b>>,
}

impl<'b, S, K, T, C> Publisher<'b, S, K, T, C>
where
    K: Sink,
    T: Transport,
    C: Clock + DelayNs,
{
    /// A publisher at QoS 0, not retained, encoding into `buf`. `sensor` may be `()` when
    /// every sample is handed to [`publish`](Self::publish).
    pub fn new(sensor: S, sink: K, transport: T, clock: C, buf: &'b mut [u8]) -> Self {
        Self {
            sensor,
            sink,
            transport,
            clock,
            buf,
            qos: QoS::AtMostOnce,
            retain: false,
            interval: None,
        }
    }

    /// Follows the `set/interval` command: a message on `topic` (e.g.
    /// `"apricot/set/interval"`, to which the transport
    /// [subscribes](crate::MqttOptions::with_subscriptions)) in `inbox` sets the sample
    /// period of [`run`](Self::run) and [`run_for`](Self::run_for) (and of a
    /// [`ResilientPublisher`]'s loop), overriding their `period_ms` argument.
    ///
    /// The payload is a number of seconds: digits, optionally `.` and up to three more
    /// (`30`, `2.5`), within 1 s ..= 1 day unless
    /// [`with_interval_range_ms`](Self::with_interval_range_ms) says otherwise. Anything
    /// else is refused, the period unchanged, and reported by
    /// [`interval_status`](Self::interval_status). The inbox is read after each sample is
    /// published, so a command takes effect for the wait that follows the next publish.
    /// Messages on other topics stay in the inbox for the caller.
    ///
    /// ```
    /// use sensorpub::{Inbox, IntervalError, JsonSink, MemoryTransport, Publisher, SimulatedClock};
    ///
    /// let inbox = Inbox::<64>::new();
    /// let mut buf = [0u8; 64];
    /// let publisher = Publisher::new(
    ///     (),
    ///     JsonSink::object("apricot/value")?,
    ///     MemoryTransport::<4, 64>::new(),
    ///     SimulatedClock::new(),
    ///     &mut buf,
    /// )
    /// .with_interval_command(&inbox, "apricot/set/interval");
    /// assert_eq!(publisher.interval_status(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_interval_command<const N: usize>(
        mut self,
        inbox: &'b Inbox<N>,
        topic: &'b str,
    ) -> Self {
        self.interval = Some(IntervalCommand::new(inbox, topic));
        self
    }

    /// The periods a `set/interval` command may set, in milliseconds (default 1 s ..= 1 day;
    /// a minimum of 0 counts as 1). Call after
    /// [`with_interval_command`](Self::with_interval_command).
    pub fn with_interval_range_ms(mut self, min_ms: u32, max_ms: u32) -> Self {
        self.interval = self.interval.map(|c| c.with_range_ms(min_ms, max_ms));
        self
    }

    /// The outcome of the last `set/interval` command: `Ok(ms)` for the period it set, the
    /// reason it was refused, or `None` before the first.
    pub fn interval_status(&self) -> Option<Result<u32, IntervalError>> {
        self.interval.as_ref().and_then(IntervalCommand::last)
    }

    /// The topic of the `set/interval` command followed, if any.
    pub fn interval_topic(&self) -> Option<&'b str> {
        self.interval.as_ref().map(IntervalCommand::topic)
    }

    /// The sample period to wait next: the last accepted `set/interval`, else `period_ms`.
    fn period_ms(&mut self, period_ms: u32) -> u32 {
        match self.interval.as_mut() {
            Some(command) => command.period_ms(period_ms),
            None => period_ms,
        }
    }

    /// Publishes every message at `qos`.
    pub fn with_qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Publishes every message with the retain flag set to `retain`.
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Encodes `sample` and publishes its messages; returns how many went out.
    ///
    /// A sample without a timestamp is published with [`Clock::unix_time`] (the sample
    /// itself is not changed). Before each message the sink's rate limit is waited out.
    ///
    /// ```
    /// use sensorpub::{JsonSink, MemoryTransport, Publisher, Quantity, Reading, Sample, SimulatedClock};
    ///
    /// let sample = Sample::<2>::from_readings(&[Reading::new(Quantity::Temperature, 21.53)])?;
    /// let mut buf = [0u8; 128];
    /// // No sensor: the caller reads, the publisher only publishes.
    /// let mut publisher = Publisher::new(
    ///     (),
    ///     JsonSink::object("apricot/value")?,
    ///     MemoryTransport::<4, 64>::new(),
    ///     SimulatedClock::new(),
    ///     &mut buf,
    /// );
    /// assert_eq!(embassy_futures::block_on(publisher.publish(&sample))?, 1);
    /// assert_eq!(publisher.transport().messages()[0].payload, br#"{"temperature":21.53}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn publish<const M: usize>(
        &mut self,
        sample: &Sample<M>,
    ) -> Result<usize, PublishError<Infallible, K::Error, T::Error>> {
        self.publish_via(&mut Direct, sample).await
    }

    /// Reads one sample, encodes it and publishes its messages; returns how many went out.
    ///
    /// A sensor error publishes nothing. An empty sample (a filter such as
    /// [`Delta`](crate::Delta) held every reading back) publishes nothing and returns `Ok(0)`.
    /// The sample is stamped with [`Clock::unix_time`] if the sensor did not stamp it. For a sensor that fills any capacity, name `N`:
    /// `publish_once::<10>()`.
    pub async fn publish_once<const N: usize>(
        &mut self,
    ) -> Result<usize, PublisherError<S, K, T, N>>
    where
        S: Sensor<N>,
    {
        self.publish_once_via(&mut Direct).await
    }

    /// Publishes `samples` samples, one every `period_ms` (fixed rate: the time a publish
    /// takes is not added to the period). Returns at the first error.
    pub async fn run_for<const N: usize>(
        &mut self,
        period_ms: u32,
        samples: u32,
    ) -> Result<(), PublisherError<S, K, T, N>>
    where
        S: Sensor<N>,
    {
        self.run_for_via(&mut Direct, period_ms, samples).await
    }

    /// Publishes one sample every `period_ms`, forever. Returns only with the first error,
    /// so the caller decides what a failure means (log and call `run` again, reset, …).
    pub async fn run<const N: usize>(
        &mut self,
        period_ms: u32,
    ) -> Result<Infallible, PublisherError<S, K, T, N>>
    where
        S: Sensor<N>,
    {
        self.run_via(&mut Direct, period_ms).await
    }

    /// Milliseconds until the sink's rate limit lets the next message go (0: now), e.g. to
    /// skip a sample instead of waiting for it.
    pub fn ready_in_ms(&mut self) -> u64 {
        let now_ms = self.clock.now_ms();
        self.sink.ready_in_ms(now_ms)
    }

    /// The one publish path: stamps, encodes every message of `sample` and hands each to
    /// `outlet`, waiting out the sink's rate limit first.
    pub(crate) async fn publish_via<O: Outlet<T, C>, const M: usize>(
        &mut self,
        outlet: &mut O,
        sample: &Sample<M>,
    ) -> Result<usize, PublishError<Infallible, K::Error, O::Error>> {
        if sample.timestamp().is_none()
            && let Some(now) = self.clock.unix_time()
        {
            let mut stamped = sample.clone();
            stamped.set_timestamp(Some(now));
            return self.deliver(outlet, &stamped).await;
        }
        self.deliver(outlet, sample).await
    }

    /// [`publish_once`](Self::publish_once) through `outlet`.
    pub(crate) async fn publish_once_via<O: Outlet<T, C>, const N: usize>(
        &mut self,
        outlet: &mut O,
    ) -> Result<usize, PublishError<S::Error, K::Error, O::Error>>
    where
        S: Sensor<N>,
    {
        let mut sample = self.sensor.read().await.map_err(PublishError::Sensor)?;
        if sample.timestamp().is_none() {
            sample.set_timestamp(self.clock.unix_time());
        }
        self.deliver(outlet, &sample)
            .await
            .map_err(PublishError::after_read)
    }

    /// [`run_for`](Self::run_for) through `outlet`, then [`Outlet::flush`].
    pub(crate) async fn run_for_via<O: Outlet<T, C>, const N: usize>(
        &mut self,
        outlet: &mut O,
        period_ms: u32,
        samples: u32,
    ) -> Result<(), PublishError<S::Error, K::Error, O::Error>>
    where
        S: Sensor<N>,
    {
        let mut next_ms = self.clock.now_ms();
        for done in 0..samples {
            self.publish_once_via(outlet).await?;
            if done + 1 < samples {
                let period_ms = self.period_ms(period_ms);
                next_ms = self.wait_until_next(outlet, next_ms, period_ms).await?;
            }
        }
        self.flush_via(outlet).await
    }

    /// [`run`](Self::run) through `outlet`.
    pub(crate) async fn run_via<O: Outlet<T, C>, const N: usize>(
        &mut self,
        outlet: &mut O,
        period_ms: u32,
    ) -> Result<Infallible, PublishError<S::Error, K::Error, O::Error>>
    where
        S: Sensor<N>,
    {
        let mut next_ms = self.clock.now_ms();
        loop {
            self.publish_once_via(outlet).await?;
            let period_ms = self.period_ms(period_ms);
            next_ms = self.wait_until_next(outlet, next_ms, period_ms).await?;
        }
    }

    /// Lends the transport and clock to `outlet` until it has delivered what it holds.
    pub(crate) async fn flush_via<O: Outlet<T, C>, SE>(
        &mut self,
        outlet: &mut O,
    ) -> Result<(), PublishError<SE, K::Error, O::Error>> {
        outlet
            .flush(&mut self.transport, &mut self.clock)
            .await
            .map_err(PublishError::Transport)
    }

    async fn deliver<O: Outlet<T, C>, const M: usize>(
        &mut self,
        outlet: &mut O,
        sample: &Sample<M>,
    ) -> Result<usize, PublishError<Infallible, K::Error, O::Error>> {
        // An empty sample (a filter such as `Delta` held every reading back) is nothing to
        // send, not an error; the outlet still gets its `sample_done` (the queue is served).
        let count = if sample.is_empty() {
            0
        } else {
            self.sink.message_count(sample)
        };
        for index in 0..count {
            let now_ms = self.clock.now_ms();
            let wait_ms = self.sink.ready_in_ms(now_ms);
            if wait_ms > 0 {
                outlet
                    .wait_until(
                        &mut self.transport,
                        &mut self.clock,
                        now_ms.saturating_add(wait_ms),
                    )
                    .await
                    .map_err(PublishError::Transport)?;
            }
            let now_ms = self.clock.now_ms();
            let message = self
                .sink
                .encode(sample, index, now_ms, self.buf)
                .map_err(PublishError::Encode)?
                .with_qos(self.qos)
                .with_retain(self.retain);
            // Right after an encode the sink says how long the next message must wait: the
            // spacing to keep should this one be replayed later.
            let hold_ms = self.sink.ready_in_ms(now_ms);
            outlet
                .send(&mut self.transport, &mut self.clock, &message, hold_ms)
                .await
                .map_err(PublishError::Transport)?;
        }
        outlet
            .sample_done(&mut self.transport, &mut self.clock)
            .await
            .map_err(PublishError::Transport)?;
        Ok(count)
    }

    /// Waits until `last_ms + period_ms` through `outlet` and returns that instant; if that
    /// moment has passed (a slow publish), starts the next period now instead of publishing
    /// in a burst.
    async fn wait_until_next<O: Outlet<T, C>, SE>(
        &mut self,
        outlet: &mut O,
        last_ms: u64,
        period_ms: u32,
    ) -> Result<u64, PublishError<SE, K::Error, O::Error>> {
        let target_ms = last_ms.saturating_add(u64::from(period_ms));
        let now_ms = self.clock.now_ms();
        if now_ms >= target_ms {
            return Ok(now_ms);
        }
        outlet
            .wait_until(&mut self.transport, &mut self.clock, target_ms)
            .await
            .map_err(PublishError::Transport)?;
        Ok(target_ms)
    }

    /// The sensor.
    pub fn sensor(&self) -> &S {
        &self.sensor
    }

    /// The sensor, mutably (e.g. to reconfigure or re-initialise it between publishes).
    pub fn sensor_mut(&mut self) -> &mut S {
        &mut self.sensor
    }

    /// The sink.
    pub fn sink(&self) -> &K {
        &self.sink
    }

    /// The transport (e.g. to read what a [`MemoryTransport`](crate::MemoryTransport) recorded).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (e.g. to reconnect it).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Takes the publisher apart: sensor, sink, transport and clock.
    pub fn into_parts(self) -> (S, K, T, C) {
        (self.sensor, self.sink, self.transport, self.clock)
    }
}
