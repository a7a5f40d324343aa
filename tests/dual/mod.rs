//! One driver test body, run on the blocking driver and on the async one: the two are generated
//! from one source, and these tests prove they behave the same.

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

/// Expands each test body into `blocking` and `asynchronous` tests. In the body, `Driver` is
/// the driver type and `run!(expr)` evaluates a driver call (awaiting it in the async test).
///
/// ```ignore
/// both! {
///     blocking = sensorpub::pysense::si7006::Si7006,
///     asynchronous = sensorpub::pysense::si7006::Si7006Async;
///     fn reads() { let mut d = Driver::new(..); run!(d.measure_humidity()).unwrap(); }
/// }
/// ```
macro_rules! both {
    (blocking = $($blocking:ident)::+, asynchronous = $($asynchronous:ident)::+;) => {};
    (
        blocking = $($blocking:ident)::+,
        asynchronous = $($asynchronous:ident)::+;
        fn $name:ident() $body:block
        $($rest:tt)*
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn blocking() {
                #[allow(unused_imports)]
                use sensorpub::BlockingSensor as _;
                #[allow(unused_imports)]
                use $($blocking)::+ as Driver;
                #[allow(unused_imports)]
                use crate::dual::run_blocking as run;
                $body
            }

            #[test]
            fn asynchronous() {
                #[allow(unused_imports)]
                use sensorpub::Sensor as _;
                #[allow(unused_imports)]
                use $($asynchronous)::+ as Driver;
                #[allow(unused_imports)]
                use crate::dual::run_async as run;
                embassy_futures::block_on(async { $body })
            }
        }

        crate::dual::both! {
            blocking = $($blocking)::+,
            asynchronous = $($asynchronous)::+;
            $($rest)*
        }
    };
}

#[allow(unused_imports)]
pub(crate) use {both, run_async, run_blocking};

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
