//! What the publisher knows about delivery, and when it stops waiting for the broker.
//!
//! [`Watched`] wraps the transport: every message it reports `Ok` for is a delivery (QoS 1:
//! the broker acknowledged it; QoS 0: written to a connection that was open), and every
//! failure tells the [`OutageWatch`] that the broker is away. The example gives up when an
//! outage has lasted `--give-up-after` seconds; `ResilientPublisher` itself retries forever.

use sensorpub::{BackoffConfig, BackoffError, Message, Transport};
use std::cell::{Cell, RefCell};
use std::fmt::Display;

/// Messages kept while the broker is away, unless `--queue` says otherwise: at the default
/// interval (1 s) a 5-minute outage is 300 messages plus the reconnection wait, well inside.
pub const DEFAULT_QUEUE: usize = 1024;
/// The queue capacities `--queue` offers. The capacity is a type parameter of
/// `MessageQueue` (no heap, as on a microcontroller), so the example is built for these.
pub const QUEUE_CHOICES: [usize; 6] = [16, 64, 256, 1024, 4096, 16384];
/// Seconds of outage before the example gives up, unless `--give-up-after` says otherwise:
/// twice the 5-minute outage the defaults are made to ride out.
pub const DEFAULT_GIVE_UP_S: u64 = 600;
/// Milliseconds between samples, unless `--interval-ms` says otherwise.
pub const DEFAULT_INTERVAL_MS: u32 = 1000;
/// First reconnection wait; it doubles (with jitter) up to the cap.
pub const RECONNECT_BASE_MS: u32 = 250;
/// Longest wait between two reconnection attempts: a broker that came back is found within
/// this, so the queue only has to hold the outage plus 5 s.
pub const RECONNECT_CAP_MS: u32 = 5_000;

/// The reconnection schedule: from [`RECONNECT_BASE_MS`] up to [`RECONNECT_CAP_MS`], never
/// running out of attempts (the [`OutageWatch`] decides when to give up, in seconds).
pub fn backoff_config() -> Result<BackoffConfig, BackoffError> {
    Ok(BackoffConfig::new(RECONNECT_BASE_MS, RECONNECT_CAP_MS)?.with_unlimited_attempts())
}

/// Tracks outages from what the transport reports: an outage starts with the first failure
/// after a delivery and ends with the next delivery.
#[derive(Debug)]
pub struct OutageWatch {
    /// `None`: never give up.
    give_up_ms: Option<u64>,
    /// Start of the current outage (monotonic milliseconds), if there is one.
    failing_since_ms: Cell<Option<u64>>,
    /// Whether the transport was connected after its last operation.
    connected: Cell<bool>,
    /// The longest outage seen, in milliseconds (ended or not).
    longest_ms: Cell<u64>,
    /// Why the last operation failed.
    last_error: RefCell<Option<String>>,
}

impl OutageWatch {
    /// A watch that gives up after `give_up_after_s` seconds of outage; 0 means never.
    pub fn new(give_up_after_s: u64) -> Self {
        Self {
            give_up_ms: (give_up_after_s > 0).then(|| give_up_after_s.saturating_mul(1000)),
            failing_since_ms: Cell::new(None),
            connected: Cell::new(true),
            longest_ms: Cell::new(0),
            last_error: RefCell::new(None),
        }
    }

    /// A message was delivered at `now_ms`: any outage is over.
    pub fn delivered(&self, now_ms: u64) {
        self.note_length(now_ms);
        self.failing_since_ms.set(None);
        self.connected.set(true);
    }

    /// A connect succeeded: the outage is not over until a message gets through (a broker
    /// that accepts connections but drops every message is still away).
    pub fn connected(&self) {
        self.connected.set(true);
    }

    /// An operation failed at `now_ms` with `error`; `connected` is whether the transport
    /// still holds a connection.
    pub fn failed(&self, now_ms: u64, connected: bool, error: String) {
        if self.failing_since_ms.get().is_none() {
            self.failing_since_ms.set(Some(now_ms));
        }
        self.note_length(now_ms);
        self.connected.set(connected);
        *self.last_error.borrow_mut() = Some(error);
    }

    fn note_length(&self, now_ms: u64) {
        if let Some(since) = self.failing_since_ms.get() {
            let length = now_ms.saturating_sub(since);
            self.longest_ms.set(self.longest_ms.get().max(length));
        }
    }

    /// Whether to give up at `now_ms`: an outage has lasted the give-up time and the transport
    /// is not connected (right after a successful reconnect the publisher gets its chance).
    pub fn should_give_up(&self, now_ms: u64) -> bool {
        self.note_length(now_ms);
        match (self.give_up_ms, self.failing_since_ms.get()) {
            (Some(limit), Some(since)) => {
                !self.connected.get() && now_ms.saturating_sub(since) >= limit
            }
            _ => false,
        }
    }

    /// The longest outage seen so far, in milliseconds.
    pub fn longest_outage_ms(&self) -> u64 {
        self.longest_ms.get()
    }

    /// Why the last failed operation failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.borrow().clone()
    }
}

/// A transport that reports to an [`OutageWatch`] and counts (and, if asked, prints and
/// keeps) what it delivered.
pub struct Watched<'w, T, F> {
    inner: T,
    watch: &'w OutageWatch,
    now_ms: F,
    /// Print `delivered  <topic>  <payload>` for each delivery.
    echo: bool,
    /// Payloads delivered, in order, when they are to be verified.
    kept: Option<&'w RefCell<Vec<Vec<u8>>>>,
}

impl<'w, T, F: FnMut() -> u64> Watched<'w, T, F> {
    /// Wraps `inner`, reporting to `watch` with time from `now_ms`.
    pub fn new(inner: T, watch: &'w OutageWatch, now_ms: F) -> Self {
        Self {
            inner,
            watch,
            now_ms,
            echo: false,
            kept: None,
        }
    }

    /// Prints every delivery on stdout.
    pub fn echo(mut self) -> Self {
        self.echo = true;
        self
    }

    /// Keeps every delivered payload in `kept`.
    pub fn keep(mut self, kept: &'w RefCell<Vec<Vec<u8>>>) -> Self {
        self.kept = Some(kept);
        self
    }

    /// The wrapped transport.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: Transport, F: FnMut() -> u64> Watched<'_, T, F> {
    fn report<E: Display>(&mut self, result: &Result<(), E>) {
        if let Err(e) = result {
            let now = (self.now_ms)();
            self.watch
                .failed(now, self.inner.is_connected(), e.to_string());
        }
    }
}

impl<T, F> Transport for Watched<'_, T, F>
where
    T: Transport,
    T::Error: Display,
    F: FnMut() -> u64,
{
    type Error = T::Error;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), Self::Error> {
        let result = self.inner.publish(message).await;
        match &result {
            Ok(()) => {
                self.watch.delivered((self.now_ms)());
                if self.echo {
                    println!(
                        "delivered  {}  {}",
                        message.topic,
                        String::from_utf8_lossy(message.payload)
                    );
                }
                if let Some(kept) = self.kept {
                    kept.borrow_mut().push(message.payload.to_vec());
                }
            }
            Err(_) => self.report(&result),
        }
        result
    }

    async fn connect(&mut self) -> Result<(), Self::Error> {
        let result = self.inner.connect().await;
        match &result {
            Ok(()) => self.watch.connected(),
            Err(_) => self.report(&result),
        }
        result
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    async fn poll(&mut self) -> Result<(), Self::Error> {
        let result = self.inner.poll().await;
        self.report(&result);
        result
    }

    fn broker_index(&self) -> usize {
        self.inner.broker_index()
    }

    fn max_message_len(&self) -> Option<usize> {
        self.inner.max_message_len()
    }

    fn is_permanent(&self, error: &Self::Error) -> bool {
        self.inner.is_permanent(error)
    }
}
