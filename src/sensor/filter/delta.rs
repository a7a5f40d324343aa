//! [`Delta`]: publish one quantity only when it changed, and optionally at least every T
//! (the heartbeat).

use super::{FilterError, apply, finite};
use crate::clock::Clock;
use crate::reading::{Quantity, Sample};
use crate::sensor::Sensor;

/// The clock of a [`Delta`] without a heartbeat: it is never read.
///
/// It answers 0 if asked, which is a valid (if frozen) monotonic clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoClock;

impl Clock for NoClock {
    fn now_ms(&mut self) -> u64 {
        0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Threshold {
    /// At least this far from the last published value.
    Absolute(f32),
    /// At least this many percent of the last published value away from it.
    Percent(f32),
}

/// Publishes `quantity` only when it moved far enough from the value last published: by at
/// least `threshold` ([`absolute`](Delta::absolute)) or by at least `percent` % of that value
/// ([`percent`](Delta::percent)); an unchanged value is never "far enough", so a threshold of
/// 0 means "on any change". The first value is always published. A held-back reading is
/// removed from the sample; a sample left empty publishes nothing.
///
/// **Heartbeat.** [`with_heartbeat`](Delta::with_heartbeat) also publishes the current value
/// when nothing was published for `period_ms`, so a subscriber can tell a steady reading from
/// a dead node (readings arrive when they change, and at least every `period_ms`).
///
/// ```
/// use sensorpub::{Delta, MockSensor, Quantity, Reading, Sample, Sensor, SimulatedClock};
///
/// let script: Vec<_> = [20.0, 20.1, 20.6, 20.6]
///     .iter()
///     .map(|&t| Ok(Sample::<1>::from_readings(&[Reading::new(Quantity::Temperature, t)]).unwrap()))
///     .collect();
/// let clock = SimulatedClock::new();
/// let mut sensor = Delta::absolute(MockSensor::new(&script), Quantity::Temperature, 0.5)?
///     .with_heartbeat(&clock, 60_000);
/// let mut read = || embassy_futures::block_on(sensor.read()).unwrap().get(Quantity::Temperature);
/// assert_eq!(read(), Some(20.0)); // first value
/// assert_eq!(read(), None); // 0.1 away: held back
/// assert_eq!(read(), Some(20.6)); // 0.6 away from 20.0
/// clock.advance_ms(60_000);
/// assert_eq!(read(), Some(20.6)); // unchanged, but a minute since the last one
/// # Ok::<(), sensorpub::FilterError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Delta<S, C = NoClock> {
    sensor: S,
    quantity: Quantity,
    threshold: Threshold,
    clock: C,
    heartbeat_ms: Option<u64>,
    /// The last value published and when (`clock` time; 0 without a heartbeat).
    last: Option<(f32, u64)>,
}

impl<S> Delta<S, NoClock> {
    /// Publishes `quantity` when it is at least `threshold` away from the last published
    /// value. [`FilterError::NegativeThreshold`] below 0, [`FilterError::NotFinite`] for
    /// NaN or infinity.
    pub fn absolute(sensor: S, quantity: Quantity, threshold: f32) -> Result<Self, FilterError> {
        Self::with_threshold(sensor, quantity, threshold, Threshold::Absolute(threshold))
    }

    /// Publishes `quantity` when it is at least `percent` % of the last published value away
    /// from it (after a 0, any change). Errors as [`absolute`](Delta::absolute).
    pub fn percent(sensor: S, quantity: Quantity, percent: f32) -> Result<Self, FilterError> {
        Self::with_threshold(sensor, quantity, percent, Threshold::Percent(percent))
    }

    fn with_threshold(
        sensor: S,
        quantity: Quantity,
        value: f32,
        threshold: Threshold,
    ) -> Result<Self, FilterError> {
        finite(&[value])?;
        if value < 0.0 {
            return Err(FilterError::NegativeThreshold);
        }
        Ok(Self {
            sensor,
            quantity,
            threshold,
            clock: NoClock,
            heartbeat_ms: None,
            last: None,
        })
    }

    /// Also publishes the current value when nothing was published for `period_ms` of
    /// `clock` time (the heartbeat). Share the publisher's clock: `EmbassyClock` is `Copy`;
    /// in tests pass `&SimulatedClock`.
    pub fn with_heartbeat<C: Clock>(self, clock: C, period_ms: u64) -> Delta<S, C> {
        Delta {
            sensor: self.sensor,
            quantity: self.quantity,
            threshold: self.threshold,
            clock,
            heartbeat_ms: Some(period_ms),
            last: None,
        }
    }
}

impl<S, C> Delta<S, C> {
    /// Forgets the last published value; the next reading is published.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.sensor
    }

    fn changed(&self, value: f32, last: f32) -> bool {
        if value == last {
            return false;
        }
        // A difference too large for f32 is infinite, which is "moved far enough" too.
        let moved = (value - last).abs();
        match self.threshold {
            Threshold::Absolute(t) => moved >= t,
            Threshold::Percent(p) => moved >= last.abs() * (p / 100.0),
        }
    }
}

impl<S: Sensor<N>, C: Clock, const N: usize> Sensor<N> for Delta<S, C> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, S::Error> {
        let sample = self.sensor.read().await?;
        let quantity = self.quantity;
        Ok(apply(sample, quantity, |value| {
            // The clock is read only for a heartbeat.
            let now_ms = match self.heartbeat_ms {
                Some(_) => self.clock.now_ms(),
                None => 0,
            };
            let publish = match (self.last, self.heartbeat_ms) {
                (None, _) => true,
                (Some((last, _)), None) => self.changed(value, last),
                (Some((last, at_ms)), Some(period_ms)) => {
                    self.changed(value, last) || now_ms.saturating_sub(at_ms) >= period_ms
                }
            };
            if !publish {
                return None;
            }
            self.last = Some((value, now_ms));
            Some(value)
        }))
    }
}
