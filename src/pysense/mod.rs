//! Drivers for the sensors on Pycom's PySense and PySense 2 boards: one folder a chip.
//!
//! All of them share the board's single I²C bus (SDA = P22, SCL = P21, 100 kHz). Every chip
//! has a blocking driver (embedded-hal 1.0) and an async driver (embedded-hal-async) generated
//! from one source, so the two cannot drift apart: [`si7006::Si7006`] and
//! [`si7006::Si7006Async`], [`ltr329::Ltr329`] and [`ltr329::Ltr329Async`], and so on. Both
//! exist at once; no feature switches one off.
//!
//! Each driver takes its I²C bus and an embedded-hal `DelayNs` by value in `new(i2c, delay)`
//! (share the one PySense bus through `embedded-hal-bus`: `RefCellDevice`,
//! `CriticalSectionDevice`), does no I/O there (`init` does), hands both back from `destroy()`
//! as `(i2c, delay)`, and implements [`BlockingSensor`](crate::BlockingSensor) or
//! [`Sensor`](crate::Sensor) so a [`Publisher`](crate::Publisher) can read it directly.
//! Conversions from raw codes to physical units are public pure functions, testable without a
//! bus.
//!
//! On PySense 2 the sensors have no power until the [`coprocessor`] switches it on: call
//! [`Coprocessor::power_on_sensors`](coprocessor::Coprocessor::power_on_sensors) first, then
//! wait for the sensors to start ([`ltr329::POWER_UP_TIME_MS`], the slowest);
//! [`PySense::power_on_sensors`] does both.

pub mod board;
pub mod coprocessor;
pub mod lis2hh12;
pub mod ltr329;
pub mod mpl3115a2;
pub mod si7006;

pub use board::{BoardError, InitErrors, Presence, PySense, PySenseAsync};
