//! Drivers for the chips on Pycom's PySense board: one folder a chip.
//!
//! All of them share the board's single I²C bus (SDA = P22, SCL = P21, 100 kHz); each driver
//! takes the bus by value, so share it through `embedded-hal-bus` (`RefCellDevice`,
//! `CriticalSectionDevice`). Every driver exists twice from one source, both available at once:
//! blocking on embedded-hal 1.0 ([`ltr329::Ltr329`]) and async on embedded-hal-async 1.0
//! ([`ltr329::Ltr329Async`]), and so on. The raw-to-unit conversions are pure public functions
//! beside each driver.
//!
//! On PySense 2 the sensors have no power until the [`coprocessor`] switches it on: call
//! [`Coprocessor::power_on_sensors`](coprocessor::Coprocessor::power_on_sensors) first, then
//! wait for the sensors to start.

pub mod coprocessor;
pub mod lis2hh12;
pub mod ltr329;
