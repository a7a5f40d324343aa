//! Publish sensor readings to an MQTT broker from a PC: the lab's first exercise, one command.
//!
//! ```text
//! cargo run --example host                        # embedded broker, 5 random values as JSON
//! cargo run --example host -- --broker test.mosquitto.org:1883 --device apricot
//! cargo run --example host -- --mqtt 3 --qos 1 --count 10 --interval-ms 200
//! cargo run --example host -- --broker 10.0.0.2:1883 --broker 10.0.0.3:1883 --qos 1
//! THINGSPEAK_MQTT_PASSWORD=... cargo run --example host -- --format thingspeak \
//!     --broker mqtt3.thingspeak.com:1883 --channel 1234567 --client-id ID --username ID
//! ```
//!
//! Without `--broker` it starts an MQTT broker (rumqttd) inside this process on free
//! 127.0.0.1 ports, and a subscriber checks that every message came back through it. With
//! `--broker` the subscriber runs only when asked (`--verify`), and never for ThingSpeak,
//! which refuses subscribers without credentials. The publisher is the crate's
//! `ResilientPublisher` (a `Publisher` with an outage queue and reconnection) with
//! `RandomSensor` and the MQTT 5 (minimq) or MQTT 3.1.1 (mqttrs) transport over
//! `std-embedded-nal-async`, the same code path as firmware.
//!
//! **Failover.** `--broker` may be repeated (the nodes of a cluster, bridged brokers): after a
//! failed connect or a lost connection the next one is tried, round robin; the run ends with
//! which broker it used and how many switches happened.
//!
//! **Outages.** The defaults ride out a 5-minute broker outage at the default interval with
//! nothing dropped: 1,024 messages are queued (`--queue`), reconnection waits grow from
//! 250 ms to at most 5 s, and the run gives up only after 10 minutes without the broker
//! (`--give-up-after SECONDS`, 0 = never).
//!
//! **Exit status** (what the publisher knows): 0 when every message was delivered (QoS 1:
//! acknowledged by the broker; QoS 0: written to a connection that was open, see
//! `Mqtt311`'s docs for what that cannot promise); 1 with one line on stderr when a message
//! was dropped (queue full), the run gave up, or the broker is unreachable or refused; 2 for
//! bad input (one line); 3 when everything was delivered but the verifying subscriber did
//! not see it all.

#[path = "host/app.rs"]
mod app;

use std::process::ExitCode;

fn main() -> ExitCode {
    let password = std::env::var(app::PASSWORD_VAR).ok();
    match app::cli(std::env::args_os(), password) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
