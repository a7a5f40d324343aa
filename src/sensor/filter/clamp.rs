//! [`Clamp`]: keeps one quantity inside a range.

use super::{FilterError, apply};
use crate::reading::{Quantity, Sample};
use crate::sensor::Sensor;

/// Limits `quantity` to `[min, max]`: a value below is published as `min`, above as `max`.
/// With [`dropping_out_of_range`](Clamp::dropping_out_of_range), such a value is not
/// published at all (a glitch filter).
///
/// ```
/// use sensorpub::{Clamp, MockSensor, Quantity, Reading, Sample, Sensor};
///
/// let script = [Ok(Sample::<1>::from_readings(&[Reading::new(Quantity::Humidity, 103.5)])?)];
/// let mut sensor = Clamp::new(MockSensor::new(&script), Quantity::Humidity, 0.0, 100.0)?;
/// assert_eq!(embassy_futures::block_on(sensor.read())?.get(Quantity::Humidity), Some(100.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Clamp<S> {
    sensor: S,
    quantity: Quantity,
    min: f32,
    max: f32,
    drop: bool,
}

impl<S> Clamp<S> {
    /// Limits `quantity` to `[min, max]`; [`FilterError::EmptyRange`] if `min > max`,
    /// [`FilterError::NotFinite`] for NaN (an infinite bound leaves that side open).
    pub fn new(sensor: S, quantity: Quantity, min: f32, max: f32) -> Result<Self, FilterError> {
        if min.is_nan() || max.is_nan() {
            return Err(FilterError::NotFinite);
        }
        if min > max {
            return Err(FilterError::EmptyRange);
        }
        Ok(Self {
            sensor,
            quantity,
            min,
            max,
            drop: false,
        })
    }

    /// Drops a value outside the range instead of moving it to the nearest bound.
    pub const fn dropping_out_of_range(mut self) -> Self {
        self.drop = true;
        self
    }

    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.sensor
    }
}

impl<S: Sensor<N>, const N: usize> Sensor<N> for Clamp<S> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, S::Error> {
        let sample = self.sensor.read().await?;
        let (min, max, drop) = (self.min, self.max, self.drop);
        Ok(apply(sample, self.quantity, |v| {
            let inside = v >= min && v <= max;
            match (inside, drop) {
                (true, _) => Some(v),
                (false, true) => None,
                (false, false) => Some(v.clamp(min, max)),
            }
        }))
    }
}
