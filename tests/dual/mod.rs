//! The one harness of the PySense driver suites: every test body runs on the blocking driver
//! and on the async one (the two are generated from one source, and these tests prove they
//! behave the same), plus the few helpers every suite needs.
//!
//! ```ignore
//! mod dual;
//! use dual::{both, done};
//!
//! both! {
//!     blocking: use sensorpub::pysense::si7006::Si7006 as Driver;
//!     asynchronous: use sensorpub::pysense::si7006::Si7006Async as Driver;
//!
//!     fn reads() {
//!         let mut d = Driver::new(Mock::new(&[..]), CheckedDelay::new(&[..]));
//!         run!(d.measure_humidity()).unwrap();
//!         done(d.destroy()); // every expected transaction and delay happened
//!     }
//! }
//! ```
#![allow(dead_code)] // each suite uses a different part

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::delay::CheckedDelay;
use embedded_hal_mock::eh1::i2c::Mock;

/// `run!` in a blocking test: the call itself.
macro_rules! run_blocking {
    ($e:expr) => {
        $e
    };
}

/// `run!` in an async test: the call, awaited.
macro_rules! run_async {
    ($e:expr) => {
        $e.await
    };
}

/// Expands each test body into a module with a `blocking` and an `asynchronous` test. The
/// `blocking:` and `asynchronous:` `use` items name the driver types each body sees (a body
/// may use several drivers: `use sensorpub::pysense::{a::A, b::B};`); in the body,
/// `run!(expr)` evaluates a driver call (awaiting it in the async test), and the crate's
/// `BlockingSensor` / `Sensor` trait is in scope, so `run!(d.read())` reads a sample.
macro_rules! both {
    (blocking: $blocking:item asynchronous: $asynchronous:item) => {};
    (
        blocking: $blocking:item
        asynchronous: $asynchronous:item
        $(#[$meta:meta])*
        fn $name:ident() $body:block
        $($rest:tt)*
    ) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn blocking() {
                #[allow(unused_imports)]
                use sensorpub::BlockingSensor as _;
                #[allow(unused_imports)]
                $blocking
                #[allow(unused_imports)]
                use crate::dual::run_blocking as run;
                $body
            }

            #[test]
            fn asynchronous() {
                #[allow(unused_imports)]
                use sensorpub::Sensor as _;
                #[allow(unused_imports)]
                $asynchronous
                #[allow(unused_imports)]
                use crate::dual::run_async as run;
                embassy_futures::block_on(async { $body })
            }
        }

        crate::dual::both! {
            blocking: $blocking
            asynchronous: $asynchronous
            $($rest)*
        }
    };
}

#[allow(unused_imports)]
pub(crate) use {both, run_async, run_blocking};

/// Checks that every expected bus transaction and delay happened: call it with what the
/// driver's `destroy()` hands back.
pub fn done((mut i2c, mut delay): (Mock, CheckedDelay)) {
    i2c.done();
    delay.done();
}

/// The error a chip that does not answer its address gives.
pub fn nack() -> ErrorKind {
    ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
}

/// Asserts that `actual` is within `tolerance` of `expected`.
#[track_caller]
pub fn assert_close(actual: f32, expected: f32, tolerance: f32) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

/// Publishes one sample of `sensor` through `sink` with a `Publisher` and returns the payload
/// the transport received: how the driver suites check that a driver plugs into the crate.
pub fn publish_one<S>(sensor: S, sink: sensorpub::JsonSink<'_>) -> Vec<u8>
where
    S: sensorpub::Sensor<2>,
    S::Error: core::fmt::Debug,
{
    let mut buf = [0u8; 128];
    let mut publisher = sensorpub::Publisher::new(
        sensor,
        sink,
        sensorpub::MemoryTransport::<2, 128>::new(),
        sensorpub::SimulatedClock::new(),
        &mut buf,
    );
    assert_eq!(
        embassy_futures::block_on(publisher.publish_once::<2>()).unwrap(),
        1
    );
    publisher.transport().messages()[0].payload.to_vec()
}
