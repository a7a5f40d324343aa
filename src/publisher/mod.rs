//! [`Publisher`]: the loop that reads a sensor, encodes with a sink and publishes through a
//! transport. It is the only part of the crate that knows all three.
//!
//! [`ResilientPublisher`] wraps a `Publisher` to live through broker outages: it keeps
//! messages in a [`MessageQueue`] and reconnects on a [`Backoff`] schedule. The
//! plain `Publisher` stays for callers who handle failures themselves.

mod backoff;
mod queue;
mod resilient;

pub use backoff::{
    Backoff, BackoffConfig, BackoffError, DEFAULT_BASE_MS, DEFAULT_CAP_MS, DEFAULT_FACTOR,
    DEFAULT_JITTER_PERCENT,
};
pub use queue::{MessageQueue, QueueError};
pub use resilient::{ResilientPublisher, Stats};

use crate::clock::Clock;
use crate::message::QoS;
use crate::sensor::Sensor;
use crate::sink::Sink;
use crate::transport::Transport;
use core::convert::Infallible;
use core::fmt;
use embedded_hal_async::delay::DelayNs;

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

/// A publish failed; says at which stage and keeps the underlying error.
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
    /// were published. ([`ResilientPublisher`] reconnects instead and never returns this.)
    Transport(TE),
    /// [`ResilientPublisher`] only: the broker stayed away through the
    /// [`BackoffConfig::max_attempts`] reconnection attempts. Every message not delivered is
    /// still in [`ResilientPublisher::queue`]; calling the publisher again starts a new round
    /// of attempts.
    GaveUp {
        /// Reconnection attempts made, each after a backoff wait.
        attempts: u32,
        /// The error of the last failed attempt.
        last: TE,
    },
    /// [`ResilientPublisher`] only: a message could not be queued (larger than the whole
    /// queue); messages of the sample before this one were queued.
    Queue(QueueError),
}

impl<SE, KE, TE> PublishError<SE, KE, TE> {
    /// Which stage failed.
    pub fn stage(&self) -> Stage {
        match self {
            PublishError::Sensor(_) => Stage::Sensor,
            PublishError::Encode(_) => Stage::Encode,
            PublishError::Queue(_) => Stage::Queue,
            PublishError::Transport(_) | PublishError::GaveUp { .. } => Stage::Transport,
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
            PublishError::GaveUp { attempts, last } => write!(
                f,
                "transport: broker unreachable after {attempts} reconnection attempts \
                 (last: {last}); undelivered messages are still queued"
            ),
            PublishError::Queue(e) => write!(f, "queue: {e}"),
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

/// The error type of a [`Publisher`] over sensor `S`, sink `K` and transport `T`.
pub type PublisherError<S, K, T, const N: usize> =
    PublishError<<S as Sensor<N>>::Error, <K as Sink>::Error, <T as Transport>::Error>;

/// Reads a [`Sensor`], encodes with a [`Sink`] into a caller-owned buffer, publishes through a
/// [`Transport`].
///
/// `N` is the sample capacity; `C` supplies time ([`Clock`]) and waiting ([`DelayNs`]). The
/// buffer must hold the longest topic plus payload the sink writes.
///
/// Rate limits: before each message the publisher asks the sink how long to wait
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
pub struct Publisher<'b, S, K, T, C, const N: usize> {
    sensor: S,
    sink: K,
    transport: T,
    clock: C,
    buf: &'b mut [u8],
    qos: QoS,
    retain: bool,
}

impl<'b, S, K, T, C, const N: usize> Publisher<'b, S, K, T, C, N>
where
    S: Sensor<N>,
    K: Sink,
    T: Transport,
    C: Clock + DelayNs,
{
    /// A publisher at QoS 0, not retained, encoding into `buf`.
    pub fn new(sensor: S, sink: K, transport: T, clock: C, buf: &'b mut [u8]) -> Self {
        Self {
            sensor,
            sink,
            transport,
            clock,
            buf,
            qos: QoS::AtMostOnce,
            retain: false,
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

    /// Reads one sample, encodes it and publishes its messages; returns how many went out.
    ///
    /// A sensor error publishes nothing. The sample is stamped with [`Clock::unix_time`] if
    /// the sensor did not stamp it.
    pub async fn publish_once(&mut self) -> Result<usize, PublisherError<S, K, T, N>> {
        let mut sample = self.sensor.read().await.map_err(PublishError::Sensor)?;
        if sample.timestamp().is_none() {
            sample.set_timestamp(self.clock.unix_time());
        }
        let count = self.sink.message_count(&sample);
        for index in 0..count {
            let wait_ms = self.sink.ready_in_ms(self.clock.now_ms());
            self.wait_ms(wait_ms).await;
            let now_ms = self.clock.now_ms();
            let message = self
                .sink
                .encode(&sample, index, now_ms, self.buf)
                .map_err(PublishError::Encode)?
                .with_qos(self.qos)
                .with_retain(self.retain);
            self.transport
                .publish(&message)
                .await
                .map_err(PublishError::Transport)?;
        }
        Ok(count)
    }

    /// Publishes `samples` samples, one every `period_ms` (fixed rate: the time a publish
    /// takes is not added to the period). Returns at the first error.
    pub async fn run_for(
        &mut self,
        period_ms: u32,
        samples: u32,
    ) -> Result<(), PublisherError<S, K, T, N>> {
        let mut next_ms = self.clock.now_ms();
        for done in 0..samples {
            self.publish_once().await?;
            if done + 1 < samples {
                next_ms = self.wait_until_next(next_ms, period_ms).await;
            }
        }
        Ok(())
    }

    /// Publishes one sample every `period_ms`, forever. Returns only with the first error,
    /// so the caller decides what a failure means (log and call `run` again, reset, …).
    pub async fn run(&mut self, period_ms: u32) -> Result<Infallible, PublisherError<S, K, T, N>> {
        let mut next_ms = self.clock.now_ms();
        loop {
            self.publish_once().await?;
            next_ms = self.wait_until_next(next_ms, period_ms).await;
        }
    }

    /// Waits until `last_ms + period_ms` and returns that instant; if that moment has
    /// passed (a slow publish), starts the next period now instead of publishing in a burst.
    async fn wait_until_next(&mut self, last_ms: u64, period_ms: u32) -> u64 {
        let target = last_ms.saturating_add(u64::from(period_ms));
        let now = self.clock.now_ms();
        if now >= target {
            return now;
        }
        self.wait_ms(target - now).await;
        target
    }

    async fn wait_ms(&mut self, mut ms: u64) {
        while ms > 0 {
            let step = u32::try_from(ms).unwrap_or(u32::MAX);
            self.clock.delay_ms(step).await;
            ms -= u64::from(step);
        }
    }

    /// The sensor.
    pub fn sensor(&self) -> &S {
        &self.sensor
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
