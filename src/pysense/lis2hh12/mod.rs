//! LIS2HH12 3-axis accelerometer (I²C 0x1E), blocking and async.
//!
//! Implemented from the LIS2HH12 datasheet (ST DocID 025735: § 7 register description for
//! WHO_AM_I, CTRL1 ODR/BDU/axis enables, CTRL4 FS/IF_ADD_INC, STATUS ZYXDA, OUT_X_L..OUT_Z_H;
//! Table 3 for the 0.061/0.122/0.244 mg/LSB sensitivities) and ST's `lis2hh12-pid` register
//! header. Pitch and roll use the tilt formulas of Pycom's `LIS2HH12.py` (NXP AN3461's
//! rotation order for the PySense's axes) so readings match Pycom firmware.
//!
//! What the driver does that Pycom's does not: block data update on, so the 6-byte burst
//! from OUT_X_L (one read, not three) never mixes two samples; waits for STATUS ZYXDA with a
//! bounded wait; drops the sample pending when the full scale changes (or at `init`, after a
//! warm start), so counts are never converted with a scale they were not taken at; writes
//! whole registers from a shadow copy instead of read-modify-write; no
//! interrupt-pin (CTRL5) changes it does not need; and no `yaw()`, which an accelerometer
//! cannot measure.
//!
//! - [`Lis2hh12`] on embedded-hal 1.0, [`Lis2hh12Async`] on
//!   embedded-hal-async 1.0, generated from one source; both implement the crate's sensor
//!   traits with five readings: acceleration X/Y/Z (g), pitch and roll (°).
//! - [`acceleration_g`], [`pitch`], [`roll`], [`temperature_celsius`]: pure conversions.
//!
//! ```
//! use embedded_hal::{delay::DelayNs, i2c::I2c};
//! use sensorpub::pysense::lis2hh12::{Lis2hh12, pitch, Config, DataRate, Error, FullScale};
//!
//! fn tilt<I: I2c, D: DelayNs>(i2c: I, delay: D) -> Result<f32, Error<I::Error>> {
//!     let mut accel = Lis2hh12::new(i2c, delay); // no I/O yet
//!     accel.init(Config { data_rate: DataRate::Hz50, full_scale: FullScale::G2 })?;
//!     let a = accel.acceleration()?; // waits for ZYXDA, one 6-byte burst, in g
//!     Ok(pitch(a.x, a.y, a.z))
//! }
//! ```
//!
//! The async driver is the same with `Lis2hh12Async` and `.await` after each call.

mod conversion;
mod driver;
mod register;
mod types;

pub use conversion::{acceleration, acceleration_g, pitch, roll, temperature_celsius};
pub use driver::{asynchronous::Lis2hh12Async, blocking::Lis2hh12};
pub use types::{
    Acceleration, Config, DataRate, Error, FullScale, RawAcceleration, TEMPERATURE_QUANTITY,
};
