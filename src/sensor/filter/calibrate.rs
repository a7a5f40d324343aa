//! [`Calibrate`]: a linear correction, `value * multiply + offset`.

use super::{FilterError, apply, finite};
use crate::reading::{Quantity, Sample};
use crate::sensor::Sensor;

/// Linear calibration: publishes `value * multiply + offset` for `quantity`, from the two
/// numbers or from two reference points.
///
/// ```
/// use sensorpub::{Calibrate, MockSensor, Quantity, Reading, Sample, Sensor};
///
/// let raw = Sample::<1>::from_readings(&[Reading::new(Quantity::Temperature, 20.0)])?;
/// let script = [Ok(raw.clone()), Ok(raw)];
/// // The sensor reads 0.5 °C high.
/// let mut sensor = Calibrate::linear(MockSensor::new(&script), Quantity::Temperature, 1.0, -0.5)?;
/// assert_eq!(embassy_futures::block_on(sensor.read())?.get(Quantity::Temperature), Some(19.5));
/// // It read 0 in ice water (0 °C) and 98 in boiling water (100 °C).
/// let sensor = sensor.into_inner();
/// let mut sensor = Calibrate::from_points(sensor, Quantity::Temperature, (0.0, 0.0), (98.0, 100.0))?;
/// let t = embassy_futures::block_on(sensor.read())?.get(Quantity::Temperature).unwrap();
/// assert!((t - 20.408_163).abs() < 1e-4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrate<S> {
    sensor: S,
    quantity: Quantity,
    multiply: f32,
    offset: f32,
}

impl<S> Calibrate<S> {
    /// Publishes `value * multiply + offset`; [`FilterError::NotFinite`] if either is NaN or
    /// infinite.
    pub fn linear(
        sensor: S,
        quantity: Quantity,
        multiply: f32,
        offset: f32,
    ) -> Result<Self, FilterError> {
        finite(&[multiply, offset])?;
        Ok(Self {
            sensor,
            quantity,
            multiply,
            offset,
        })
    }

    /// The line through two `(raw, true)` points: the sensor read `raw` where the true value
    /// was `true`. [`FilterError::SamePoints`] if both raw values are equal,
    /// [`FilterError::NotFinite`] if a number (or the resulting line) is not finite.
    pub fn from_points(
        sensor: S,
        quantity: Quantity,
        (raw_a, true_a): (f32, f32),
        (raw_b, true_b): (f32, f32),
    ) -> Result<Self, FilterError> {
        finite(&[raw_a, true_a, raw_b, true_b])?;
        if raw_a == raw_b {
            return Err(FilterError::SamePoints);
        }
        let multiply = (true_b - true_a) / (raw_b - raw_a);
        let offset = true_a - multiply * raw_a;
        // Points far apart can overflow f32; `linear` refuses the infinite result.
        Self::linear(sensor, quantity, multiply, offset)
    }

    /// The factor and the offset, as `(multiply, offset)`.
    pub fn coefficients(&self) -> (f32, f32) {
        (self.multiply, self.offset)
    }

    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.sensor
    }
}

impl<S: Sensor<N>, const N: usize> Sensor<N> for Calibrate<S> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, S::Error> {
        let sample = self.sensor.read().await?;
        let (multiply, offset) = (self.multiply, self.offset);
        Ok(apply(sample, self.quantity, |v| {
            Some(v * multiply + offset)
        }))
    }
}
