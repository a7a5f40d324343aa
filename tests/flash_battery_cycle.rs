//! A battery node's wake → read → store → sleep cycle on the host: every wake is a fresh
//! publisher (deep sleep loses RAM) over the same (mock) NOR flash; the node connects only
//! every `K` wakes, or when the stored backlog passes a threshold, and sends the batch. The
//! broker is away for two send wakes; once back, every sample arrives, in order, with the
//! time it was measured, and the node connected far less often than it sampled.

#[path = "common/host.rs"]
mod host;
use embassy_futures::block_on;
use host::Fixed;
use sensorpub::{
    Backoff, BackoffConfig, FlashQueue, JsonSink, MemoryTransport, Publisher, QoS, Quantity,
    Reading, ResilientError, ResilientPublisher, Sample, SimulatedClock,
};
use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};

type Flash = MockFlashBase<4, 4, 1024>;

const TOPIC: &str = "lopy4/value";
/// A send wake every `K` wakes.
const K: usize = 4;
/// Or sooner, once this many messages are stored.
const THRESHOLD: usize = 10;
const WAKES: usize = 24;
const PERIOD_S: u64 = 60;
const FIRST_TIME: u64 = 1_764_000_000;

fn expected(wake: usize) -> Vec<u8> {
    format!(
        r#"{{"time":{},"value":{wake}}}"#,
        FIRST_TIME + PERIOD_S * wake as u64
    )
    .into_bytes()
}

#[test]
fn a_node_that_sleeps_between_wakes_sends_every_sample_in_batches() {
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
    // The broker, and the wall clock (an RTC that runs through deep sleep).
    let mut broker = MemoryTransport::<64, 64>::new();
    let clock = SimulatedClock::new().with_unix_time(FIRST_TIME);
    let mut send_wakes = 0;
    for wake in 0..WAKES {
        // The broker is away for the send wakes at 8 and 12.
        match wake {
            7 => broker.fail_connects(usize::MAX),
            13 => broker.fail_connects(0),
            _ => {}
        }
        // Deep sleep dropped the connection with the RAM.
        broker.disconnect();
        let queue = block_on(FlashQueue::<_, 96>::open(
            &mut flash,
            Flash::FULL_FLASH_RANGE,
        ))
        .expect("the queue opens");
        let mut buf = [0u8; 80];
        let sink = JsonSink::object(TOPIC).unwrap().with_time();
        let publisher =
            Publisher::new((), sink, &mut broker, &clock, &mut buf).with_qos(QoS::AtLeastOnce);
        // Two attempts a send wake: a broker that is away costs little radio time.
        let config = BackoffConfig::new(500, 2_000)
            .and_then(|c| c.with_max_attempts(2))
            .unwrap();
        let mut node = ResilientPublisher::new(publisher, Backoff::new(config, Fixed), queue);

        // Read and store: no radio.
        let connects = node.transport().connects();
        let mut sample =
            Sample::<1>::from_readings(&[Reading::new(Quantity::Value, wake as f32)]).unwrap();
        sample.set_timestamp(Some(FIRST_TIME + PERIOD_S * wake as u64));
        assert_eq!(block_on(node.store(&sample)), Ok(1));
        assert_eq!(
            node.transport().connects(),
            connects,
            "wake {wake}: the radio stayed off"
        );

        // Send every K wakes, or when the backlog passes the threshold; the last wake too.
        let stored = node.queue().len();
        if (wake + 1) % K == 0 || stored >= THRESHOLD || wake + 1 == WAKES {
            send_wakes += 1;
            match block_on(node.flush()) {
                Ok(()) => assert!(node.queue().is_empty()),
                Err(ResilientError::GaveUp { attempts, .. }) => {
                    assert_eq!(attempts, 2);
                    assert!((7..13).contains(&wake), "wake {wake}: only while away");
                    assert_eq!(node.queue().len(), stored, "kept for the next send wake");
                }
                Err(other) => panic!("wake {wake}: {other:?}"),
            }
        }
        // Sleep until the next period.
        clock.advance_ms(PERIOD_S * 1_000);
    }

    let received: Vec<Vec<u8>> = broker
        .messages()
        .iter()
        .map(|m| m.payload.to_vec())
        .collect();
    let want: Vec<Vec<u8>> = (0..WAKES).map(expected).collect();
    assert_eq!(received, want, "every sample once, in order, with its time");
    // 24 samples; send wakes at 4, 8, 12 (broker away: tries, keeps), then the threshold
    // brings one at 14 (10 stored), then 16, 20, 24.
    assert_eq!(send_wakes, 7);
    eprintln!(
        "{WAKES} samples, {send_wakes} send wakes, {} connection attempts",
        broker.connects()
    );
}
