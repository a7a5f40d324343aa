//! Readings and samples: what a sensor measured, as plain numbers with their quantity.
//!
//! A [`Reading`] is one measured quantity with an `f32` value; a [`Sample`] is the fixed-capacity
//! set of readings a sensor reports at once. The capacity `N` is part of the type so its RAM
//! cost is visible where it is declared; nothing here allocates.

use core::fmt;

/// What a reading measures, with its unit.
///
/// The unit is fixed per quantity so that every sink and every consumer agrees on it:
/// temperatures are always °C, pressures always Pa, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Quantity {
    /// Temperature in degrees Celsius.
    Temperature,
    /// Relative humidity in percent (0–100).
    Humidity,
    /// Pressure in pascals.
    Pressure,
    /// Altitude above sea level in metres.
    Altitude,
    /// Illuminance in lux.
    Illuminance,
    /// Acceleration along the X axis, in g.
    AccelerationX,
    /// Acceleration along the Y axis, in g.
    AccelerationY,
    /// Acceleration along the Z axis, in g.
    AccelerationZ,
    /// Pitch angle in degrees.
    Pitch,
    /// Roll angle in degrees.
    Roll,
    /// Dew point in degrees Celsius.
    DewPoint,
    /// Electric potential in volts (e.g. a battery).
    Voltage,
    /// A dimensionless value or raw count (the lab's random numbers).
    Value,
    /// Anything else: a JSON key / name and a unit string of your choice.
    Custom {
        /// Name used as the default JSON key.
        name: &'static str,
        /// Unit symbol, informational.
        unit: &'static str,
    },
}

impl Quantity {
    /// The default name of the quantity, used as its JSON key (`"temperature"`, `"humidity"`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Quantity::Temperature => "temperature",
            Quantity::Humidity => "humidity",
            Quantity::Pressure => "pressure",
            Quantity::Altitude => "altitude",
            Quantity::Illuminance => "illuminance",
            Quantity::AccelerationX => "acceleration_x",
            Quantity::AccelerationY => "acceleration_y",
            Quantity::AccelerationZ => "acceleration_z",
            Quantity::Pitch => "pitch",
            Quantity::Roll => "roll",
            Quantity::DewPoint => "dew_point",
            Quantity::Voltage => "voltage",
            Quantity::Value => "value",
            Quantity::Custom { name, .. } => name,
        }
    }

    /// The unit symbol of the quantity (`"°C"`, `"%"`, `"Pa"`, …; empty for [`Quantity::Value`]).
    pub const fn unit(self) -> &'static str {
        match self {
            Quantity::Temperature | Quantity::DewPoint => "°C",
            Quantity::Humidity => "%",
            Quantity::Pressure => "Pa",
            Quantity::Altitude => "m",
            Quantity::Illuminance => "lx",
            Quantity::AccelerationX | Quantity::AccelerationY | Quantity::AccelerationZ => "g",
            Quantity::Pitch | Quantity::Roll => "°",
            Quantity::Voltage => "V",
            Quantity::Value => "",
            Quantity::Custom { unit, .. } => unit,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One measured quantity and its value in the quantity's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reading {
    /// What was measured.
    pub quantity: Quantity,
    /// The value, in [`Quantity::unit`]. May be non-finite if a driver produced garbage; sinks
    /// refuse non-finite values with a typed error instead of sending invalid JSON.
    pub value: f32,
}

impl Reading {
    /// A reading of `quantity` with `value`.
    pub const fn new(quantity: Quantity, value: f32) -> Self {
        Self { quantity, value }
    }
}

/// The sample is full: it already holds `N` readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SampleFull;

impl fmt::Display for SampleFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sample is full: raise its capacity N")
    }
}

impl core::error::Error for SampleFull {}

/// The readings a sensor reports at one instant, at most `N` of them.
///
/// An optional timestamp (Unix seconds, UTC) travels with the sample; the ThingSpeak sink writes
/// it as `created_at`, so samples replayed after an outage keep the time they were taken.
///
/// ```
/// use sensorpub::{Quantity, Reading, Sample};
///
/// let mut sample = Sample::<4>::new();
/// sample.push(Reading::new(Quantity::Temperature, 21.53))?;
/// sample.push(Reading::new(Quantity::Humidity, 45.2))?;
/// assert_eq!(sample.get(Quantity::Humidity), Some(45.2));
/// # Ok::<(), sensorpub::SampleFull>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample<const N: usize> {
    readings: heapless::Vec<Reading, N>,
    timestamp: Option<u64>,
}

impl<const N: usize> Sample<N> {
    /// An empty sample without a timestamp.
    pub const fn new() -> Self {
        Self {
            readings: heapless::Vec::new(),
            timestamp: None,
        }
    }

    /// A sample holding `readings`, or [`SampleFull`] if there are more than `N`.
    pub fn from_readings(readings: &[Reading]) -> Result<Self, SampleFull> {
        let mut sample = Self::new();
        for reading in readings {
            sample.push(*reading)?;
        }
        Ok(sample)
    }

    /// Adds a reading; [`SampleFull`] (and the sample unchanged) when it already holds `N`.
    pub fn push(&mut self, reading: Reading) -> Result<(), SampleFull> {
        self.readings.push(reading).map_err(|_| SampleFull)
    }

    /// The readings, in the order they were pushed.
    pub fn readings(&self) -> &[Reading] {
        &self.readings
    }

    /// The value of the first reading of `quantity`, if there is one.
    pub fn get(&self, quantity: Quantity) -> Option<f32> {
        self.readings
            .iter()
            .find(|r| r.quantity == quantity)
            .map(|r| r.value)
    }

    /// Number of readings.
    pub fn len(&self) -> usize {
        self.readings.len()
    }

    /// True when the sample holds no reading.
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }

    /// Removes every reading and the timestamp.
    pub fn clear(&mut self) {
        self.readings.clear();
        self.timestamp = None;
    }

    /// When the sample was taken, in Unix seconds (UTC), if known.
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }

    /// Sets when the sample was taken, in Unix seconds (UTC).
    pub fn set_timestamp(&mut self, unix_seconds: Option<u64>) {
        self.timestamp = unix_seconds;
    }
}

#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<const N: usize> defmt::Format for Sample<N> {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(
            f,
            "Sample {{ readings: {}, timestamp: {} }}",
            self.readings(),
            self.timestamp
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_beyond_capacity_is_refused_and_keeps_the_sample() {
        let mut s = Sample::<1>::new();
        assert_eq!(s.push(Reading::new(Quantity::Value, 1.0)), Ok(()));
        assert_eq!(s.push(Reading::new(Quantity::Value, 2.0)), Err(SampleFull));
        assert_eq!(s.readings(), &[Reading::new(Quantity::Value, 1.0)]);
    }

    #[test]
    fn get_returns_first_reading_of_a_quantity() {
        let s = Sample::<3>::from_readings(&[
            Reading::new(Quantity::Temperature, 1.0),
            Reading::new(Quantity::Humidity, 2.0),
            Reading::new(Quantity::Temperature, 3.0),
        ])
        .unwrap();
        assert_eq!(s.get(Quantity::Temperature), Some(1.0));
        assert_eq!(s.get(Quantity::Pressure), None);
    }
}
