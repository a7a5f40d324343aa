//! Errors and identification of the PySense co-processor driver.

use core::fmt;

/// Why a co-processor operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The I²C bus reported an error (a NACK when there is no PySense or the PIC naps: wake
    /// it by pulsing P9/RC1).
    I2c(E),
    /// The co-processor did not report a command done (0xFF) within 50 ms, or an ADC
    /// conversion did not finish within 10 ms.
    Timeout,
    /// PROD_ID is not 0xF012: not a PySense 2 (0xF013 is a Pytrack 2).
    UnsupportedBoard {
        /// The PROD_ID read.
        product_id: u16,
    },
    /// The co-processor firmware is older than 16, the oldest that drives a PySense 2.
    /// Update it with Pycom's DFU tool.
    FirmwareTooOld {
        /// The firmware version read.
        firmware: u16,
    },
    /// `battery_voltage` was called before `enable_battery_adc`.
    AdcNotEnabled,
    /// The sample passed to the `Sensor` read has no room for the voltage reading.
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
            Error::I2c(e) => write!(f, "PySense co-processor I2C error: {e:?}"),
            Error::Timeout => f.write_str("PySense co-processor did not answer in time"),
            Error::UnsupportedBoard { product_id } => write!(
                f,
                "not a PySense 2: product id {product_id:#06x}, expected 0xf012"
            ),
            Error::FirmwareTooOld { firmware } => write!(
                f,
                "PySense co-processor firmware {firmware} is older than 16; update it"
            ),
            Error::AdcNotEnabled => {
                f.write_str("battery ADC not enabled; call enable_battery_adc first")
            }
            Error::SampleFull => f.write_str("sample has no room for the battery voltage"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// What [`init`](super::Coprocessor::init) found on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BoardInfo {
    /// PROD_ID, 0xF012 on a PySense 2.
    pub product_id: u16,
    /// Co-processor firmware version.
    pub firmware: u16,
}
