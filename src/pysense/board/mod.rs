//! [`PySense`] / [`PySenseAsync`]: the whole board as one [`Sensor`](crate::Sensor).
//!
//! The board's four sensors and its co-processor share one I²C bus. The board takes a
//! function that makes a bus handle (e.g. `|| RefCellDevice::new(&bus)` from
//! `embedded-hal-bus`, or embassy-embedded-hal's `I2cDevice::new(&mutex)` for async) and a
//! `Clone` delay, and builds the five drivers from them.
//!
//! Bring-up is explicit, in this order:
//! 1. [`power_on_sensors`](PySense::power_on_sensors), on PySense 2 only: the co-processor
//!    switches the sensors' supply on, then the board waits the SI7006's power-up time. On a
//!    PySense 1 the sensors are always powered: skip it.
//! 2. [`init`](PySense::init): checks and configures each chip and returns [`Presence`], which
//!    says which chips answered. An absent chip is left out of every sample, never reported
//!    as zero; [`init_errors`](PySense::init_errors) keeps each left-out chip's reason.
//!
//! A sample then holds every reading of every present chip: SI7006 temperature and humidity,
//! MPL3115A2 pressure and `pressure_sensor_temperature`, LTR-329 illuminance, LIS2HH12
//! acceleration X/Y/Z, pitch and roll (10 readings: use `N >= 10`). A present chip that fails
//! to read fails the whole sample with a [`BoardError`] naming the chip: a half sample is not
//! published as if it were whole.
//!
//! ```
//! use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
//! use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
//! use sensorpub::pysense::{Presence, PySense};
//!
//! /// Any `Clone` delay works: `embassy_time::Delay`, esp-hal's `Delay`, …
//! #[derive(Clone)]
//! struct Delay;
//! impl embedded_hal::delay::DelayNs for Delay {
//!     fn delay_ns(&mut self, _ns: u32) {}
//! }
//!
//! // An unpowered PySense 2: every chip's first transfer gets a NACK.
//! let nack = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);
//! let mut bus = Mock::new(&[
//!     Transaction::write_read(0x40, vec![0xFA, 0x0F], vec![0; 8]).with_error(nack),
//!     Transaction::write_read(0x60, vec![0x0C], vec![0]).with_error(nack),
//!     Transaction::write_read(0x29, vec![0x86], vec![0]).with_error(nack),
//!     Transaction::write_read(0x1E, vec![0x0F], vec![0]).with_error(nack),
//! ]);
//! let handle = bus.clone();
//! let mut board = PySense::new(|| handle.clone(), Delay);
//! assert_eq!(board.init(), Presence::default()); // absent, not zeros
//! let read: Result<sensorpub::Sample<10>, _> = sensorpub::BlockingSensor::read(&mut board);
//! assert_eq!(read, Err(sensorpub::pysense::BoardError::NoSensor));
//! bus.done();
//! //! ```

mod driver;

pub use driver::{asynchronous::PySenseAsync, blocking::PySense};

use super::{lis2hh12, ltr329, mpl3115a2, si7006};
use core::fmt;

/// Wait after switching the sensors' supply on: the slowest chip's start-up time.
const SENSORS_POWER_UP_MS: u32 = if ltr329::POWER_UP_TIME_MS > si7006::POWER_UP_TIME_MS {
    ltr329::POWER_UP_TIME_MS
} else {
    si7006::POWER_UP_TIME_MS
};

/// Which chips answered [`PySense::init`]; absent chips are left out of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Presence {
    /// SI7006-A20 (temperature, humidity) at 0x40.
    pub si7006: bool,
    /// MPL3115A2 (pressure) at 0x60.
    pub mpl3115a2: bool,
    /// LTR-329ALS-01 (light) at 0x29.
    pub ltr329: bool,
    /// LIS2HH12 (acceleration) at 0x1E.
    pub lis2hh12: bool,
}

impl Presence {
    /// Every chip answered.
    pub const ALL: Self = Self {
        si7006: true,
        mpl3115a2: true,
        ltr329: true,
        lis2hh12: true,
    };

    /// Whether at least one chip answered.
    pub const fn any(&self) -> bool {
        self.si7006 || self.mpl3115a2 || self.ltr329 || self.lis2hh12
    }
}

/// Why [`PySense::init`] left chips out: each chip's error from its driver's `init`, `None`
/// for a chip that answered. Read it with [`PySense::init_errors`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InitErrors<E> {
    /// Why the SI7006-A20 was left out (e.g. [`si7006::Error::Crc`] on its electronic id).
    pub si7006: Option<si7006::Error<E>>,
    /// Why the MPL3115A2 was left out.
    pub mpl3115a2: Option<mpl3115a2::Error<E>>,
    /// Why the LTR-329ALS-01 was left out.
    pub ltr329: Option<ltr329::Error<E>>,
    /// Why the LIS2HH12 was left out.
    pub lis2hh12: Option<lis2hh12::Error<E>>,
}

impl<E> Default for InitErrors<E> {
    /// No errors: the state before the first `init`.
    fn default() -> Self {
        Self {
            si7006: None,
            mpl3115a2: None,
            ltr329: None,
            lis2hh12: None,
        }
    }
}

impl<E> InitErrors<E> {
    /// Which chips have no error, i.e. answered `init`.
    pub fn presence(&self) -> Presence {
        Presence {
            si7006: self.si7006.is_none(),
            mpl3115a2: self.mpl3115a2.is_none(),
            ltr329: self.ltr329.is_none(),
            lis2hh12: self.lis2hh12.is_none(),
        }
    }
}

/// A board read failed; names the chip and keeps its driver's error.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BoardError<E> {
    /// The SI7006-A20 failed (bus error, CRC mismatch, …).
    Si7006(si7006::Error<E>),
    /// The MPL3115A2 failed (bus error, data-ready timeout, …).
    Mpl3115a2(mpl3115a2::Error<E>),
    /// The LTR-329ALS-01 failed (bus error, invalid or saturated data, …).
    Ltr329(ltr329::Error<E>),
    /// The LIS2HH12 failed (bus error, data-ready timeout, …).
    Lis2hh12(lis2hh12::Error<E>),
    /// No chip answered `init` (or `init` was not called): there is nothing to read. On
    /// PySense 2, call `power_on_sensors` first.
    NoSensor,
    /// The sample's capacity `N` is smaller than the readings of the present chips.
    SampleFull,
}

impl<E: fmt::Debug> fmt::Display for BoardError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoardError::Si7006(e) => write!(f, "SI7006: {e}"),
            BoardError::Mpl3115a2(e) => write!(f, "MPL3115A2: {e}"),
            BoardError::Ltr329(e) => write!(f, "LTR-329: {e}"),
            BoardError::Lis2hh12(e) => write!(f, "LIS2HH12: {e}"),
            BoardError::NoSensor => f.write_str(
                "no PySense sensor answered: call init (and power_on_sensors on PySense 2)",
            ),
            BoardError::SampleFull => f.write_str("sample too small for the board's readings"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for BoardError<E> {}

// Constructors the generated drivers call: `maybe-async-cfg` renames the chip identifiers
// (`Si7006` → `Si7006Async`) inside the driver module, variant names included.
impl<E> BoardError<E> {
    fn from_si7006(e: si7006::Error<E>) -> Self {
        BoardError::Si7006(e)
    }

    fn from_mpl3115a2(e: mpl3115a2::Error<E>) -> Self {
        BoardError::Mpl3115a2(e)
    }

    fn from_ltr329(e: ltr329::Error<E>) -> Self {
        BoardError::Ltr329(e)
    }

    fn from_lis2hh12(e: lis2hh12::Error<E>) -> Self {
        BoardError::Lis2hh12(e)
    }
}

/// Appends the readings of one chip's sample to the board's sample.
fn append<const N: usize, E>(
    into: &mut crate::Sample<N>,
    from: &crate::Sample<N>,
) -> Result<(), BoardError<E>> {
    from.readings()
        .iter()
        .try_for_each(|r| into.push(*r))
        .map_err(|_| BoardError::SampleFull)
}
