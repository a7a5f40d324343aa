//! MPL3115A2 barometric pressure / altitude sensor (I²C address 0x60).
//!
//! Two drivers from one source: [`Mpl3115a2`] (blocking, embedded-hal 1.0) and
//! [`Mpl3115a2Async`] (embedded-hal-async). The measurement mode is part of the type
//! ([`mode::Barometer`] or [`mode::Altimeter`]): a barometer has
//! [`measure_pressure`](Mpl3115a2::measure_pressure), an altimeter
//! [`measure_altitude`](Mpl3115a2::measure_altitude), and switching consumes the driver and
//! returns the other type, or the old one with the error if the bus write fails.
//!
//! Every measurement is one-shot: the chip stays in standby, the driver sets OST, waits the
//! conversion time of the [`Oversampling`] ratio, polls until the chip clears OST (bounded,
//! else [`Error::Timeout`]) and reads STATUS with pressure/altitude and temperature in one
//! 6-byte burst, so the values come from the same conversion. Conversions of the fixed-point
//! registers ([`pressure_from_raw`], [`altitude_from_raw`], [`temperature_from_raw`]) are pure
//! functions.
//!
//! Implemented from the Freescale MPL3115A2 datasheet rev. 2.2: §7.1.3 (output data formats:
//! Q18.2 Pa, signed Q16.4 m, signed Q8.4 °C), §7.1.3.1 (6-byte burst from STATUS with the FIFO
//! off), and the register descriptions of DR_STATUS (PDR/TDR), WHO_AM_I (0xC4), PT_DATA_CFG,
//! BAR_IN (2 Pa units) and CTRL_REG1 (ALT, OS with its minimum-time-between-samples table,
//! OST, SBYB).
//!
//! Deliberately unlike Pycom's `MPL3115A2.py`: WHO_AM_I is checked; the mode is a type, not a
//! per-object flag that a second object on the same chip makes stale; measurements are
//! one-shot rather than continuous, with a bounded wait; the data come from one burst read
//! with the status checked every time instead of three separate 1-byte reads; and the
//! sea-level pressure (BAR_IN) can be set, so altitudes are right for the user's location.
//! `init` also puts a chip that other firmware left active (a warm start) in standby before
//! changing its mode; call it before anything else, since mode and oversampling changes
//! assume standby.
//!
//! # Example (blocking)
//!
//! ```
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::{Mock, Transaction}};
//! use sensorpub::pysense::mpl3115a2::Mpl3115a2;
//!
//! # let mut i2c = Mock::new(&[
//! #     Transaction::write_read(0x60, vec![0x0C], vec![0xC4]),
//! #     Transaction::write_read(0x60, vec![0x26], vec![0x00]),
//! #     Transaction::write(0x60, vec![0x26, 0x38]),
//! #     Transaction::write(0x60, vec![0x13, 0x07]),
//! #     Transaction::write(0x60, vec![0x26, 0xB8]),
//! #     Transaction::write(0x60, vec![0x14, 0xC6, 0xC0]),
//! #     Transaction::write(0x60, vec![0x26, 0xBA]),
//! #     Transaction::write_read(0x60, vec![0x26], vec![0xB8]),
//! #     Transaction::write_read(0x60, vec![0x00], vec![0x0E, 0xFF, 0xF5, 0x80, 0x17, 0x90]),
//! # ]);
//! # let delay = NoopDelay::new();
//! let mut barometer = Mpl3115a2::new(i2c, delay);
//! barometer.init()?; // checks WHO_AM_I, stops the chip if it was left active
//! let mut altimeter = barometer.into_altimeter().map_err(|e| e.error)?;
//! altimeter.set_sea_level_pressure(101_760)?; // today's QNH where you are
//! let m = altimeter.measure_altitude()?;
//! assert_eq!(m.altitude, -10.5);
//! assert_eq!(m.temperature, 23.5625);
//! # let (mut i2c, _) = altimeter.destroy();
//! # i2c.done();
//! # Ok::<(), sensorpub::pysense::mpl3115a2::Error<embedded_hal::i2c::ErrorKind>>(())
//! ```
//!
//! Reading altitude from a barometer does not compile:
//!
//! ```compile_fail
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::Mock};
//! use sensorpub::pysense::mpl3115a2::Mpl3115a2;
//! let mut barometer = Mpl3115a2::new(Mock::new(&[]), NoopDelay::new());
//! let _ = barometer.measure_altitude();
//! ```
//!
//! # Example (async, as a `Sensor`)
//!
//! ```
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::{Mock, Transaction}};
//! use sensorpub::pysense::mpl3115a2::Mpl3115a2Async;
//! use sensorpub::{Quantity, Sample, Sensor};
//!
//! # let mut i2c = Mock::new(&[
//! #     Transaction::write_read(0x60, vec![0x0C], vec![0xC4]),
//! #     Transaction::write_read(0x60, vec![0x26], vec![0x00]),
//! #     Transaction::write(0x60, vec![0x26, 0x38]),
//! #     Transaction::write(0x60, vec![0x13, 0x07]),
//! #     Transaction::write(0x60, vec![0x26, 0x3A]),
//! #     Transaction::write_read(0x60, vec![0x26], vec![0x38]),
//! #     Transaction::write_read(0x60, vec![0x00], vec![0x0E, 0x62, 0xF3, 0x40, 0x17, 0x90]),
//! # ]);
//! # let delay = NoopDelay::new();
//! # embassy_futures::block_on(async {
//! let mut barometer = Mpl3115a2Async::new(i2c, delay);
//! barometer.init().await?;
//! let sample: Sample<2> = barometer.read().await?;
//! assert_eq!(sample.get(Quantity::Pressure), Some(101_325.0));
//! # let (mut i2c, _) = barometer.destroy();
//! # i2c.done();
//! # Ok::<(), sensorpub::pysense::mpl3115a2::Error<embedded_hal::i2c::ErrorKind>>(())
//! # }).unwrap();
//! ```

mod conversion;
mod driver;
mod register;
mod types;

pub use conversion::{
    altitude_from_raw, bar_in_from_pascals, pressure_from_raw, temperature_from_raw,
};
pub use driver::{asynchronous::Mpl3115a2Async, blocking::Mpl3115a2};
pub use types::{
    AltitudeMeasurement, Error, ModeChangeError, Oversampling, PRESSURE_SENSOR_TEMPERATURE,
    PressureMeasurement, mode,
};
