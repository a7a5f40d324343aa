//! The PySense's PIC co-processor (I²C 0x08): identification, sensor power on PySense 2,
//! and the battery voltage. Blocking and async.
//!
//! Implemented from Pycom's `pycoproc_2.py` (`pycom/pycom-libraries` `shields/lib`), which is
//! the only description of the co-processor's protocol: write a command, poll a 1-byte status
//! until it reads 0xFF (10 µs, then every 100 µs, at most 50 ms here → [`Error::Timeout`]),
//! then read replies as `n + 1` bytes and drop the first. PEEK, POKE and MAGIC read and
//! change the PIC's memory; the addresses are the PIC16F1 special function registers.
//!
//! **On PySense 2 the sensors have no power until [`power_on_sensors`] runs** (LATC bit 7
//! high, TRISC bits 6 and 7 outputs). Nothing here does that behind your back: call it, wait
//! the sensors' start-up time (100 ms covers the LTR-329 and the SI7006), then initialise
//! the sensor drivers.
//!
//! Not copied from Pycom: the unbounded ADC wait (bounded here), the battery percentage of
//! the examples (an operator-precedence bug; not offered), the retry-and-print loop in the
//! constructor, and the GPS/SD-card/sleep handling the PySense sensors do not need. A napping
//! PIC does not answer I²C ([`Error::I2c`]); wake it by pulsing P9 (RC1) high for 100 ms,
//! which is a GPIO, not this driver's bus.
//!
//! [`power_on_sensors`]: Coprocessor::power_on_sensors
//!
//! ```
//! use embedded_hal::{delay::DelayNs, i2c::I2c};
//! use sensorpub::pysense::coprocessor::{Coprocessor, Error};
//!
//! fn start<I: I2c, D: DelayNs>(i2c: I, delay: D) -> Result<f32, Error<I::Error>> {
//!     let mut pic = Coprocessor::new(i2c, delay); // no I/O yet
//!     pic.init()?; // PROD_ID 0xF012 and firmware ≥ 16, or a typed error
//!     pic.power_on_sensors()?; // then wait ≥ 100 ms before talking to the sensors
//!     pic.enable_battery_adc()?;
//!     pic.battery_voltage() // volts
//! }
//! ```
//!
//! The async driver is the same with `CoprocessorAsync` and `.await` after each call.

mod conversion;
mod driver;
mod register;
mod types;

pub use conversion::{adc_count, battery_voltage};
pub use driver::{asynchronous::CoprocessorAsync, blocking::Coprocessor};
pub use types::{BoardInfo, Error};
