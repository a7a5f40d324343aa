//! The subscriber that shows what arrived: an MQTT 5 client (minimq, which the crate already
//! uses) in its own thread, printing each message as it receives it.

use minimq::{ConfigBuilder, QoS, Session, SubscriptionOptions, TopicFilter};
use sensorpub::transport::{Broker, open};
use std::sync::mpsc;
use std_embedded_nal_async::Stack;

/// Received messages, counted by the main thread.
pub type Arrivals = mpsc::Receiver<()>;

/// Connects to `broker` as `client_id`, subscribes to `topic` at QoS 1 and returns once the
/// broker confirmed the subscription; then prints every message in the background.
pub fn start(broker: String, client_id: String, topic: String) -> Result<Arrivals, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (arrived_tx, arrived_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = async_io::block_on(subscribe(
            &broker,
            &client_id,
            &topic,
            &ready_tx,
            &arrived_tx,
        ));
        if let Err(e) = result {
            // Before SUBACK this reaches main as the reason; afterwards nobody listens.
            let _ = ready_tx.send(Err(e));
        }
    });
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(arrived_rx),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the subscriber stopped".to_owned()),
    }
}

async fn subscribe(
    broker: &str,
    client_id: &str,
    topic: &str,
    ready: &mpsc::Sender<Result<(), String>>,
    arrived: &mpsc::Sender<()>,
) -> Result<(), String> {
    let stack = Stack::default();
    let address = Broker::parse(broker).map_err(|e| e.to_string())?;
    let io = open(&stack, &address)
        .await
        .map_err(|e| format!("cannot reach the broker at {broker}: {e}"))?;
    let mut buffer = [0u8; 4096];
    let config = ConfigBuilder::from_buffer(&mut buffer, 2048)
        .and_then(|c| c.client_id(client_id))
        .map_err(|e| format!("subscriber: {e}"))?;
    let mut session = Session::new(config);
    let mut connection = session
        .connect(io)
        .await
        .map_err(|e| format!("subscriber: {e}"))?;
    let filter = TopicFilter::new(topic)
        .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce));
    let op = connection
        .subscribe(&[filter], &[])
        .await
        .map_err(|e| format!("subscriber: {e}"))?;
    while connection.is_pending(&op) {
        connection
            .poll()
            .await
            .map_err(|e| format!("subscriber: {e}"))?;
    }
    let _ = ready.send(Ok(()));
    loop {
        let message = connection
            .recv()
            .await
            .map_err(|e| format!("subscriber: {e}"))?;
        println!(
            "subscriber received  {}  {}",
            message.topic(),
            String::from_utf8_lossy(message.payload())
        );
        let _ = arrived.send(());
    }
}
