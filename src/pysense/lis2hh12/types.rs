//! Errors, configuration and measurements of the LIS2HH12 driver.

use core::fmt;

use crate::Quantity;

/// The quantity of the die temperature: a custom name, so a PySense sample that also carries
/// the SI7006's `temperature` never repeats a JSON key.
pub const TEMPERATURE_QUANTITY: Quantity = Quantity::Custom {
    name: "accelerometer_temperature",
    unit: "°C",
};

/// Why a LIS2HH12 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The I²C bus reported an error (a NACK when the chip is absent or unpowered).
    I2c(E),
    /// WHO_AM_I (0x0F) did not read 0x41: not a LIS2HH12.
    InvalidDevice {
        /// The WHO_AM_I byte read.
        found: u8,
    },
    /// STATUS never showed a new sample (ZYXDA) within two output periods.
    Timeout,
    /// The chip is powered down ([`power_down`](super::Lis2hh12::power_down)); it
    /// produces no samples until configured again.
    PoweredDown,
    /// The sample passed to the `Sensor` read has no room for the five readings.
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
            Error::I2c(e) => write!(f, "LIS2HH12 I2C error: {e:?}"),
            Error::InvalidDevice { found } => write!(
                f,
                "LIS2HH12 not found: WHO_AM_I read {found:#04x}, expected 0x41"
            ),
            Error::Timeout => f.write_str("LIS2HH12 produced no sample in time"),
            Error::PoweredDown => {
                f.write_str("LIS2HH12 is powered down; configure it before reading")
            }
            Error::SampleFull => f.write_str("sample has no room for the LIS2HH12 readings"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// Output data rate (CTRL1 ODR, b6:4). Power-down (code 0) is not a rate: it is
/// [`power_down`](super::Lis2hh12::power_down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DataRate {
    /// 10 Hz.
    Hz10,
    /// 50 Hz (Pycom's choice).
    #[default]
    Hz50,
    /// 100 Hz.
    Hz100,
    /// 200 Hz.
    Hz200,
    /// 400 Hz.
    Hz400,
    /// 800 Hz.
    Hz800,
}

impl DataRate {
    /// The ODR register code.
    pub const fn code(self) -> u8 {
        match self {
            DataRate::Hz10 => 1,
            DataRate::Hz50 => 2,
            DataRate::Hz100 => 3,
            DataRate::Hz200 => 4,
            DataRate::Hz400 => 5,
            DataRate::Hz800 => 6,
        }
    }

    /// The rate in hertz.
    pub const fn hertz(self) -> u32 {
        match self {
            DataRate::Hz10 => 10,
            DataRate::Hz50 => 50,
            DataRate::Hz100 => 100,
            DataRate::Hz200 => 200,
            DataRate::Hz400 => 400,
            DataRate::Hz800 => 800,
        }
    }

    /// The time between two samples, in microseconds.
    pub const fn period_us(self) -> u32 {
        1_000_000 / self.hertz()
    }
}

/// Full scale (CTRL4 FS, b5:4). The reserved code 0b01 has no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FullScale {
    /// ±2 g, 0.061 mg/LSB.
    G2,
    /// ±4 g, 0.122 mg/LSB (Pycom's choice).
    #[default]
    G4,
    /// ±8 g, 0.244 mg/LSB.
    G8,
}

impl FullScale {
    /// The FS register code: 0b00, 0b10, 0b11.
    pub const fn code(self) -> u8 {
        match self {
            FullScale::G2 => 0b00,
            FullScale::G4 => 0b10,
            FullScale::G8 => 0b11,
        }
    }

    /// Sensitivity in mg per LSB (datasheet Table 3, "So"; ST's `lis2hh12_from_fs*_to_mg`).
    pub const fn mg_per_lsb(self) -> f32 {
        match self {
            FullScale::G2 => 0.061,
            FullScale::G4 => 0.122,
            FullScale::G8 => 0.244,
        }
    }
}

/// Output data rate and full scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Output data rate.
    pub data_rate: DataRate,
    /// Full scale.
    pub full_scale: FullScale,
}

/// Raw output counts, one signed 16-bit value an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RawAcceleration {
    /// X axis count.
    pub x: i16,
    /// Y axis count.
    pub y: i16,
    /// Z axis count.
    pub z: i16,
}

/// Acceleration in g (standard gravity, 9.806 65 m/s²) along each axis.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Acceleration {
    /// X axis, g.
    pub x: f32,
    /// Y axis, g.
    pub y: f32,
    /// Z axis, g.
    pub z: f32,
}
