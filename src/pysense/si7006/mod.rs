//! SI7006-A20 relative humidity and temperature sensor (I²C address 0x40).
//!
//! Two drivers from one source: [`Si7006`] (blocking, embedded-hal 1.0) and [`Si7006Async`]
//! (embedded-hal-async). Both use the No Hold measurement commands and wait the datasheet's
//! maximum conversion time for the configured resolution (12 + 10.8 ms for humidity at the
//! default resolution), check the CRC-8 on every transfer that carries one, clamp humidity to
//! 0..=100 % and read the temperature of the humidity conversion (0xE0) instead of starting a
//! second one. Conversions ([`temperature_from_code`], [`humidity_from_code`], [`crc8`],
//! [`dew_point`]) are pure functions.
//!
//! Implemented from the Si7021-A20 datasheet rev. 1.1, whose command set, timing and formulas
//! the Si7006-A20 shares: Table 2 (conversion and reset times), §5 and Table 11 (I²C commands),
//! §5.1 (measurement, status bits, checksum), §5.2 (user register access), §5.3 (electronic
//! serial number with its running checksums; SNB_3 = 0x06 for the Si7006), §5.4 (firmware
//! revision), §5.5 and the register tables (heater, user register 1).
//!
//! Deliberately unlike Pycom's `SI7006A20.py`: no half-second sleeps, checksums are checked
//! rather than ignored, the status bits are masked and RH is clamped, the electronic ID is
//! read whole (8 + 6 bytes) and de-interleaved rather than 4 + 4 bytes that mix checksums into
//! the serial number, an unknown device ID is a value rather than a crash, and the dew point
//! uses the temperature of the same conversion instead of a second measurement.
//!
//! # Example (blocking)
//!
//! ```
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::{Mock, Transaction}};
//! use sensorpub::pysense::si7006::Si7006;
//!
//! # let mut i2c = Mock::new(&[
//! #     Transaction::write(0x40, vec![0xF5]),
//! #     Transaction::read(0x40, vec![0x7C, 0x82, 0x97]),
//! #     Transaction::write_read(0x40, vec![0xE0], vec![0x66, 0x40]),
//! # ]);
//! # let delay = NoopDelay::new();
//! // `i2c` is the PySense bus (or an embedded-hal-bus device on it), `delay` any `DelayNs`.
//! let mut sensor = Si7006::new(i2c, delay);
//! let m = sensor.measure_both()?;
//! assert!((m.temperature - 23.34).abs() < 0.01);
//! assert!((m.humidity - 54.79).abs() < 0.01);
//! let dew_point = m.dew_point();
//! # let (mut i2c, _) = sensor.destroy();
//! # i2c.done();
//! # Ok::<(), sensorpub::pysense::si7006::Error<embedded_hal::i2c::ErrorKind>>(())
//! ```
//!
//! # Example (async)
//!
//! ```
//! # use embedded_hal_mock::eh1::{delay::NoopDelay, i2c::{Mock, Transaction}};
//! use sensorpub::pysense::si7006::Si7006Async;
//! use sensorpub::{Quantity, Sample, Sensor};
//!
//! # let mut i2c = Mock::new(&[
//! #     Transaction::write(0x40, vec![0xF5]),
//! #     Transaction::read(0x40, vec![0x7C, 0x82, 0x97]),
//! #     Transaction::write_read(0x40, vec![0xE0], vec![0x66, 0x40]),
//! # ]);
//! # let delay = NoopDelay::new();
//! # embassy_futures::block_on(async {
//! let mut sensor = Si7006Async::new(i2c, delay);
//! // As a `Sensor`, for a `Publisher`: temperature and humidity in one sample.
//! let sample: Sample<2> = sensor.read().await?;
//! assert_eq!(sample.len(), 2);
//! assert!(sample.get(Quantity::Humidity).is_some());
//! # let (mut i2c, _) = sensor.destroy();
//! # i2c.done();
//! # Ok::<(), sensorpub::pysense::si7006::Error<embedded_hal::i2c::ErrorKind>>(())
//! # }).unwrap();
//! ```

mod conversion;
mod driver;
mod register;
mod types;

pub use conversion::{
    crc8, dew_point, humidity_from_code, humidity_from_dew_point, temperature_from_code,
};
/// How long the SI7006 needs after its supply comes up before it answers, in ms (Table 2,
/// "Powerup Time", full temperature range). On a PySense 2 wait this long after the
/// co-processor switches the sensor power on, before [`Si7006::init`].
pub const POWER_UP_TIME_MS: u32 = register::POWER_UP_TIME_MS;

pub use driver::{asynchronous::Si7006Async, blocking::Si7006};
pub use types::{
    DeviceId, ElectronicId, Error, FirmwareRevision, HeaterCurrent, Measurement, Resolution,
};
