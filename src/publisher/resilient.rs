//! [`ResilientPublisher`]: a [`Publisher`] that lives through broker outages.
//!
//! Every encoded message goes into a [`MessageQueue`] first and leaves it only when the
//! transport returns `Ok` (QoS 1: the broker acknowledged it). While the broker is away the
//! publisher keeps sampling into the queue and reconnects on a [`Backoff`] schedule; once
//! back, it sends the queue in order, oldest first, before anything newer.
//!
//! The state machine, driven by the clock (never by a busy loop):
//!
//! ```text
//! Up   ── publish Ok ─────────────────────▶ Up: message popped, backoff reset
//! Up   ── publish or poll Err ────────────▶ Down { retry_at: now + next backoff wait }
//! Up   ── transport says not connected ───▶ Down { retry_at: now }
//! Down ── at retry_at, connect Ok ────────▶ Up: the queue is sent, oldest first
//! Down ── at retry_at, connect Err ───────▶ Down { retry_at: now + next backoff wait }
//! any failure with no backoff wait left ──▶ PublishError::GaveUp; queue kept, backoff reset,
//!                                           Down { retry_at: now } (the next call retries)
//! ```

use super::backoff::Backoff;
use super::queue::MessageQueue;
use super::{PublishError, Publisher, PublisherError};
use crate::clock::Clock;
use crate::sensor::Sensor;
use crate::sink::Sink;
use crate::transport::Transport;
use core::convert::Infallible;
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

/// What a [`ResilientPublisher`] has done, since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
}

/// A [`Publisher`] with an outage queue and reconnection: a short broker outage loses
/// nothing, a long one loses the oldest messages (counted), a permanent one ends in
/// [`PublishError::GaveUp`] with the messages still readable in [`queue`](Self::queue).
///
/// **Delivery guarantee.** A message leaves the queue only when [`Transport::publish`]
/// returned `Ok`. At QoS 1 that means the broker acknowledged it, so every QoS 1 message is
/// delivered **at least once**: one whose acknowledgement was lost with the connection is
/// sent again after the reconnect, and the subscriber may see it twice. At QoS 0 (ThingSpeak)
/// `Ok` means written to the network: messages produced while the broker is known to be away
/// are kept and replayed, but one written just before an unnoticed drop can be lost.
/// Messages are delivered in the order they were produced. When the queue is full the oldest
/// message is dropped and counted in [`Stats::dropped`]; nothing is dropped silently.
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
pub struct ResilientPublisher<
    'b,
    S,
    K,
    T,
    C,
    R,
    const N: usize,
    const MSGS: usize,
    const BYTES: usize,
> {
    publisher: Publisher<'b, S, K, T, C, N>,
    backoff: Backoff<R>,
    queue: MessageQueue<MSGS, BYTES>,
    link: Link,
    /// Earliest instant the front of the queue may reach the broker (a sink's rate limit).
    next_send_ms: u64,
    published: u32,
    reconnects: u32,
}

impl<'b, S, K, T, C, R, const N: usize, const MSGS: usize, const BYTES: usize>
    ResilientPublisher<'b, S, K, T, C, R, N, MSGS, BYTES>
where
    S: Sensor<N>,
    K: Sink,
    T: Transport,
    C: Clock + DelayNs,
    R: Rng,
{
    /// Wraps `publisher` (its QoS, retain flag and buffer are kept), reconnecting on
    /// `backoff`'s schedule and keeping up to the capacity of `queue` through an outage.
    ///
    /// Give the queue more bytes (`BYTES`) than the encode buffer, so that any message the
    /// sink can write also fits the queue.
    pub fn new(
        publisher: Publisher<'b, S, K, T, C, N>,
        backoff: Backoff<R>,
        queue: MessageQueue<MSGS, BYTES>,
    ) -> Self {
        Self {
            publisher,
            backoff,
            queue,
            link: Link::Up,
            next_send_ms: 0,
            published: 0,
            reconnects: 0,
        }
    }

    /// Reads one sample, encodes its messages into the queue, then sends what the link and
    /// the sink's rate limit allow now; returns how many messages the sample became.
    ///
    /// It does not wait for a reconnection: with the broker away the messages stay queued
    /// (see [`flush`](Self::flush)). It waits only as [`Publisher::publish_once`] does, for
    /// the sink's rate limit before encoding, serving the queue meanwhile. Errors:
    /// [`PublishError::Sensor`] (nothing queued), [`PublishError::Encode`],
    /// [`PublishError::Queue`], [`PublishError::GaveUp`].
    pub async fn publish_once(&mut self) -> Result<usize, PublisherError<S, K, T, N>> {
        let p = &mut self.publisher;
        let mut sample = p.sensor.read().await.map_err(PublishError::Sensor)?;
        if sample.timestamp().is_none() {
            sample.set_timestamp(p.clock.unix_time());
        }
        let count = p.sink.message_count(&sample);
        for index in 0..count {
            let now_ms = self.publisher.clock.now_ms();
            let wait_ms = self.publisher.sink.ready_in_ms(now_ms);
            if wait_ms > 0 {
                self.wait_until(now_ms.saturating_add(wait_ms)).await?;
            }
            let p = &mut self.publisher;
            let now_ms = p.clock.now_ms();
            let message = p
                .sink
                .encode(&sample, index, now_ms, p.buf)
                .map_err(PublishError::Encode)?
                .with_qos(p.qos)
                .with_retain(p.retain);
            // Right after an encode the sink says how long the next message must wait: that
            // is the spacing to keep when this message is replayed later.
            let hold_ms = u32::try_from(p.sink.ready_in_ms(now_ms)).unwrap_or(u32::MAX);
            self.queue
                .push_held(&message, hold_ms)
                .map_err(PublishError::Queue)?;
        }
        self.serve().await?;
        Ok(count)
    }

    /// Publishes `samples` samples, one every `period_ms` (fixed rate), then waits until the
    /// queue is empty. Between samples it reconnects and replays as the backoff and rate
    /// limits allow. Returns at the first error; with unlimited attempts it waits for the
    /// broker as long as it takes.
    pub async fn run_for(
        &mut self,
        period_ms: u32,
        samples: u32,
    ) -> Result<(), PublisherError<S, K, T, N>> {
        let mut next_ms = self.publisher.clock.now_ms();
        for done in 0..samples {
            self.publish_once().await?;
            if done + 1 < samples {
                next_ms = self.wait_until_next(next_ms, period_ms).await?;
            }
        }
        self.flush().await
    }

    /// Publishes one sample every `period_ms`, forever, riding out outages. Returns only with
    /// an error (a sensor or encode failure, or [`PublishError::GaveUp`] when the attempts
    /// are limited); calling it again carries on with the queue as it is.
    pub async fn run(&mut self, period_ms: u32) -> Result<Infallible, PublisherError<S, K, T, N>> {
        let mut next_ms = self.publisher.clock.now_ms();
        loop {
            self.publish_once().await?;
            next_ms = self.wait_until_next(next_ms, period_ms).await?;
        }
    }

    /// Waits until every queued message is delivered, reconnecting as needed; returns
    /// [`PublishError::GaveUp`] if the broker stays away through the configured attempts.
    pub async fn flush(&mut self) -> Result<(), PublisherError<S, K, T, N>> {
        loop {
            self.serve().await?;
            if self.queue.is_empty() {
                return Ok(());
            }
            let now_ms = self.publisher.clock.now_ms();
            let wake_ms = self.next_event_ms().unwrap_or(now_ms);
            self.sleep_until(now_ms, wake_ms).await;
        }
    }

    /// Waits until `last_ms + period_ms`, serving the queue meanwhile, and returns that
    /// instant; if it has passed, starts the next period now instead of bursting.
    async fn wait_until_next(
        &mut self,
        last_ms: u64,
        period_ms: u32,
    ) -> Result<u64, PublisherError<S, K, T, N>> {
        let target_ms = last_ms.saturating_add(u64::from(period_ms));
        let now_ms = self.publisher.clock.now_ms();
        if now_ms >= target_ms {
            return Ok(now_ms);
        }
        self.wait_until(target_ms).await?;
        Ok(target_ms)
    }

    /// Waits until `target_ms`, reconnecting and sending queued messages as they fall due.
    async fn wait_until(&mut self, target_ms: u64) -> Result<(), PublisherError<S, K, T, N>> {
        loop {
            self.serve().await?;
            let now_ms = self.publisher.clock.now_ms();
            if now_ms >= target_ms {
                return Ok(());
            }
            let wake_ms = self
                .next_event_ms()
                .map_or(target_ms, |event_ms| event_ms.min(target_ms));
            self.sleep_until(now_ms, wake_ms).await;
        }
    }

    /// Sleeps until `wake_ms`, at least 1 ms so that a loop around it always moves the clock.
    async fn sleep_until(&mut self, now_ms: u64, wake_ms: u64) {
        self.publisher
            .wait_ms(wake_ms.saturating_sub(now_ms).max(1))
            .await;
    }

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
    async fn serve(&mut self) -> Result<(), PublisherError<S, K, T, N>> {
        // A transport that reports "not connected" right after a successful connect must not
        // spin us in a connect loop: its next publish fails and the backoff takes over.
        let mut just_connected = false;
        // Polled once a wake-up: keeps the connection alive and notices a broker that closed
        // it while we were idle, before a message is written into a dead socket.
        let mut polled = false;
        loop {
            let now_ms = self.publisher.clock.now_ms();
            match self.link {
                Link::Down { retry_at_ms } => {
                    if now_ms < retry_at_ms {
                        return Ok(());
                    }
                    match self.publisher.transport.connect().await {
                        Ok(()) => {
                            crate::log::info!(
                                "broker connected; {=usize} messages queued",
                                self.queue.len()
                            );
                            self.link = Link::Up;
                            self.reconnects = self.reconnects.saturating_add(1);
                            just_connected = true;
                        }
                        Err(error) => return self.retry_later(error),
                    }
                }
                Link::Up => {
                    if !just_connected && !self.publisher.transport.is_connected() {
                        // Noticed, not failed: try at once; only a failure waits.
                        self.link = Link::Down {
                            retry_at_ms: now_ms,
                        };
                        continue;
                    }
                    if !just_connected && !polled {
                        polled = true;
                        if let Err(error) = self.publisher.transport.poll().await {
                            return self.retry_later(error);
                        }
                    }
                    let Some((message, hold_ms)) = self.queue.front_held() else {
                        return Ok(());
                    };
                    if now_ms < self.next_send_ms {
                        return Ok(());
                    }
                    let result = self.publisher.transport.publish(&message).await;
                    // Delivered or not (a failed QoS 0 publish may still have arrived), the
                    // next message keeps the sink's distance from this one.
                    let sent_ms = self.publisher.clock.now_ms();
                    self.next_send_ms = sent_ms.saturating_add(u64::from(hold_ms));
                    match result {
                        Ok(()) => {
                            self.queue.pop_front();
                            self.published = self.published.saturating_add(1);
                            // A delivery, not a connect, proves the broker is back: a broker
                            // that accepts connects but fails publishes still runs out the
                            // attempts.
                            self.backoff.reset();
                        }
                        Err(error) => return self.retry_later(error),
                    }
                }
            }
        }
    }

    /// After a failure: schedules the next connection attempt after a backoff wait, or gives
    /// up when the attempts are used up (and starts a fresh round on the next call).
    fn retry_later(&mut self, error: T::Error) -> Result<(), PublisherError<S, K, T, N>> {
        let now_ms = self.publisher.clock.now_ms();
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
                Err(PublishError::GaveUp {
                    attempts,
                    last: error,
                })
            }
        }
    }

    /// The messages not delivered yet, oldest first; still readable after
    /// [`PublishError::GaveUp`].
    pub fn queue(&self) -> &MessageQueue<MSGS, BYTES> {
        &self.queue
    }

    /// Counters: published, queued, dropped, reconnects.
    pub fn stats(&self) -> Stats {
        Stats {
            published: self.published,
            queued: self.queue.len(),
            dropped: self.queue.dropped(),
            reconnects: self.reconnects,
        }
    }

    /// The wrapped publisher (sensor, sink, transport, clock).
    pub fn publisher(&self) -> &Publisher<'b, S, K, T, C, N> {
        &self.publisher
    }

    /// The transport (e.g. to read what a [`MemoryTransport`](crate::MemoryTransport)
    /// recorded).
    pub fn transport(&self) -> &T {
        &self.publisher.transport
    }

    /// The transport, mutably (e.g. to play an outage on a
    /// [`MemoryTransport`](crate::MemoryTransport)).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.publisher.transport
    }
}

#[cfg(test)]
mod tests;
