//! LTR-329ALS-01 ambient light sensor (I²C 0x29), blocking and async.
//!
//! Implemented from the LTR-329ALS-01 datasheet (register map; ALS_MEAS_RATE's rule that the
//! repeat rate be at least the integration time; 100 ms start-up and 10 ms standby-to-active
//! times), Lite-On's "LTR-303/329 Appendix A" lux formula (Ver 1.0, 2013) and the LTR-559
//! datasheet's note that the data registers lock from the first data byte to 0x8B, which is
//! why the two channels are read in one 4-byte burst from 0x88, CH1 first.
//!
//! What the driver does that Pycom's `LTR329ALS01.py` does not: it checks PART_ID, reads the
//! channels in one burst instead of four single-byte reads, checks ALS_STATUS for invalid and
//! new data, refuses saturated channels ([`Error::Saturated`], never a zero lux), uses the gain
//! the data was actually taken with, changes settings in standby and drops the data measured
//! before (ALS_STATUS does not say its integration time), and keeps 50 ms integration at
//! ALS_INT 0.5.
//!
//! - [`Ltr329`] on embedded-hal 1.0, [`Ltr329Async`] on embedded-hal-async
//!   1.0: the same methods, generated from one source; both implement the crate's sensor
//!   traits ([`BlockingSensor`](crate::BlockingSensor) / [`Sensor`](crate::Sensor)) with one
//!   [`Quantity::Illuminance`](crate::Quantity::Illuminance) reading.
//! - [`lux`]: the app-note formula as a pure function.
//!
//! ```
//! use embedded_hal::{delay::DelayNs, i2c::I2c};
//! use sensorpub::pysense::ltr329::{Ltr329, Config, Error, Gain, IntegrationTime, MeasurementRate};
//!
//! fn light<I: I2c, D: DelayNs>(i2c: I, delay: D) -> Result<f32, Error<I::Error>> {
//!     // 8× gain, 200 ms integration every 500 ms: checked when built, not on the chip.
//!     let config = Config::new(Gain::X8, IntegrationTime::Ms200, MeasurementRate::Ms500)
//!         .unwrap_or_default();
//!     let mut als = Ltr329::new(i2c, delay); // no I/O yet
//!     als.init(config)?; // PART_ID check, configure, activate, 10 ms wait
//!     let lux = als.read_lux()?; // waits for new data, one burst, lux by the app note
//!     let (_i2c, _delay) = als.destroy();
//!     Ok(lux)
//! }
//! ```
//!
//! The async driver is the same with `Ltr329Async` and `.await` after each call.

mod conversion;
mod driver;
mod register;
mod types;

pub use conversion::lux;

/// Time from power-on until the LTR-329 answers (100 ms): wait it before `init`.
pub const POWER_UP_TIME_MS: u32 = register::POWER_UP_TIME_MS;
pub use driver::{asynchronous::Ltr329Async, blocking::Ltr329};
pub use types::{
    Config, ConfigError, Error, Gain, IntegrationTime, Measurement, MeasurementRate, PartId,
};
