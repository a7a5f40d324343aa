//! Errors, configuration and measurements of the LTR-329ALS-01 driver.

use core::fmt;

/// Why an LTR-329 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The I²C bus reported an error (a NACK when the chip is absent or unpowered).
    I2c(E),
    /// PART_ID (0x86) did not read 0xA0: not an LTR-329ALS-01.
    InvalidDevice {
        /// The PART_ID byte read.
        found: u8,
    },
    /// No new measurement arrived within two measurement periods.
    Timeout,
    /// ALS_STATUS flagged the data invalid, or reported a gain code the datasheet reserves.
    /// Read again: the next measurement is usually valid.
    DataInvalid {
        /// The ALS_STATUS byte read.
        status: u8,
    },
    /// A channel read 0xFFFF: the light is too bright for the gain. Lower the gain.
    Saturated {
        /// Visible + IR channel count.
        ch0: u16,
        /// IR channel count.
        ch1: u16,
    },
    /// The sample passed to the `Sensor` read has no room for the illuminance reading.
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
            Error::I2c(e) => write!(f, "LTR-329 I2C error: {e:?}"),
            Error::InvalidDevice { found } => write!(
                f,
                "LTR-329 not found: PART_ID read {found:#04x}, expected 0xa0"
            ),
            Error::Timeout => f.write_str("LTR-329 produced no new data in time"),
            Error::DataInvalid { status } => {
                write!(
                    f,
                    "LTR-329 data invalid (ALS_STATUS {status:#04x}); read again"
                )
            }
            Error::Saturated { ch0, ch1 } => write!(
                f,
                "LTR-329 saturated (CH0 {ch0}, CH1 {ch1}); lower the gain"
            ),
            Error::SampleFull => f.write_str("sample has no room for the LTR-329 reading"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// A configuration the chip cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// The measurement rate is shorter than the integration time (datasheet ALS_MEAS_RATE
    /// note: the repeat rate must be at least the integration time).
    RateShorterThanIntegration,
    /// The window factor is not a finite number greater than zero.
    InvalidWindowFactor,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::RateShorterThanIntegration => f.write_str(
                "LTR-329 measurement rate is shorter than the integration time; choose a longer rate",
            ),
            ConfigError::InvalidWindowFactor => {
                f.write_str("LTR-329 window factor must be finite and greater than 0")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// ALS gain (ALS_CONTR b4:2). Higher gain resolves dimmer light and saturates sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Gain {
    /// 1×, 1 lx to 64 klx (the reset value).
    #[default]
    X1,
    /// 2×, 0.5 lx to 32 klx.
    X2,
    /// 4×, 0.25 lx to 16 klx.
    X4,
    /// 8×, 0.125 lx to 8 klx.
    X8,
    /// 48×, 0.02 lx to 1.3 klx.
    X48,
    /// 96×, 0.01 lx to 600 lx.
    X96,
}

impl Gain {
    /// The register code (codes 4 and 5 are reserved).
    pub const fn code(self) -> u8 {
        match self {
            Gain::X1 => 0,
            Gain::X2 => 1,
            Gain::X4 => 2,
            Gain::X8 => 3,
            Gain::X48 => 6,
            Gain::X96 => 7,
        }
    }

    /// The gain for a register code; `None` for the reserved codes 4 and 5 and above 7.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Gain::X1),
            1 => Some(Gain::X2),
            2 => Some(Gain::X4),
            3 => Some(Gain::X8),
            6 => Some(Gain::X48),
            7 => Some(Gain::X96),
            _ => None,
        }
    }

    /// The multiplication factor, the app note's `ALS_GAIN`.
    pub const fn factor(self) -> f32 {
        match self {
            Gain::X1 => 1.0,
            Gain::X2 => 2.0,
            Gain::X4 => 4.0,
            Gain::X8 => 8.0,
            Gain::X48 => 48.0,
            Gain::X96 => 96.0,
        }
    }
}

/// ALS integration time (ALS_MEAS_RATE b5:3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IntegrationTime {
    /// 50 ms.
    Ms50,
    /// 100 ms (the reset value).
    #[default]
    Ms100,
    /// 150 ms.
    Ms150,
    /// 200 ms.
    Ms200,
    /// 250 ms.
    Ms250,
    /// 300 ms.
    Ms300,
    /// 350 ms.
    Ms350,
    /// 400 ms.
    Ms400,
}

impl IntegrationTime {
    /// The register code.
    pub const fn code(self) -> u8 {
        match self {
            IntegrationTime::Ms100 => 0,
            IntegrationTime::Ms50 => 1,
            IntegrationTime::Ms200 => 2,
            IntegrationTime::Ms400 => 3,
            IntegrationTime::Ms150 => 4,
            IntegrationTime::Ms250 => 5,
            IntegrationTime::Ms300 => 6,
            IntegrationTime::Ms350 => 7,
        }
    }

    /// The integration time in milliseconds.
    pub const fn millis(self) -> u32 {
        match self {
            IntegrationTime::Ms50 => 50,
            IntegrationTime::Ms100 => 100,
            IntegrationTime::Ms150 => 150,
            IntegrationTime::Ms200 => 200,
            IntegrationTime::Ms250 => 250,
            IntegrationTime::Ms300 => 300,
            IntegrationTime::Ms350 => 350,
            IntegrationTime::Ms400 => 400,
        }
    }

    /// The app note's `ALS_INT`: the integration time in units of 100 ms, so 50 ms is 0.5
    /// (the `ltr-329` crate maps it to 1.0 and reports half the lux).
    pub fn als_int(self) -> f32 {
        // Exact: every value is a multiple of 50, so the quotient is a multiple of 0.5.
        self.millis() as f32 / 100.0
    }
}

/// ALS measurement repeat rate (ALS_MEAS_RATE b2:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MeasurementRate {
    /// Every 50 ms.
    Ms50,
    /// Every 100 ms.
    Ms100,
    /// Every 200 ms.
    Ms200,
    /// Every 500 ms (the reset value).
    #[default]
    Ms500,
    /// Every 1000 ms.
    Ms1000,
    /// Every 2000 ms.
    Ms2000,
}

impl MeasurementRate {
    /// The register code.
    pub const fn code(self) -> u8 {
        match self {
            MeasurementRate::Ms50 => 0,
            MeasurementRate::Ms100 => 1,
            MeasurementRate::Ms200 => 2,
            MeasurementRate::Ms500 => 3,
            MeasurementRate::Ms1000 => 4,
            MeasurementRate::Ms2000 => 5,
        }
    }

    /// The repeat period in milliseconds.
    pub const fn millis(self) -> u32 {
        match self {
            MeasurementRate::Ms50 => 50,
            MeasurementRate::Ms100 => 100,
            MeasurementRate::Ms200 => 200,
            MeasurementRate::Ms500 => 500,
            MeasurementRate::Ms1000 => 1000,
            MeasurementRate::Ms2000 => 2000,
        }
    }
}

/// A checked configuration: gain, integration time, a measurement rate at least as long as
/// the integration time, and the window factor of the lux formula.
///
/// The default is the chip's reset state (1×, 100 ms every 500 ms) with no window (factor 1).
///
/// ```
/// use sensorpub::pysense::ltr329::{Config, ConfigError, Gain, IntegrationTime, MeasurementRate};
///
/// let config = Config::new(Gain::X8, IntegrationTime::Ms200, MeasurementRate::Ms500)?;
/// assert_eq!(config.gain(), Gain::X8);
/// assert_eq!(
///     Config::new(Gain::X1, IntegrationTime::Ms400, MeasurementRate::Ms200),
///     Err(ConfigError::RateShorterThanIntegration)
/// );
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    gain: Gain,
    integration_time: IntegrationTime,
    rate: MeasurementRate,
    window_factor: f32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            gain: Gain::X1,
            integration_time: IntegrationTime::Ms100,
            rate: MeasurementRate::Ms500,
            window_factor: 1.0,
        }
    }
}

impl Config {
    /// A configuration, refused when `rate` is shorter than `integration_time`.
    pub const fn new(
        gain: Gain,
        integration_time: IntegrationTime,
        rate: MeasurementRate,
    ) -> Result<Self, ConfigError> {
        if rate.millis() < integration_time.millis() {
            return Err(ConfigError::RateShorterThanIntegration);
        }
        Ok(Self {
            gain,
            integration_time,
            rate,
            window_factor: 1.0,
        })
    }

    /// The same configuration with the lux formula's window factor (the app note's PFactor,
    /// 1 for no window or clear glass; larger behind tinted glass).
    pub fn with_window_factor(self, window_factor: f32) -> Result<Self, ConfigError> {
        if !(window_factor.is_finite() && window_factor > 0.0) {
            return Err(ConfigError::InvalidWindowFactor);
        }
        Ok(Self {
            window_factor,
            ..self
        })
    }

    /// The gain.
    pub const fn gain(&self) -> Gain {
        self.gain
    }

    /// The integration time.
    pub const fn integration_time(&self) -> IntegrationTime {
        self.integration_time
    }

    /// The measurement rate.
    pub const fn rate(&self) -> MeasurementRate {
        self.rate
    }

    /// The window factor (PFactor) the lux is divided by.
    pub const fn window_factor(&self) -> f32 {
        self.window_factor
    }
}

/// One measurement: both channels and the settings they were taken with.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Measurement {
    /// CH0 count: visible plus infrared.
    pub ch0: u16,
    /// CH1 count: infrared.
    pub ch1: u16,
    /// The gain the data was taken with, as ALS_STATUS reports it.
    pub gain: Gain,
    /// The integration time the data was taken with: the driver discards data measured
    /// before a configuration change, so it is the configured one.
    pub integration_time: IntegrationTime,
}

/// PART_ID split into its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PartId {
    /// Part number, 0xA for the LTR-329ALS-01.
    pub part: u8,
    /// Revision, 0 on the parts the datasheet describes.
    pub revision: u8,
}
