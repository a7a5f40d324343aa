//! [`ExponentialMovingAverage`]: smoothing with a single value of state.

use super::{FilterError, apply, finite};
use crate::reading::{Quantity, Sample};
use crate::sensor::Sensor;

/// Exponential moving average: publishes `alpha * value + (1 - alpha) * previous` for
/// `quantity`; the first value is published as it is. A smaller `alpha` smooths more; `1`
/// passes values through. One `f32` of state, whatever the time constant.
///
/// ```
/// use sensorpub::{ExponentialMovingAverage, MockSensor, Quantity, Reading, Sample, Sensor};
///
/// let script: Vec<_> = [10.0, 20.0, 20.0]
///     .iter()
///     .map(|&v| Ok(Sample::<1>::from_readings(&[Reading::new(Quantity::Value, v)]).unwrap()))
///     .collect();
/// let mut sensor = ExponentialMovingAverage::new(MockSensor::new(&script), Quantity::Value, 0.5)?;
/// let mut read = || embassy_futures::block_on(sensor.read()).unwrap().get(Quantity::Value);
/// assert_eq!(read(), Some(10.0));
/// assert_eq!(read(), Some(15.0));
/// assert_eq!(read(), Some(17.5));
/// # Ok::<(), sensorpub::FilterError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExponentialMovingAverage<S> {
    sensor: S,
    quantity: Quantity,
    alpha: f32,
    average: Option<f32>,
}

impl<S> ExponentialMovingAverage<S> {
    /// Smooths `quantity` with factor `alpha`; [`FilterError::AlphaOutOfRange`] unless
    /// `0 < alpha <= 1`, [`FilterError::NotFinite`] for NaN.
    pub fn new(sensor: S, quantity: Quantity, alpha: f32) -> Result<Self, FilterError> {
        finite(&[alpha])?;
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(FilterError::AlphaOutOfRange);
        }
        Ok(Self {
            sensor,
            quantity,
            alpha,
            average: None,
        })
    }

    /// Forgets the average; the next reading is published as it is.
    pub fn reset(&mut self) {
        self.average = None;
    }

    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.sensor
    }

    fn update(&mut self, value: f32) -> f32 {
        let next = match self.average {
            None => value,
            Some(previous) => previous + self.alpha * (value - previous),
        };
        // Two finite values can still overflow the difference; start again from the value.
        let next = if next.is_finite() { next } else { value };
        self.average = Some(next);
        next
    }
}

impl<S: Sensor<N>, const N: usize> Sensor<N> for ExponentialMovingAverage<S> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, S::Error> {
        let sample = self.sensor.read().await?;
        let quantity = self.quantity;
        Ok(apply(sample, quantity, |v| Some(self.update(v))))
    }
}
