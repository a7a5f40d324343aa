//! [`MockSensor`]: a scripted sensor for tests.

use crate::reading::Sample;
use crate::sensor::Sensor;
use core::fmt;

/// Errors a [`MockSensor`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MockError {
    /// A failure the script asked for, carrying the script's code.
    Scripted(u8),
    /// The script has no step left.
    Exhausted,
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MockError::Scripted(code) => write!(f, "scripted sensor failure {code}"),
            MockError::Exhausted => f.write_str("mock sensor script exhausted"),
        }
    }
}

impl core::error::Error for MockError {}

/// Returns the samples and errors of a script, in order, then [`MockError::Exhausted`].
///
/// ```
/// use sensorpub::{MockError, MockSensor, Quantity, Reading, Sample, Sensor};
///
/// let warm = Sample::<2>::from_readings(&[Reading::new(Quantity::Temperature, 21.5)]).unwrap();
/// let script = [Ok(warm.clone()), Err(MockError::Scripted(7))];
/// let mut sensor = MockSensor::new(&script);
/// embassy_futures::block_on(async {
///     assert_eq!(sensor.read().await, Ok(warm));
///     assert_eq!(sensor.read().await, Err(MockError::Scripted(7)));
///     assert_eq!(sensor.read().await, Err(MockError::Exhausted));
/// });
/// assert_eq!(sensor.reads(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct MockSensor<'a, const N: usize> {
    script: &'a [Result<Sample<N>, MockError>],
    next: usize,
    reads: usize,
    repeat: bool,
}

impl<'a, const N: usize> MockSensor<'a, N> {
    /// A sensor that plays `script` once.
    pub const fn new(script: &'a [Result<Sample<N>, MockError>]) -> Self {
        Self {
            script,
            next: 0,
            reads: 0,
            repeat: false,
        }
    }

    /// Plays the script again from the start whenever it ends, instead of failing.
    pub const fn repeating(mut self) -> Self {
        self.repeat = true;
        self
    }

    /// How many times `read` was called.
    pub const fn reads(&self) -> usize {
        self.reads
    }
}

impl<const N: usize> Sensor<N> for MockSensor<'_, N> {
    type Error = MockError;

    async fn read(&mut self) -> Result<Sample<N>, MockError> {
        self.reads += 1;
        if self.next >= self.script.len() && self.repeat {
            self.next = 0;
        }
        let step = self.script.get(self.next).ok_or(MockError::Exhausted)?;
        self.next += 1;
        step.clone()
    }
}
