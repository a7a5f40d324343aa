//! Drivers for the sensors on Pycom's PySense and PySense 2 boards.
//!
//! Every chip has its own module with a blocking driver (embedded-hal 1.0) and an async driver
//! (embedded-hal-async) generated from one source, so the two cannot drift apart: for the SI7006
//! they are [`si7006::Si7006`] and [`si7006::Si7006Async`], and so on. Both exist at once; no
//! feature switches one off. Each driver takes its I²C bus and an embedded-hal `DelayNs` by
//! value in `new(i2c, delay)` (share the one PySense bus through `embedded-hal-bus`), does no
//! I/O there (`init` does), hands both back from `destroy()` as `(i2c, delay)`, and
//! implements [`BlockingSensor`](crate::BlockingSensor) or [`Sensor`](crate::Sensor) so a
//! [`Publisher`](crate::Publisher) can read it directly. Conversions from raw codes to physical
//! units are public pure functions, testable without a bus.

pub mod mpl3115a2;
pub mod si7006;
