//! The PySense station: what the example firmware (`examples/esp32`) does, kept here so that
//! a host test runs the firmware's own logic against a real broker instead of trusting that it
//! compiles.
//!
//! Every period the station reads its sensor once and delivers the sample along each
//! [`Route`]: as JSON to an MQTT broker, and, when configured, to a ThingSpeak channel at the
//! channel's update interval. A route whose connection fails backs off exponentially with
//! jitter and reconnects on a later period, while the other route and the sampling go on: a
//! dead ThingSpeak never stops the JSON feed, and a broker outage never stops the sensor.
//! What happens is reported as [`Event`]s to a callback, so the firmware logs it and a test
//! checks it.

use crate::clock::Clock;
use crate::message::QoS;
use crate::reading::Sample;
use crate::sensor::Sensor;
use crate::sink::Sink;
use crate::transport::Transport;
use core::fmt;
use embedded_hal_async::delay::DelayNs;
use rand_core::Rng;

/// First wait after a failed connection or publish.
pub const BACKOFF_MIN_MS: u64 = 1_000;
/// Longest wait between two attempts, however long the outage: a minute keeps a returning
/// broker from waiting long, and a dead one from being hammered.
pub const BACKOFF_MAX_MS: u64 = 60_000;

/// Where a route delivers, for the [`Event`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Destination {
    /// The MQTT broker receiving the JSON feed.
    Broker,
    /// The ThingSpeak channel.
    ThingSpeak,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Destination::Broker => "broker",
            Destination::ThingSpeak => "ThingSpeak",
        })
    }
}

/// What the station did, reported as it happens.
///
/// Errors are borrowed as `dyn Display` so one callback serves every sensor and transport.
#[derive(Clone, Copy)]
pub enum Event<'a> {
    /// Reading the sensor failed; nothing was published this period.
    SensorFailed {
        /// Why.
        error: &'a dyn fmt::Display,
    },
    /// A connection is being opened.
    Connecting {
        /// To what.
        to: Destination,
    },
    /// A connection is open.
    Connected {
        /// To what.
        to: Destination,
    },
    /// Opening a connection failed; the next attempt comes after `retry_in_ms`.
    ConnectFailed {
        /// To what.
        to: Destination,
        /// Why.
        error: &'a dyn fmt::Display,
        /// How long the route now waits.
        retry_in_ms: u64,
    },
    /// A message was delivered (written for QoS 0, acknowledged for QoS 1).
    Published {
        /// To what.
        to: Destination,
        /// Its topic.
        topic: &'a str,
        /// Its payload (UTF-8 for every sink of this crate).
        payload: &'a [u8],
    },
    /// Encoding or delivering a message failed; the route reconnects after `retry_in_ms`.
    PublishFailed {
        /// To what.
        to: Destination,
        /// Why.
        error: &'a dyn fmt::Display,
        /// How long the route now waits.
        retry_in_ms: u64,
    },
    /// The route is backing off after a failure; this sample is not sent along it.
    Skipped {
        /// Which route.
        to: Destination,
        /// Time left before the next attempt.
        retry_in_ms: u64,
    },
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::SensorFailed { error } => write!(f, "sensor: {error}"),
            Event::Connecting { to } => write!(f, "{to}: connecting"),
            Event::Connected { to } => write!(f, "{to}: connected"),
            Event::ConnectFailed {
                to,
                error,
                retry_in_ms,
            } => write!(
                f,
                "{to}: connect failed ({error}), retry in {retry_in_ms} ms"
            ),
            Event::Published { to, topic, payload } => match core::str::from_utf8(payload) {
                Ok(text) => write!(f, "{to}: {topic} {text}"),
                Err(_) => write!(f, "{to}: {topic} ({} bytes)", payload.len()),
            },
            Event::PublishFailed {
                to,
                error,
                retry_in_ms,
            } => write!(
                f,
                "{to}: publish failed ({error}), retry in {retry_in_ms} ms"
            ),
            Event::Skipped { to, retry_in_ms } => {
                write!(f, "{to}: backing off, retry in {retry_in_ms} ms")
            }
        }
    }
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Event<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

/// One way out for samples: a sink, the transport that delivers its messages, the buffer it
/// encodes into, and the route's backoff state.
pub struct Route<'b, K, T> {
    to: Destination,
    sink: K,
    transport: T,
    buf: &'b mut [u8],
    qos: QoS,
    failures: u32,
    retry_at_ms: u64,
}

impl<'b, K: Sink, T: Transport> Route<'b, K, T> {
    /// A route to `to` that encodes with `sink` into `buf` and publishes through `transport`
    /// at QoS 0. `buf` must hold the longest topic plus payload the sink writes.
    pub fn new(to: Destination, sink: K, transport: T, buf: &'b mut [u8]) -> Self {
        Self {
            to,
            sink,
            transport,
            buf,
            qos: QoS::AtMostOnce,
            failures: 0,
            retry_at_ms: 0,
        }
    }

    /// Publishes at `qos` (the broker route; ThingSpeak accepts QoS 0 only).
    pub fn with_qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// The transport, e.g. to read what a [`MemoryTransport`](crate::MemoryTransport) got.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The sink.
    pub fn sink(&self) -> &K {
        &self.sink
    }

    /// Connects if needed, then publishes every message of `sample`. Any failure starts (or
    /// lengthens) the backoff and is reported; it never reaches the caller.
    async fn deliver<const N: usize, R: Rng, F: FnMut(Event<'_>)>(
        &mut self,
        sample: &Sample<N>,
        now_ms: u64,
        rng: &mut R,
        report: &mut F,
    ) where
        K::Error: fmt::Display,
        T::Error: fmt::Display,
    {
        if now_ms < self.retry_at_ms {
            report(Event::Skipped {
                to: self.to,
                retry_in_ms: self.retry_at_ms - now_ms,
            });
            return;
        }
        if !self.transport.is_connected() {
            report(Event::Connecting { to: self.to });
            if let Err(error) = self.transport.connect().await {
                let retry_in_ms = self.back_off(now_ms, rng);
                report(Event::ConnectFailed {
                    to: self.to,
                    error: &error,
                    retry_in_ms,
                });
                return;
            }
            report(Event::Connected { to: self.to });
        }
        for index in 0..self.sink.message_count(sample) {
            let message = match self.sink.encode(sample, index, now_ms, self.buf) {
                Ok(message) => message.with_qos(self.qos),
                Err(error) => {
                    // A sample that does not encode (a NaN reading, a buffer too small) will
                    // not encode on a new connection either: report it and keep the link.
                    report(Event::PublishFailed {
                        to: self.to,
                        error: &error,
                        retry_in_ms: 0,
                    });
                    return;
                }
            };
            if let Err(error) = self.transport.publish(&message).await {
                let retry_in_ms = self.back_off(now_ms, rng);
                report(Event::PublishFailed {
                    to: self.to,
                    error: &error,
                    retry_in_ms,
                });
                return;
            }
            report(Event::Published {
                to: self.to,
                topic: message.topic,
                payload: message.payload,
            });
        }
        self.failures = 0;
    }

    /// Records a failure at `now_ms` and returns how long to wait: `BACKOFF_MIN_MS` doubled
    /// per consecutive failure, capped at `BACKOFF_MAX_MS`, then a random 50–100 % of that so
    /// devices that lost the same broker do not all come back in the same millisecond.
    fn back_off<R: Rng>(&mut self, now_ms: u64, rng: &mut R) -> u64 {
        let exponent = self.failures.min(u64::BITS - 1);
        let ceiling = BACKOFF_MIN_MS
            .saturating_mul(1u64 << exponent)
            .min(BACKOFF_MAX_MS);
        let half = ceiling / 2;
        let wait = half + u64::from(rng.next_u32()) % (ceiling - half + 1);
        self.failures = self.failures.saturating_add(1);
        self.retry_at_ms = now_ms.saturating_add(wait);
        wait
    }
}

/// The station: a sensor read every `period_ms`, each sample sent along the broker route and,
/// if there is one, the ThingSpeak route.
///
/// `N` is the sample capacity. Build it with [`Station::new`], then call [`Station::run`]
/// (forever, what the firmware does) or [`Station::step`] (one period, for tests and for
/// callers with their own loop).
pub struct Station<'b, S, J, T, K, U, C, R, const N: usize> {
    sensor: S,
    broker: Route<'b, J, T>,
    thingspeak: Option<Route<'b, K, U>>,
    clock: C,
    rng: R,
    period_ms: u32,
}

impl<'b, S, J, T, K, U, C, R, const N: usize> Station<'b, S, J, T, K, U, C, R, N>
where
    S: Sensor<N>,
    S::Error: fmt::Display,
    J: Sink,
    J::Error: fmt::Display,
    T: Transport,
    T::Error: fmt::Display,
    K: Sink,
    K::Error: fmt::Display,
    U: Transport,
    U::Error: fmt::Display,
    C: Clock + DelayNs,
    R: Rng,
{
    /// A station that reads `sensor` every `period_ms` and sends each sample along `broker`
    /// and, when given, `thingspeak`. `rng` draws the backoff jitter.
    pub fn new(
        sensor: S,
        broker: Route<'b, J, T>,
        thingspeak: Option<Route<'b, K, U>>,
        clock: C,
        rng: R,
        period_ms: u32,
    ) -> Self {
        Self {
            sensor,
            broker,
            thingspeak,
            clock,
            rng,
            period_ms,
        }
    }

    /// One period's work, without the wait: reads the sensor and delivers the sample along
    /// the broker route, and along the ThingSpeak route when its interval has passed.
    pub async fn step<F: FnMut(Event<'_>)>(&mut self, report: &mut F) {
        let sample = match self.sensor.read().await {
            Ok(mut sample) => {
                if sample.timestamp().is_none() {
                    sample.set_timestamp(self.clock.unix_time());
                }
                sample
            }
            Err(error) => {
                report(Event::SensorFailed { error: &error });
                return;
            }
        };
        let now_ms = self.clock.now_ms();
        self.broker
            .deliver(&sample, now_ms, &mut self.rng, report)
            .await;
        if let Some(thingspeak) = &mut self.thingspeak {
            // The channel takes one update per interval: samples in between go to the
            // broker only, rather than queueing up behind ThingSpeak's rate limit.
            let now_ms = self.clock.now_ms();
            if thingspeak.sink.ready_in_ms(now_ms) == 0 {
                thingspeak
                    .deliver(&sample, now_ms, &mut self.rng, report)
                    .await;
            }
        }
    }

    /// Runs forever: a [`step`](Station::step) every `period_ms`, at a fixed rate (a slow
    /// step shortens the wait after it; one that overruns the period starts the next at once).
    pub async fn run<F: FnMut(Event<'_>)>(&mut self, mut report: F) -> ! {
        let mut next_ms = self.clock.now_ms();
        loop {
            self.step(&mut report).await;
            next_ms = next_ms.saturating_add(u64::from(self.period_ms));
            let now_ms = self.clock.now_ms();
            if now_ms >= next_ms {
                next_ms = now_ms;
                continue;
            }
            let mut wait_ms = next_ms - now_ms;
            while wait_ms > 0 {
                let step = u32::try_from(wait_ms).unwrap_or(u32::MAX);
                self.clock.delay_ms(step).await;
                wait_ms -= u64::from(step);
            }
        }
    }

    /// The broker route.
    pub fn broker(&self) -> &Route<'b, J, T> {
        &self.broker
    }

    /// The ThingSpeak route, if there is one.
    pub fn thingspeak(&self) -> Option<&Route<'b, K, U>> {
        self.thingspeak.as_ref()
    }

    /// The clock (e.g. to advance a [`SimulatedClock`](crate::SimulatedClock) between steps).
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatedClock;
    use crate::reading::{Quantity, Reading};
    use crate::sensor::{MockError, MockSensor};
    use crate::sink::{JsonSink, ThingSpeakSink};
    use crate::transport::MemoryTransport;
    use core::convert::Infallible;
    use embassy_futures::block_on;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// Returns the same number every time: the jitter is then predictable.
    struct Fixed(u32);

    impl rand_core::TryRng for Fixed {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(self.0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
            dest.fill(0);
            Ok(())
        }
    }

    type Memory = MemoryTransport<16, 128>;

    fn sample(temperature: f32) -> Result<Sample<2>, MockError> {
        Sample::from_readings(&[
            Reading::new(Quantity::Temperature, temperature),
            Reading::new(Quantity::Humidity, 40.0),
        ])
        .map_err(|_| MockError::Scripted(0))
    }

    fn thingspeak() -> ThingSpeakSink<'static> {
        ThingSpeakSink::new(42, &[(1, Quantity::Temperature), (2, Quantity::Humidity)]).unwrap()
    }

    fn payloads(transport: &Memory) -> Vec<String> {
        transport
            .messages()
            .iter()
            .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn every_sample_goes_to_the_broker_and_one_per_interval_to_thingspeak() {
        let script = [sample(20.0), sample(21.0), sample(22.0), sample(23.0)];
        let (mut json_buf, mut ts_buf) = ([0u8; 128], [0u8; 128]);
        let mut station = Station::new(
            MockSensor::new(&script),
            Route::new(
                Destination::Broker,
                JsonSink::object("d/value"),
                Memory::new(),
                &mut json_buf,
            ),
            Some(Route::new(
                Destination::ThingSpeak,
                thingspeak(),
                Memory::new(),
                &mut ts_buf,
            )),
            SimulatedClock::new(),
            Fixed(0),
            10_000,
        );
        for _ in 0..script.len() {
            block_on(station.step(&mut |_| {}));
            station.clock_mut().advance_ms(10_000);
        }
        assert_eq!(
            payloads(station.broker().transport()),
            [
                r#"{"temperature":20,"humidity":40}"#,
                r#"{"temperature":21,"humidity":40}"#,
                r#"{"temperature":22,"humidity":40}"#,
                r#"{"temperature":23,"humidity":40}"#,
            ]
        );
        // t = 0 s, 10 s (too soon), 20 s, 30 s (too soon): the 15 s limit is never broken.
        assert_eq!(
            payloads(station.thingspeak().unwrap().transport()),
            ["field1=20&field2=40", "field1=22&field2=40"]
        );
    }

    #[test]
    fn a_failed_publish_backs_off_then_the_route_sends_again() {
        let script = [sample(20.0), sample(21.0), sample(22.0)];
        let mut json_buf = [0u8; 128];
        let mut broker = Memory::new();
        broker.fail_next(1);
        let mut station = Station::new(
            MockSensor::new(&script),
            Route::new(
                Destination::Broker,
                JsonSink::object("d/value"),
                broker,
                &mut json_buf,
            ),
            None::<Route<'_, ThingSpeakSink<'_>, Memory>>,
            SimulatedClock::new(),
            // next_u32 % (ceiling - half + 1) with ceiling 1000 ms: 250 → wait 750 ms.
            Fixed(250),
            500,
        );
        let mut events = Vec::new();
        for _ in 0..script.len() {
            block_on(station.step(&mut |e| events.push(e.to_string())));
            station.clock_mut().advance_ms(500);
        }
        assert_eq!(
            events,
            [
                "broker: publish failed (injected transport failure), retry in 750 ms",
                "broker: backing off, retry in 250 ms",
                r#"broker: d/value {"temperature":22,"humidity":40}"#,
            ]
        );
        assert_eq!(station.broker().transport().attempts(), 2);
    }

    #[test]
    fn consecutive_failures_double_the_wait_up_to_the_cap() {
        let mut buf = [0u8; 8];
        let mut route = Route::new(
            Destination::Broker,
            JsonSink::object("t"),
            Memory::new(),
            &mut buf,
        );
        let mut rng = Fixed(u32::MAX);
        let waits: Vec<u64> = (0..9).map(|_| route.back_off(0, &mut rng)).collect();
        let ceilings = [
            1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
        ];
        for (wait, ceiling) in waits.iter().zip(ceilings) {
            assert!(
                (ceiling / 2..=ceiling).contains(wait),
                "{wait} not in {ceiling}/2..={ceiling}"
            );
        }
        // A zero draw gives exactly half: the jitter spans 50–100 % of the ceiling.
        let mut low = Fixed(0);
        let mut buf = [0u8; 8];
        let mut fresh = Route::new(
            Destination::Broker,
            JsonSink::object("t"),
            Memory::new(),
            &mut buf,
        );
        assert_eq!(fresh.back_off(0, &mut low), 500);
        assert_eq!(fresh.back_off(0, &mut low), 1_000);
    }

    #[test]
    fn a_sensor_failure_publishes_nothing_and_is_reported() {
        let script = [Err(MockError::Scripted(3)), sample(20.0)];
        let mut json_buf = [0u8; 128];
        let mut station = Station::new(
            MockSensor::new(&script),
            Route::new(
                Destination::Broker,
                JsonSink::object("d/value"),
                Memory::new(),
                &mut json_buf,
            ),
            None::<Route<'_, ThingSpeakSink<'_>, Memory>>,
            SimulatedClock::new(),
            Fixed(0),
            1_000,
        );
        let mut events = Vec::new();
        block_on(station.step(&mut |e| events.push(e.to_string())));
        assert_eq!(events, ["sensor: scripted sensor failure 3"]);
        assert!(station.broker().transport().messages().is_empty());
        block_on(station.step(&mut |_| {}));
        assert_eq!(station.broker().transport().messages().len(), 1);
    }

    #[test]
    fn a_failing_thingspeak_does_not_stop_the_broker_feed() {
        let script = [sample(20.0), sample(21.0)];
        let (mut json_buf, mut ts_buf) = ([0u8; 128], [0u8; 128]);
        let mut dead = Memory::new();
        dead.fail_next(usize::MAX);
        let mut station = Station::new(
            MockSensor::new(&script),
            Route::new(
                Destination::Broker,
                JsonSink::object("d/value"),
                Memory::new(),
                &mut json_buf,
            ),
            Some(Route::new(
                Destination::ThingSpeak,
                thingspeak(),
                dead,
                &mut ts_buf,
            )),
            SimulatedClock::new(),
            Fixed(0),
            20_000,
        );
        for _ in 0..script.len() {
            block_on(station.step(&mut |_| {}));
            station.clock_mut().advance_ms(20_000);
        }
        assert_eq!(station.broker().transport().messages().len(), 2);
        assert!(
            station
                .thingspeak()
                .unwrap()
                .transport()
                .messages()
                .is_empty()
        );
    }
}
