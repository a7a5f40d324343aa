//! [`RandomSensor`]: the lab's first exercise, random numbers instead of a real sensor.

use crate::reading::{Quantity, Reading, Sample, SampleFull};
use crate::sensor::Sensor;
use rand_core::Rng;

/// Produces one reading a sample (a [`Sensor<1>`]), drawn uniformly from `[low, high)`.
///
/// By default it mirrors the lab's `random_in_range(0, 1000)`: whole numbers in `0..1000`,
/// quantity [`Quantity::Value`]. The randomness comes from any `rand_core` RNG, e.g. esp-hal's
/// hardware `Rng` on an ESP32.
///
/// ```
/// use sensorpub::{Quantity, RandomSensor, Sample, Sensor};
/// # struct Counter(u32);
/// # impl rand_core::TryRng for Counter {
/// #     type Error = core::convert::Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { self.0 = self.0.wrapping_add(0x9E37_79B9); Ok(self.0) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(u64::from(self.try_next_u32()?)) }
/// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> { d.fill(7); Ok(()) }
/// # }
/// # let rng = Counter(1);
/// let mut sensor = RandomSensor::new(rng).with_quantity(Quantity::Temperature).with_range(15.0, 30.0);
/// let sample: Sample<1> = embassy_futures::block_on(sensor.read()).unwrap();
/// let t = sample.get(Quantity::Temperature).unwrap();
/// assert!((15.0..30.0).contains(&t));
/// ```
#[derive(Debug, Clone)]
pub struct RandomSensor<R> {
    rng: R,
    quantity: Quantity,
    low: f32,
    high: f32,
    whole_numbers: bool,
}

impl<R: Rng> RandomSensor<R> {
    /// The lab's source: whole numbers in `0..1000` as [`Quantity::Value`].
    pub fn new(rng: R) -> Self {
        Self {
            rng,
            quantity: Quantity::Value,
            low: 0.0,
            high: 1000.0,
            whole_numbers: true,
        }
    }

    /// Reports readings of `quantity` instead of [`Quantity::Value`].
    pub fn with_quantity(mut self, quantity: Quantity) -> Self {
        self.quantity = quantity;
        self
    }

    /// Draws real numbers from `[low, high)` instead of whole numbers from `0..1000`.
    ///
    /// Bounds are swapped if given in the wrong order; non-finite bounds become `0.0`.
    pub fn with_range(mut self, low: f32, high: f32) -> Self {
        let finite = |v: f32| if v.is_finite() { v } else { 0.0 };
        let (low, high) = (finite(low), finite(high));
        (self.low, self.high) = if low <= high {
            (low, high)
        } else {
            (high, low)
        };
        self.whole_numbers = false;
        self
    }

    /// Rounds every value down to a whole number, as the lab's `math.floor` does.
    pub fn whole_numbers(mut self) -> Self {
        self.whole_numbers = true;
        self
    }

    /// Gives the RNG back.
    pub fn into_inner(self) -> R {
        self.rng
    }

    fn next_value(&mut self) -> f32 {
        // 24 random bits: exactly what an f32 mantissa holds, so `unit` is uniform in [0, 1).
        let unit = (self.rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
        let span = self.high - self.low;
        let mut value = self.low + unit * span;
        if self.whole_numbers {
            // Truncation toward zero equals floor for values >= 0; shift negatives down.
            let truncated = value as i32 as f32;
            value = if truncated > value {
                truncated - 1.0
            } else {
                truncated
            };
        }
        // f32 rounding can land exactly on `high`; keep the interval half-open.
        if value >= self.high && self.high > self.low {
            value = self.low;
        }
        value
    }
}

impl<R: Rng> Sensor<1> for RandomSensor<R> {
    type Error = SampleFull;

    async fn read(&mut self) -> Result<Sample<1>, SampleFull> {
        let mut sample = Sample::new();
        sample.push(Reading::new(self.quantity, self.next_value()))?;
        Ok(sample)
    }
}
