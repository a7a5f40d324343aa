//! The firmware's TLS configuration on the host: [`sensorpub_station::run_tls`], the function
//! the ESP32 runs when built with `CA_FILE`, over std's network stack against a TLS 1.3
//! server on 127.0.0.1 (rustls in front of the in-process broker, ../../tests/tls_server) with
//! a simulated PySense 2. The broker verified against the right CA gets every sample; with
//! the wrong CA no connection reaches it and the samples wait in the outage queue.

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/pysense_bus/mod.rs"]
mod pysense_bus;
#[path = "../../tests/tls_server/mod.rs"]
mod tls_server;

use common::{PATIENCE, TestBroker, Version};
use pysense_bus::{Environment, PySenseBus};
use rand_core::SeedableRng;
use sensorpub::{Broker, EmbassyClock, TlsBuffers, TlsOptions};
use sensorpub_station::{self as station, Buffers, NodeConfig, NodeTls};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tls_server::{Pki, ServerSetup, TlsFront};

const DEVICE: &str = "lopy4-tls";

/// `run_tls` on its own thread, as on a device, against `localhost:port` trusting `ca`.
struct Station {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    events: mpsc::Receiver<String>,
    thread: Option<JoinHandle<()>>,
}

impl Station {
    fn start(port: u16, ca: Vec<u8>) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (events_tx, events) = mpsc::channel();
        let thread = thread::spawn(move || {
            let bus = PySenseBus::pysense2(Environment::default());
            let config = NodeConfig {
                device: DEVICE,
                broker: Broker::new("localhost", port),
                topic: None,
                period_ms: 50,
                thingspeak: None,
            };
            let net = std_embedded_nal_async::Stack::default();
            let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
            let tls = NodeTls {
                options: TlsOptions::verified(&ca),
                rng: rand::rng(),
                buffers: &mut tls_buffers,
            };
            let mut buffers = Buffers::new();
            let station = station::run_tls(
                &net,
                move || bus.clone(),
                EmbassyClock,
                rand_xorshift::XorShiftRng::seed_from_u64(7),
                &config,
                tls,
                &mut buffers,
                |event| {
                    let _ = events_tx.send(event.to_string());
                },
            );
            async_io::block_on(async {
                if let embassy_futures::select::Either::First(result) =
                    embassy_futures::select::select(station, stopped).await
                {
                    panic!("station stopped: {result:?}");
                }
            });
        });
        Self {
            stop: Some(stop),
            events,
            thread: Some(thread),
        }
    }

    /// Waits (at most [`PATIENCE`]) for an event that `matches`.
    fn wait_for_event(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if matches(&event) => return event,
                Ok(_) => {}
                Err(_) => panic!("the station never reported {what}"),
            }
        }
    }

    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("station thread");
    }
}

/// A TLS 1.3 server for `localhost`, signed by `pki`, in front of `broker`'s MQTT 5 port.
fn front(pki: &Pki, broker: &TestBroker) -> TlsFront {
    TlsFront::start(
        ServerSetup {
            certificate: pki.issue(&["localhost"], false),
            tls12_only: false,
            client_ca: None,
        },
        broker.port(Version::V5),
    )
}

/// `(published, queued)` from a "broker: 3 published, 0 queued, ..." event.
fn published_queued(event: &str) -> Option<(u64, u64)> {
    let mut numbers = event
        .strip_prefix("broker: ")?
        .split(", ")
        .map(|part| part.split_whitespace().next()?.parse().ok());
    Some((numbers.next()??, numbers.next()??))
}

#[test]
fn with_the_brokers_ca_every_sample_arrives_over_tls() {
    let broker = TestBroker::start();
    let mut feed = broker.subscribe(&format!("sensorpub/{DEVICE}/value"));
    let pki = Pki::new();
    let front = front(&pki, &broker);
    let station = Station::start(front.port, pki.ca_der());

    for message in feed.take(3) {
        let sample: serde_json::Value =
            serde_json::from_slice(&message.payload).expect("valid JSON");
        assert_eq!(sample["device"], DEVICE);
        assert!(sample["temperature"].is_number(), "{sample}");
        assert_eq!(message.qos, 1);
    }
    station.stop();
    assert!(front.forwarded() >= 1, "no connection came through TLS");
}

#[test]
fn with_another_ca_nothing_reaches_the_broker_and_samples_are_queued() {
    let broker = TestBroker::start();
    let mut feed = broker.subscribe(&format!("sensorpub/{DEVICE}/value"));
    let (pki, other) = (Pki::new(), Pki::new());
    let front = front(&pki, &broker);
    let station = Station::start(front.port, other.ca_der());

    // The connection is refused (untrusted certificate), so samples go to the queue.
    station.wait_for_event("two samples queued, none published", |e| {
        published_queued(e).is_some_and(|(published, queued)| published == 0 && queued >= 2)
    });
    station.stop();
    assert_eq!(feed.next_within(Duration::from_millis(200)), None);
    assert_eq!(front.forwarded(), 0, "a connection reached the broker");
}
