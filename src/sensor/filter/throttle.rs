//! [`Throttle`]: at most one reading of a quantity every T.

use super::apply;
use crate::clock::Clock;
use crate::reading::{Quantity, Sample};
use crate::sensor::Sensor;

/// Publishes `quantity` at most once every `period_ms` of `clock` time: a reading that comes
/// sooner after the last one published is removed from the sample (a sample left empty
/// publishes nothing). Held-back readings do not restart the period.
///
/// Useful when the sensor is read more often than its value should go out, e.g. a fast
/// [`MovingAverage`](crate::MovingAverage) published once a minute.
///
/// ```
/// use sensorpub::{MockSensor, Quantity, Reading, Sample, Sensor, SimulatedClock, Throttle};
///
/// let one = Sample::<1>::from_readings(&[Reading::new(Quantity::Value, 1.0)]).unwrap();
/// let script = [Ok(one)];
/// let clock = SimulatedClock::new();
/// let mut sensor = Throttle::new(MockSensor::new(&script).repeating(), Quantity::Value, &clock, 10_000);
/// let mut read = || embassy_futures::block_on(sensor.read()).unwrap().is_empty();
/// assert!(!read()); // first: published
/// clock.advance_ms(9_999);
/// assert!(read()); // too soon: the sample is empty
/// clock.advance_ms(1);
/// assert!(!read()); // 10 s after the last one
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle<S, C> {
    sensor: S,
    quantity: Quantity,
    clock: C,
    period_ms: u64,
    last_ms: Option<u64>,
}

impl<S, C: Clock> Throttle<S, C> {
    /// Lets through at most one reading of `quantity` every `period_ms` of `clock` time.
    /// Share the publisher's clock: `EmbassyClock` is `Copy`; in tests pass
    /// `&SimulatedClock`.
    pub const fn new(sensor: S, quantity: Quantity, clock: C, period_ms: u64) -> Self {
        Self {
            sensor,
            quantity,
            clock,
            period_ms,
            last_ms: None,
        }
    }

    /// Forgets when the last reading went out; the next one is published.
    pub fn reset(&mut self) {
        self.last_ms = None;
    }

    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.sensor
    }
}

impl<S: Sensor<N>, C: Clock, const N: usize> Sensor<N> for Throttle<S, C> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, S::Error> {
        let sample = self.sensor.read().await?;
        let quantity = self.quantity;
        Ok(apply(sample, quantity, |value| {
            let now_ms = self.clock.now_ms();
            let due = self
                .last_ms
                .is_none_or(|last| now_ms.saturating_sub(last) >= self.period_ms);
            if !due {
                return None;
            }
            self.last_ms = Some(now_ms);
            Some(value)
        }))
    }
}
