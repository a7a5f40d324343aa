//! [`MovingAverage`]: the mean of the last `W` readings of one quantity.

use super::apply;
use crate::reading::{Quantity, Sample};
use crate::sensor::Sensor;

/// Sliding-window moving average: publishes the mean of the last `W` values of `quantity`
/// (fewer until `W` have been seen). Every sample is published; pair it with [`Throttle`] or
/// [`Delta`] to send less often.
///
/// The window lives in the struct (`W` × 4 bytes); `W` must be at least 1 (checked at compile
/// time).
///
/// ```
/// use sensorpub::{MockSensor, MovingAverage, Quantity, Reading, Sample, Sensor};
///
/// let script: Vec<_> = [20.0, 22.0, 24.0, 26.0]
///     .iter()
///     .map(|&t| Ok(Sample::<1>::from_readings(&[Reading::new(Quantity::Temperature, t)]).unwrap()))
///     .collect();
/// let mut sensor = MovingAverage::<_, 3>::new(MockSensor::new(&script), Quantity::Temperature);
/// let mut read = || embassy_futures::block_on(sensor.read()).unwrap().get(Quantity::Temperature);
/// assert_eq!(read(), Some(20.0)); // [20]
/// assert_eq!(read(), Some(21.0)); // [20, 22]
/// assert_eq!(read(), Some(22.0)); // [20, 22, 24]
/// assert_eq!(read(), Some(24.0)); // [22, 24, 26]
/// ```
///
/// [`Throttle`]: crate::Throttle
/// [`Delta`]: crate::Delta
#[derive(Debug, Clone, PartialEq)]
pub struct MovingAverage<S, const W: usize> {
    sensor: S,
    quantity: Quantity,
    window: [f32; W],
    /// Values in the window (up to `W`).
    len: usize,
    /// Slot the next value overwrites.
    next: usize,
}

impl<S, const W: usize> MovingAverage<S, W> {
    /// Averages the last `W` readings of `quantity` from `sensor`.
    pub const fn new(sensor: S, quantity: Quantity) -> Self {
        const { assert!(W > 0, "a moving average needs a window of at least 1") };
        Self {
            sensor,
            quantity,
            window: [0.0; W],
            len: 0,
            next: 0,
        }
    }

    /// Forgets every value seen; the next reading starts a new window.
    pub fn reset(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.sensor
    }

    fn push(&mut self, value: f32) -> f32 {
        self.window[self.next] = value;
        self.next = (self.next + 1) % W;
        self.len = (self.len + 1).min(W);
        // Summed afresh each time, so no rounding error accumulates over a long run; in f32,
        // as an MCU's FPU computes (f64 would link soft-float routines on a Cortex-M4F).
        let sum: f32 = self.window[..self.len].iter().sum();
        sum / self.len as f32
    }
}

impl<S: Sensor<N>, const N: usize, const W: usize> Sensor<N> for MovingAverage<S, W> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, S::Error> {
        let sample = self.sensor.read().await?;
        let quantity = self.quantity;
        Ok(apply(sample, quantity, |v| Some(self.push(v))))
    }
}
