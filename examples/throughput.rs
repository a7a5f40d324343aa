//! Publish throughput over loopback: how many messages a second one transport pushes through
//! a broker. Not a test (no assertion, machines are shared and noisy): a measurement.
//!
//! ```text
//! mosquitto -p 18830 &                      # Debian's mosquitto, or any broker
//! cargo run --release --example throughput -- --broker 127.0.0.1:18830 --mqtt 5 --qos 1
//! ```
//!
//! The clock stops when a final QoS 1 message is acknowledged: a broker handles one
//! connection's packets in order, so by then it has taken every message before it, QoS 0
//! ones included. At QoS 1 each publish waits for its PUBACK (the `Transport` contract), so
//! that rate is one round trip a message.

use clap::Parser;
use embassy_futures::select::{Either, select};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, Mqtt311, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std::process::ExitCode;
use std::time::Instant;
use std_embedded_nal_async::Stack;

/// Measure publish throughput of the MQTT 5 or 3.1.1 transport.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The broker, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    broker: String,
    /// MQTT protocol version: 5, or 3 for 3.1.1.
    #[arg(long, value_parser = ["3", "5"], default_value = "5")]
    mqtt: String,
    /// Quality of service: 0 or 1.
    #[arg(long, value_parser = ["0", "1"], default_value = "0")]
    qos: String,
    /// Messages to publish.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    count: u32,
    /// Payload size in bytes.
    #[arg(long, value_name = "B", default_value_t = 40)]
    payload_bytes: usize,
}

const TOPIC: &str = "sensorpub/throughput";

/// Largest payload the MQTT 5 buffers below take.
const MAX_PAYLOAD: usize = 8192;
/// MQTT 5: one incoming packet, minimq's transmit arena (room for the 8 QoS 1 messages it
/// keeps in flight), the message copied to the runner.
type Buffers = Mqtt5Buffers<256, { 4096 + 8 * MAX_PAYLOAD }, { 256 + MAX_PAYLOAD }>;

fn main() -> ExitCode {
    let args = Args::parse();
    match measure(&args) {
        Ok(rate) => {
            println!(
                "MQTT {} QoS {}: {} messages of {} B in {:.3} s = {:.0} messages/s",
                if args.mqtt == "5" { "5" } else { "3.1.1" },
                args.qos,
                args.count,
                args.payload_bytes,
                f64::from(args.count) / rate,
                rate
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn measure(args: &Args) -> Result<f64, Box<dyn std::error::Error>> {
    let broker = Broker::parse(&args.broker)?;
    let stack = Stack::default();
    let options = MqttOptions::new("sensorpub-throughput");
    let qos = if args.qos == "1" {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let payload = vec![b'7'; args.payload_bytes];
    if args.mqtt == "5" {
        if args.payload_bytes > MAX_PAYLOAD {
            return Err(format!("MQTT 5 here takes payloads up to {MAX_PAYLOAD} B").into());
        }
        let mut buffers = Box::new(Buffers::new());
        let (mut mqtt, mut runner) = Mqtt5::new(&stack, broker, options, &mut buffers)?;
        let measured = async {
            let rate = run(&mut mqtt, args.count, qos, &payload).await;
            mqtt.disconnect().await;
            rate
        };
        match async_io::block_on(select(runner.run(), measured)) {
            Either::First(never) => never,
            Either::Second(rate) => Ok(rate?),
        }
    } else {
        let mut tx = vec![0u8; 256 + args.payload_bytes];
        let mut rx = [0u8; 64];
        let mut mqtt = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx);
        let rate = async_io::block_on(run(&mut mqtt, args.count, qos, &payload))?;
        async_io::block_on(mqtt.disconnect());
        Ok(rate)
    }
}

/// Messages a second for `count` publishes at `qos`, ended by one acknowledged message.
async fn run<T: Transport>(
    transport: &mut T,
    count: u32,
    qos: QoS,
    payload: &[u8],
) -> Result<f64, T::Error> {
    transport.connect().await?;
    let message = Message::new(TOPIC, payload).with_qos(qos);
    let start = Instant::now();
    for _ in 0..count {
        transport.publish(&message).await?;
    }
    transport
        .publish(&message.with_qos(QoS::AtLeastOnce))
        .await?;
    Ok(f64::from(count) / start.elapsed().as_secs_f64())
}
