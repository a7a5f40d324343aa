//! The [`Sensor`] trait and the sensors that ship with the crate.
//!
//! A sensor produces a [`Sample`] of readings. The core is async so one `Publisher` serves
//! embassy, RTIC and tokio alike; blocking drivers implement [`BlockingSensor`] and plug in
//! through the zero-cost [`Blocking`] adapter, so no driver is written twice. The [`filter`]
//! adapters (averages, delta, throttle, calibration, clamp) wrap any sensor and are sensors.

pub mod filter;
mod mock;
mod random;

pub use filter::{
    Calibrate, Clamp, Delta, ExponentialMovingAverage, FilterError, MovingAverage, NoClock,
    Throttle,
};
pub use mock::{MockError, MockSensor};
pub use random::RandomSensor;

use crate::reading::Sample;

/// Something that produces readings: a driver, a board, a random or scripted source.
///
/// `N` is the capacity of the [`Sample`] the sensor fills. A sensor that has more readings
/// than `N` reports that through its error type rather than dropping readings.
///
/// ```
/// use sensorpub::{Quantity, Reading, Sample, SampleFull, Sensor};
///
/// /// A thermometer that always reads 21.5 °C.
/// struct Fixed;
///
/// impl<const N: usize> Sensor<N> for Fixed {
///     type Error = SampleFull;
///     async fn read(&mut self) -> Result<Sample<N>, SampleFull> {
///         Sample::from_readings(&[Reading::new(Quantity::Temperature, 21.5)])
///     }
/// }
///
/// let sample: Sample<2> = embassy_futures::block_on(Fixed.read()).unwrap();
/// assert_eq!(sample.get(Quantity::Temperature), Some(21.5));
/// ```
#[allow(async_fn_in_trait)] // executors on MCUs are single-threaded; no Send bound wanted
pub trait Sensor<const N: usize> {
    /// Why a read failed (bus error, CRC mismatch, timeout, …).
    type Error;

    /// Takes one sample.
    async fn read(&mut self) -> Result<Sample<N>, Self::Error>;
}

/// A sensor read by blocking calls (an `embedded-hal` 1.0 driver).
///
/// Wrap it in [`Blocking`] to use it where a [`Sensor`] is expected.
pub trait BlockingSensor<const N: usize> {
    /// Why a read failed.
    type Error;

    /// Takes one sample, blocking until it is ready.
    fn read(&mut self) -> Result<Sample<N>, Self::Error>;
}

/// Adapter that makes a [`BlockingSensor`] a [`Sensor`]: the read runs to completion inside
/// the future's first poll.
///
/// It takes the sensor by value or lends it: `Blocking(&mut board)` keeps `board` yours for
/// other work once the publisher is done with it.
///
/// ```
/// use sensorpub::{Blocking, BlockingSensor, Quantity, Reading, Sample, SampleFull, Sensor};
///
/// struct Counter(u32);
/// impl BlockingSensor<1> for Counter {
///     type Error = SampleFull;
///     fn read(&mut self) -> Result<Sample<1>, SampleFull> {
///         self.0 += 1;
///         Sample::from_readings(&[Reading::new(Quantity::Value, self.0 as f32)])
///     }
/// }
///
/// let mut sensor = Blocking(Counter(0));
/// let sample = embassy_futures::block_on(Sensor::read(&mut sensor)).unwrap();
/// assert_eq!(sample.get(Quantity::Value), Some(1.0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Blocking<S>(pub S);

impl<S> Blocking<S> {
    /// Gives the wrapped sensor back.
    pub fn into_inner(self) -> S {
        self.0
    }
}

impl<S: BlockingSensor<N> + ?Sized, const N: usize> BlockingSensor<N> for &mut S {
    type Error = S::Error;

    fn read(&mut self) -> Result<Sample<N>, Self::Error> {
        (**self).read()
    }
}

impl<S: BlockingSensor<N>, const N: usize> Sensor<N> for Blocking<S> {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
        self.0.read()
    }
}

impl<S: Sensor<N> + ?Sized, const N: usize> Sensor<N> for &mut S {
    type Error = S::Error;

    async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
        (**self).read().await
    }
}
