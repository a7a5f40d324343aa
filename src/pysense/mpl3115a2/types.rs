//! Errors, modes, settings and results of the MPL3115A2 driver.

use core::fmt;

use crate::Quantity;

/// The quantity of the chip's own temperature: named apart from the SI7006's `temperature` so
/// a PySense sample never repeats a JSON key.
pub const PRESSURE_SENSOR_TEMPERATURE: Quantity = Quantity::Custom {
    name: "pressure_sensor_temperature",
    unit: "°C",
};

/// Why an MPL3115A2 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The I²C bus failed (a NACK included: the chip is absent or unpowered).
    I2c(E),
    /// WHO_AM_I (0x0C) did not read 0xC4: another chip, or none, answers at 0x60.
    InvalidDevice {
        /// The WHO_AM_I value read.
        found: u8,
    },
    /// The one-shot measurement did not finish (OST still set) within the conversion time
    /// plus the polling grace period.
    Timeout,
    /// The measurement finished but STATUS does not flag new pressure/altitude and temperature
    /// data (PDR and TDR): the values read would be stale.
    NoNewData {
        /// The STATUS byte read with the data.
        status: u8,
    },
    /// A sea-level pressure outside what BAR_IN can hold (0..=131 070 Pa in 2 Pa steps).
    InvalidSeaLevelPressure,
    /// The [`Sample`](crate::Sample) is too small for the driver's readings: raise its `N`.
    SampleFull,
}

impl<E> From<E> for Error<E> {
    fn from(error: E) -> Self {
        Error::I2c(error)
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "MPL3115A2: I2C bus error: {e:?}"),
            Error::InvalidDevice { found } => write!(
                f,
                "MPL3115A2: WHO_AM_I is {found:#04x}, expected 0xc4; is the right chip at 0x60?"
            ),
            Error::Timeout => f.write_str("MPL3115A2: one-shot measurement did not finish in time"),
            Error::NoNewData { status } => write!(
                f,
                "MPL3115A2: measurement finished without new data (STATUS {status:#04x}); retry"
            ),
            Error::InvalidSeaLevelPressure => {
                f.write_str("MPL3115A2: sea-level pressure must be 0..=131070 Pa")
            }
            Error::SampleFull => {
                f.write_str("MPL3115A2: sample too small for its readings; raise N")
            }
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// A failed mode change: the cause, and the driver in its old mode so nothing is lost.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModeChangeError<E, DEV> {
    /// Why the change failed.
    pub error: Error<E>,
    /// The driver, unchanged.
    pub device: DEV,
}

impl<E: fmt::Debug, DEV> fmt::Display for ModeChangeError<E, DEV> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mode change failed: {}", self.error)
    }
}

impl<E: fmt::Debug, DEV: fmt::Debug> core::error::Error for ModeChangeError<E, DEV> {}

/// The measurement modes, as types: a driver in [`Barometer`](mode::Barometer) mode has no
/// altitude method, so reading altitude from a barometer does not compile.
pub mod mode {
    /// Pressure in Pa (ALT = 0), the chip's power-on mode.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[cfg_attr(feature = "defmt", derive(defmt::Format))]
    pub struct Barometer;

    /// Altitude in m above the sea-level pressure set in BAR_IN (ALT = 1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[cfg_attr(feature = "defmt", derive(defmt::Format))]
    pub struct Altimeter;

    /// A measurement mode. Sealed: only [`Barometer`] and [`Altimeter`] exist.
    pub trait Mode: sealed::Sealed {
        /// Whether CTRL_REG1's ALT bit is set in this mode.
        const ALTIMETER: bool;
    }

    impl Mode for Barometer {
        const ALTIMETER: bool = false;
    }

    impl Mode for Altimeter {
        const ALTIMETER: bool = true;
    }

    mod sealed {
        pub trait Sealed {}
        impl Sealed for super::Barometer {}
        impl Sealed for super::Altimeter {}
    }
}

/// Oversampling ratio, `OS[2:0]` of CTRL_REG1: more samples average out noise and take longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Oversampling {
    /// 1 sample, 6 ms.
    X1 = 0,
    /// 2 samples, 10 ms.
    X2 = 1,
    /// 4 samples, 18 ms.
    X4 = 2,
    /// 8 samples, 34 ms.
    X8 = 3,
    /// 16 samples, 66 ms.
    X16 = 4,
    /// 32 samples, 130 ms.
    X32 = 5,
    /// 64 samples, 258 ms.
    X64 = 6,
    /// 128 samples, 512 ms: the finest resolution, the driver's default (as in Pycom's).
    #[default]
    X128 = 7,
}

impl Oversampling {
    /// The `OS[2:0]` field value.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// Time one measurement takes at this ratio, in ms: the datasheet's "minimum time between
    /// data samples" column of the CTRL_REG1 oversampling table.
    pub const fn conversion_time_ms(self) -> u32 {
        match self {
            Oversampling::X1 => 6,
            Oversampling::X2 => 10,
            Oversampling::X4 => 18,
            Oversampling::X8 => 34,
            Oversampling::X16 => 66,
            Oversampling::X32 => 130,
            Oversampling::X64 => 258,
            Oversampling::X128 => 512,
        }
    }
}

/// A barometer measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PressureMeasurement {
    /// Pressure in Pa (0.25 Pa resolution).
    pub pressure: f32,
    /// The chip's temperature in °C (0.0625 °C resolution).
    pub temperature: f32,
}

/// An altimeter measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AltitudeMeasurement {
    /// Altitude in m above the sea-level pressure in BAR_IN (0.0625 m resolution; negative
    /// below it).
    pub altitude: f32,
    /// The chip's temperature in °C (0.0625 °C resolution).
    pub temperature: f32,
}
