//! Prints what the sinks put on the wire for one PySense-like sample: the topics and payloads a
//! broker would receive, without a broker.
//!
//! ```text
//! cargo run --example payloads
//! ```

use sensorpub::{JsonSink, Quantity, Reading, Sample, Sink, ThingSpeakSink};

/// ThingSpeak channel of the example (any number works offline).
const CHANNEL_ID: u32 = 1_234_567;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sample = Sample::<4>::from_readings(&[
        Reading::new(Quantity::Temperature, 21.53),
        Reading::new(Quantity::Humidity, 45.2),
        Reading::new(Quantity::Pressure, 101_325.0),
    ])?;
    sample.set_timestamp(Some(1_795_667_846));

    let fields = [
        (1, Quantity::Temperature),
        (2, Quantity::Humidity),
        (3, Quantity::Pressure),
    ];
    let mut buf = [0u8; 256];

    let mut value = JsonSink::value("apricot/value")?.of(Quantity::Temperature);
    print(&mut value, &sample, &mut buf)?;
    let mut object = JsonSink::object("apricot/value")?.with_device("apricot");
    print(&mut object, &sample, &mut buf)?;
    let mut bulk = ThingSpeakSink::new(CHANNEL_ID, &fields)?.with_status("lab & test")?;
    print(&mut bulk, &sample, &mut buf)?;
    let mut per_field = ThingSpeakSink::new(CHANNEL_ID, &fields)?.per_field();
    print(&mut per_field, &sample, &mut buf)?;
    Ok(())
}

/// Encodes every message of `sample` and prints it; messages are spaced a day apart so the
/// ThingSpeak rate limit never applies here.
fn print<K>(sink: &mut K, sample: &Sample<4>, buf: &mut [u8]) -> Result<(), K::Error>
where
    K: Sink,
{
    for index in 0..sink.message_count(sample) {
        let now_ms = index as u64 * 86_400_000;
        let msg = sink.encode(sample, index, now_ms, buf)?;
        println!("{:<40} {}", msg.topic, String::from_utf8_lossy(msg.payload));
    }
    Ok(())
}
