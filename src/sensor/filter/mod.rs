//! Filters: sensor adapters that smooth, calibrate, limit or thin out one quantity's readings
//! before they are published (ESPHome's sensor filters, without a heap).
//!
//! Each filter wraps any [`Sensor<N>`](crate::Sensor) and is itself a `Sensor<N>`, so filters
//! compose by nesting: `Delta::absolute(MovingAverage::<_, 4>::new(sensor, q), q, 0.2)`
//! averages, then publishes only changes. A filter acts on the first reading of its
//! [`Quantity`] in each sample (as [`Sample::get`] finds it); every other reading and the
//! timestamp pass through untouched.
//!
//! - **Transforming**: [`MovingAverage`] (sliding window), [`ExponentialMovingAverage`],
//!   [`Calibrate`] (`value * multiply + offset`), [`Clamp`].
//! - **Thinning**: [`Delta`] (only on change, absolute or percent; optionally at least every
//!   T, the heartbeat), [`Throttle`] (at most every T). A held-back reading is removed from
//!   the sample; a sample left empty publishes nothing, and that is not an error
//!   ([`Publisher::publish_once`](crate::Publisher::publish_once) returns `Ok(0)`).
//!
//! A NaN or infinite reading passes through unchanged and never enters a filter's state: the
//! sink then refuses it with a typed error, as it would without the filter. A sensor error
//! passes through and leaves the filter's state as it was. Time-based filters read a
//! [`Clock`](crate::Clock); share one with the publisher (`EmbassyClock` is `Copy`, and
//! `&SimulatedClock` is a clock in tests).

mod calibrate;
mod clamp;
mod delta;
mod exponential;
mod moving_average;
mod throttle;

pub use calibrate::Calibrate;
pub use clamp::Clamp;
pub use delta::{Delta, NoClock};
pub use exponential::ExponentialMovingAverage;
pub use moving_average::MovingAverage;
pub use throttle::Throttle;

use crate::reading::{Quantity, Reading, Sample};
use core::fmt;

/// A filter's parameters are invalid; returned when the filter is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FilterError {
    /// A parameter is NaN or infinite.
    NotFinite,
    /// An exponential moving average's smoothing factor is outside `(0, 1]`.
    AlphaOutOfRange,
    /// A delta threshold is negative.
    NegativeThreshold,
    /// A clamp's minimum is above its maximum.
    EmptyRange,
    /// A two-point calibration got the same raw value twice, which defines no line.
    SamePoints,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FilterError::NotFinite => "filter parameter is NaN or infinite",
            FilterError::AlphaOutOfRange => "smoothing factor must be above 0 and at most 1",
            FilterError::NegativeThreshold => "delta threshold must not be negative",
            FilterError::EmptyRange => "clamp minimum is above its maximum",
            FilterError::SamePoints => "calibration points need two different raw values",
        })
    }
}

impl core::error::Error for FilterError {}

/// Runs `f` on the first reading of `quantity` in `sample` when its value is finite:
/// `Some(v)` replaces the value, `None` removes the reading. Everything else is kept, in order.
fn apply<const N: usize>(
    sample: Sample<N>,
    quantity: Quantity,
    f: impl FnOnce(f32) -> Option<f32>,
) -> Sample<N> {
    let Some(at) = sample
        .readings()
        .iter()
        .position(|r| r.quantity == quantity && r.value.is_finite())
    else {
        return sample;
    };
    // Only the first reading of the quantity is filtered, even if a later one is finite.
    if sample.readings()[..at]
        .iter()
        .any(|r| r.quantity == quantity)
    {
        return sample;
    }
    let replacement = f(sample.readings()[at].value);
    let mut out = Sample::new();
    out.set_timestamp(sample.timestamp());
    for (i, reading) in sample.readings().iter().enumerate() {
        let reading = match (i == at, replacement) {
            (false, _) => *reading,
            (true, Some(value)) => Reading::new(quantity, value),
            (true, None) => continue,
        };
        // `out` never holds more readings than `sample`, so it has room.
        let _ = out.push(reading);
    }
    out
}

/// Checks that every parameter is finite.
fn finite(values: &[f32]) -> Result<(), FilterError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(FilterError::NotFinite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(readings: &[(Quantity, f32)]) -> Sample<4> {
        let readings: std::vec::Vec<Reading> =
            readings.iter().map(|&(q, v)| Reading::new(q, v)).collect();
        let mut s = Sample::from_readings(&readings).unwrap();
        s.set_timestamp(Some(7));
        s
    }

    #[test]
    fn apply_touches_only_the_first_finite_reading_of_the_quantity() {
        let s = sample(&[
            (Quantity::Humidity, 40.0),
            (Quantity::Temperature, 20.0),
            (Quantity::Temperature, 30.0),
        ]);
        let out = apply(s, Quantity::Temperature, |v| Some(v + 1.0));
        assert_eq!(
            out.readings(),
            &[
                Reading::new(Quantity::Humidity, 40.0),
                Reading::new(Quantity::Temperature, 21.0),
                Reading::new(Quantity::Temperature, 30.0),
            ]
        );
        assert_eq!(out.timestamp(), Some(7));
    }

    #[test]
    fn apply_removes_the_reading_on_none_and_skips_non_finite_values() {
        let s = sample(&[(Quantity::Temperature, 20.0), (Quantity::Humidity, 40.0)]);
        let out = apply(s, Quantity::Temperature, |_| None);
        assert_eq!(out.readings(), &[Reading::new(Quantity::Humidity, 40.0)]);
        let s = sample(&[
            (Quantity::Temperature, f32::NAN),
            (Quantity::Temperature, 5.0),
        ]);
        let out = apply(s, Quantity::Temperature, |_| panic!("not called"));
        assert!(out.readings()[0].value.is_nan());
        assert_eq!(out.readings()[1].value, 5.0);
    }
}
