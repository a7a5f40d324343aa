//! The subscriber that verifies delivery where it can: an MQTT 5 client (minimq, which the
//! crate already uses) in its own thread, printing each message as it receives it and
//! reconnecting when its connection ends.
//!
//! It runs only against the embedded broker or with `--verify`: a broker such as ThingSpeak
//! refuses it (it has no credentials), and some brokers do not route messages back.

use embassy_futures::select::{Either, select};
use minimq::{ConfigBuilder, QoS, Session, SubscriptionOptions, TopicFilter};
use sensorpub::{Broker, open_connection};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use std_embedded_nal_async::Stack;

/// Wait before reconnecting after the connection ended.
const RECONNECT_WAIT: Duration = Duration::from_millis(500);
/// How often a waiting subscriber checks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(250);
/// Keep-alive, so a broker that vanished without closing is noticed.
const KEEP_ALIVE_S: u16 = 10;

/// The payloads the subscriber received, in order; it stops when this is dropped.
pub struct Arrivals {
    payloads: mpsc::Receiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
    reconnects: Arc<AtomicU32>,
}

impl Arrivals {
    /// The next payload, or `None` if none came within `wait`.
    pub fn next_within(&self, wait: Duration) -> Option<Vec<u8>> {
        self.payloads.recv_timeout(wait).ok()
    }

    /// How many times the subscriber subscribed again after losing its connection.
    pub fn reconnects(&self) -> u32 {
        self.reconnects.load(Ordering::Relaxed)
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Connects to `broker` as `client_id`, subscribes to `topic` at QoS 1 and returns once the
/// broker confirmed the subscription; then receives in the background, reconnecting and
/// subscribing again whenever the connection ends. An error before the first SUBACK is
/// returned (the broker refuses subscribers, or forbids this topic).
pub fn start(broker: String, client_id: String, topic: String) -> Result<Arrivals, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (payload_tx, payloads) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicU32::new(0));
    let shared = Shared {
        ready: ready_tx,
        payloads: payload_tx,
        stop: Arc::clone(&stop),
        subscriptions: Arc::clone(&reconnects),
    };
    std::thread::spawn(move || async_io::block_on(receive(&broker, &client_id, &topic, &shared)));
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Arrivals {
            payloads,
            stop,
            reconnects,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the subscriber stopped".to_owned()),
    }
}

/// What the subscriber thread shares with the rest of the program.
struct Shared {
    /// The outcome of the first subscription.
    ready: mpsc::Sender<Result<(), String>>,
    /// Every payload received.
    payloads: mpsc::Sender<Vec<u8>>,
    /// Set when the program no longer listens.
    stop: Arc<AtomicBool>,
    /// Subscriptions after the first (one per reconnection).
    subscriptions: Arc<AtomicU32>,
}

/// Receives until `stop` is set, reconnecting as needed. Until the first SUBACK, an error
/// ends it and is sent on `ready`.
async fn receive(broker: &str, client_id: &str, topic: &str, shared: &Shared) {
    let mut buffer = [0u8; 4096];
    let mut subscribed_once = false;
    let mut attempt = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        // A fresh session and client id for every connection: a broker may still hold the
        // last one (it learns that it died only from the keep-alive), and a broker that
        // restarted has forgotten it anyway.
        let id = match attempt {
            0 => client_id.to_owned(),
            n => format!("{client_id}-{n}"),
        };
        attempt = attempt.wrapping_add(1);
        let config =
            match ConfigBuilder::from_buffer(&mut buffer, 2048).and_then(|c| c.client_id(&id)) {
                Ok(config) => config.keepalive_interval(KEEP_ALIVE_S),
                Err(e) => {
                    let _ = shared.ready.send(Err(format!("subscriber: {e}")));
                    return;
                }
            };
        let mut session = Session::new(config);
        match connection(broker, topic, &mut session, shared, subscribed_once).await {
            Ok(()) => return, // asked to stop
            Err((e, subscribed)) => {
                subscribed_once |= subscribed;
                if !subscribed_once {
                    let _ = shared.ready.send(Err(format!("subscriber: {e}")));
                    return;
                }
                println!("subscriber: {e}; reconnecting");
            }
        }
        async_io::Timer::after(RECONNECT_WAIT).await;
    }
}

/// One connection: connect, subscribe, receive until it fails (`Err` with whether the
/// subscription was confirmed) or `stop` is set (`Ok`).
async fn connection(
    broker: &str,
    topic: &str,
    session: &mut Session<'_>,
    shared: &Shared,
    again: bool,
) -> Result<(), (String, bool)> {
    let stack = Stack::default();
    let address = Broker::parse(broker).map_err(|e| (e.to_string(), false))?;
    let io = open_connection(&stack, &address)
        .await
        .map_err(|e| (format!("cannot reach the broker at {broker}: {e}"), false))?;
    let mut connection = session
        .connect(io)
        .await
        .map_err(|e| (e.to_string(), false))?;
    let filter = TopicFilter::new(topic)
        .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce));
    let op = connection
        .subscribe(&[filter], &[])
        .await
        .map_err(|e| (e.to_string(), false))?;
    while connection.is_pending(&op) {
        connection
            .poll()
            .await
            .map_err(|e| (e.to_string(), false))?;
    }
    if !connection.is_complete(&op) {
        return Err((
            format!("the broker refused the subscription to {topic}"),
            false,
        ));
    }
    if again {
        shared.subscriptions.fetch_add(1, Ordering::Relaxed);
        println!("subscriber: subscribed again");
    } else {
        let _ = shared.ready.send(Ok(()));
    }
    loop {
        // recv is cancel-safe over async-io's sockets: a timeout only checks `stop`.
        match select(connection.recv(), async_io::Timer::after(STOP_CHECK)).await {
            Either::First(Ok(message)) => {
                println!(
                    "subscriber received  {}  {}",
                    message.topic(),
                    String::from_utf8_lossy(message.payload())
                );
                let _ = shared.payloads.send(message.payload().to_vec());
            }
            Either::First(Err(e)) => return Err((e.to_string(), true)),
            Either::Second(_) => {
                if shared.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
            }
        }
    }
}
