//! Publishing a third-party driver: the `sht4x` crate (Sensirion SHT40/41/45, embedded-hal
//! 1.0) from the registry, read through sensorpub's `Publisher`.
//!
//! Two things every such wrapper needs:
//! - **The orphan rule.** `BlockingSensor` is sensorpub's trait and `Sht4x` is sht4x's type, so
//!   neither crate's user may join them directly: a small struct of ours does, and it owns
//!   the delay the driver borrows for each measurement.
//! - **`Display` on the error.** `?` turns a `PublishError` into `Box<dyn Error>` only if the
//!   sensor's error is `Display`; sht4x's `Error` is `Debug` only, so ours wraps it.
//!
//! Here the bus is `embedded-hal-mock` playing the chip with bytes from its datasheet, and the
//! transport is a `MemoryTransport`; on a device the bus is the HAL's I2C and the transport an
//! `Mqtt5`/`Mqtt311` (see `examples/host.rs`). `cargo run --example sht4x` prints what was
//! published; `cargo test` runs it and checks it.

use embedded_hal::{delay::DelayNs, i2c::I2c};
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as Wait};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2cTransaction};
use sensorpub::{
    Blocking, BlockingSensor, JsonSink, MemoryTransport, Publisher, Quantity, Reading, Sample,
    SampleFull, SimulatedClock,
};
use sht4x::{Precision, Sht4x};

/// The SHT4x as a sensorpub sensor: the driver plus the delay it waits with.
struct Sht40<I, D> {
    driver: Sht4x<I, D>,
    delay: D,
}

/// A failed read, printable.
#[derive(Debug)]
enum Sht40Error<E> {
    Driver(sht4x::Error<E>),
    Full(SampleFull),
}

impl<E: core::fmt::Debug> core::fmt::Display for Sht40Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Sht40Error::Driver(e) => write!(f, "SHT4x: {e:?}"),
            Sht40Error::Full(e) => write!(f, "SHT4x: {e}"),
        }
    }
}

impl<E: core::fmt::Debug> std::error::Error for Sht40Error<E> {}

impl<I: I2c, D: DelayNs, const N: usize> BlockingSensor<N> for Sht40<I, D> {
    type Error = Sht40Error<I::Error>;

    fn read(&mut self) -> Result<Sample<N>, Self::Error> {
        let measurement = (self.driver)
            .measure(Precision::High, &mut self.delay)
            .map_err(Sht40Error::Driver)?;
        Sample::from_readings(&[
            Reading::new(
                Quantity::Temperature,
                measurement.temperature_milli_celsius() as f32 / 1000.0,
            ),
            Reading::new(
                Quantity::Humidity,
                measurement.humidity_milli_percent() as f32 / 1000.0,
            ),
        ])
        .map_err(Sht40Error::Full)
    }
}

/// SHT40-AD1B's I2C address (datasheet, section 5.1).
const ADDRESS: u8 = 0x44;
/// "Measure T & RH with high precision" (datasheet, table 7); at most 8.2 ms, the driver
/// waits 9.
const MEASURE_HIGH_PRECISION: u8 = 0xFD;
/// The chip's answer: temperature word, CRC, humidity word, CRC (CRC-8, polynomial 0x31,
/// init 0xFF). 0x6147 is 21.5 °C (T = -45 + 175 · S / 65535); 0xBEEF with CRC 0x92 is the
/// datasheet's own CRC example, 87.2 %RH (RH = -6 + 125 · S / 65535).
const ANSWER: [u8; 6] = [0x61, 0x47, 0x8A, 0xBE, 0xEF, 0x92];

/// Publishes one SHT40 reading as JSON; returns the payload.
fn publish_one_reading() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let i2c = I2cMock::new(&[
        I2cTransaction::write(ADDRESS, vec![MEASURE_HIGH_PRECISION]),
        I2cTransaction::read(ADDRESS, ANSWER.to_vec()),
    ]);
    let delay = CheckedDelay::new(&[Wait::delay_ms(9)]);
    let mut sht40 = Sht40 {
        driver: Sht4x::new(i2c),
        delay,
    };

    let mut buf = [0u8; 128];
    let mut publisher = Publisher::new(
        Blocking(&mut sht40), // lent: `sht40` is ours again once the publisher is dropped
        JsonSink::object("sht40/value")?.with_decimals(1)?,
        MemoryTransport::<1, 128>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    // The wrapper fills any capacity: name it once, where it is read.
    embassy_futures::block_on(publisher.publish_once::<2>())?;
    let payload = publisher.transport().messages()[0].payload.to_vec();
    drop(publisher);

    // Every expected bus transaction and wait happened.
    sht40.driver.destroy().done();
    sht40.delay.done();
    Ok(payload)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let payload = publish_one_reading()?;
    println!("sht40/value {}", String::from_utf8(payload)?);
    Ok(())
}

#[test]
fn the_sht40_reading_is_published_as_json() {
    assert_eq!(
        publish_one_reading().unwrap(),
        br#"{"temperature":21.5,"humidity":87.2}"#
    );
}
