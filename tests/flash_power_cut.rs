//! Power cut at every point: a stream of samples through the flash-backed outage queue
//! ([`FlashQueue`]) and a broker that comes and goes, on sequential-storage's mock NOR flash,
//! which cuts the power after N bytes written or erased. For every N from 0 to the last byte
//! the uncut run writes, the run is cut there, "rebooted" (a new publisher and a new queue
//! over the same flash, the broker as it was) and finished.
//!
//! Checked after each: every sample whose store completed was delivered (the one sample
//! whose store the cut interrupted is the only one allowed missing: its store failed, though
//! its record may be whole if the cut fell on the last word's padding);
//! every payload arrived byte for byte as encoded, on its topic, at QoS 1; the order is the
//! order of the samples; a sample arrives more than once only right after itself (a resend
//! of the queue's front), and only where a PUBACK was lost (one on purpose, plus the one
//! message the cut caught between its delivery and its removal). Nothing is left stored.

#[path = "common/host.rs"]
mod host;
use core::convert::Infallible;
use embassy_futures::block_on;
use host::Fixed;
use sensorpub::{
    Backoff, BackoffConfig, FlashQueue, JsonSink, MemoryError, MemoryTransport, Publisher, QoS,
    Quantity, QueueError, Reading, ResilientError, ResilientPublisher, Sample, SimulatedClock,
};
use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};

/// Four pages of 256 bytes, 4-byte words: small, so the stream wraps the ring and the cut
/// sweep meets page erases too.
type Flash = MockFlashBase<4, 4, 64>;

const TOPIC: &str = "node/a";
const SAMPLES: usize = 24;
const PERIOD_MS: u64 = 10_000;
const FIRST_TIME: u64 = 1_764_000_000;

/// Deterministic backoff, no jitter source needed.
fn sample(index: usize) -> Sample<1> {
    let mut sample =
        Sample::from_readings(&[Reading::new(Quantity::Value, index as f32)]).expect("fits");
    sample.set_timestamp(Some(FIRST_TIME + index as u64 * PERIOD_MS / 1000));
    sample
}

/// The payload sample `index` must arrive as: with its own time, whenever it is sent.
fn expected(index: usize) -> Vec<u8> {
    format!(
        r#"{{"time":{},"value":{index}}}"#,
        FIRST_TIME + index as u64 * PERIOD_MS / 1000
    )
    .into_bytes()
}

/// What happens to the broker just before sample `index` is published: away for a while
/// (connects refused), back, a lost PUBACK, a dropped connection.
fn broker_event(broker: &mut MemoryTransport<96, 64>, index: usize) {
    match index {
        3 => {
            broker.disconnect();
            broker.fail_connects(usize::MAX);
        }
        9 => broker.fail_connects(0),
        12 => broker.lose_acks(1),
        16 => {
            broker.disconnect_after(1);
            broker.fail_connects(2);
        }
        _ => {}
    }
}

/// PUBACKs lost on purpose in a run.
const LOST_ACKS: usize = 1;

/// How one boot ended.
enum Boot {
    Finished,
    /// The power was cut; `stored`: whether the sample being published was stored first.
    Cut {
        stored: bool,
    },
}

type RunError = ResilientError<Infallible, sensorpub::EncodeError, MemoryError>;

/// One boot: opens the queue on `flash` (sending what an earlier boot left first), publishes
/// the samples from `*next` on, then waits until the queue is empty.
fn boot(
    flash: &mut Flash,
    broker: &mut MemoryTransport<96, 64>,
    clock: &SimulatedClock,
    next: &mut usize,
    events_done: &mut usize,
) -> Boot {
    let queue = match block_on(FlashQueue::<_, 96>::open(
        &mut *flash,
        Flash::FULL_FLASH_RANGE,
    )) {
        Ok(queue) => queue,
        Err(QueueError::Flash) => return Boot::Cut { stored: false },
        Err(e) => panic!("opening the queue after a cut: {e:?}"),
    };
    let mut buf = [0u8; 80];
    let sink = JsonSink::object(TOPIC).expect("valid topic").with_time();
    let publisher =
        Publisher::new((), sink, &mut *broker, clock, &mut buf).with_qos(QoS::AtLeastOnce);
    let backoff = Backoff::new(BackoffConfig::new(500, 4_000).expect("valid"), Fixed);
    let mut publisher = ResilientPublisher::new(publisher, backoff, queue);
    let cut = |error: RunError| match error {
        ResilientError::Queue(QueueError::Flash) => {}
        other => panic!("only the power cut may fail a run: {other:?}"),
    };
    while *next < SAMPLES {
        if *events_done == *next {
            broker_event(publisher.transport_mut(), *next);
            *events_done += 1;
        }
        clock.advance_ms(PERIOD_MS);
        // Stored plus delivered grows by one exactly when the sample is stored: a delivery
        // moves a message from one to the other, a cut removal changes neither.
        let before = publisher.stats().published as usize + publisher.queue().len();
        let result = block_on(publisher.publish(&sample(*next)));
        let after = publisher.stats().published as usize + publisher.queue().len();
        *next += 1;
        if let Err(error) = result {
            cut(error);
            return Boot::Cut {
                stored: after == before + 1,
            };
        }
        assert_eq!(after, before + 1, "sample {} was stored", *next - 1);
    }
    if let Err(error) = block_on(publisher.flush()) {
        cut(error);
        return Boot::Cut { stored: true };
    }
    assert!(publisher.queue().is_empty());
    assert_eq!(
        publisher.stats().dropped,
        0,
        "the flash holds the whole backlog"
    );
    Boot::Finished
}

struct Outcome {
    /// Sample indices in the order the broker received them.
    received: Vec<usize>,
    /// The sample whose store the cut interrupted, if any.
    lost_in_store: Option<usize>,
    cut: bool,
    /// Bytes written and erased, as the mock counts towards its cut.
    budget_used: u32,
}

/// Runs the stream, cut after `cut_after` bytes written or erased (`None`: never).
fn run(cut_after: Option<u32>) -> Outcome {
    let mut flash = Flash::new(
        WriteCountCheck::Twice,
        Some(cut_after.unwrap_or(u32::MAX)),
        true,
    );
    let mut broker = MemoryTransport::<96, 64>::new();
    let clock = SimulatedClock::new();
    let (mut next, mut events_done) = (0, 0);
    let mut cut = false;
    let mut lost_in_store = None;
    loop {
        match boot(&mut flash, &mut broker, &clock, &mut next, &mut events_done) {
            Boot::Finished => break,
            Boot::Cut { stored } => {
                assert!(!cut, "the power is cut once a run");
                assert_eq!(flash.bytes_until_shutoff, None, "only the mock's cut fails");
                cut = true;
                if !stored {
                    lost_in_store = Some(next - 1);
                }
            }
        }
    }
    let budget_used = match flash.bytes_until_shutoff {
        Some(left) => u32::MAX - left,
        None => 0,
    };
    let received = broker
        .messages()
        .iter()
        .map(|m| {
            assert_eq!(m.topic.as_str(), TOPIC);
            assert_eq!(m.qos, QoS::AtLeastOnce);
            (0..SAMPLES)
                .find(|&i| m.payload == expected(i)[..])
                .unwrap_or_else(|| {
                    panic!(
                        "corrupted payload {:?}",
                        String::from_utf8_lossy(&m.payload)
                    )
                })
        })
        .collect();
    Outcome {
        received,
        lost_in_store,
        cut,
        budget_used,
    }
}

/// Checks one run's deliveries; returns its duplicates.
fn check(outcome: &Outcome, label: &str) -> usize {
    let mut firsts: Vec<usize> = outcome.received.clone();
    firsts.dedup();
    let duplicates = outcome.received.len() - firsts.len();
    // Dedup removed only neighbours: a later repeat would show here as disorder.
    let all: Vec<usize> = (0..SAMPLES).collect();
    match outcome.lost_in_store {
        // The store reported the cut; its record may still be whole (the cut fell on
        // padding the flash already held): sent or not, never anything else.
        Some(lost) if firsts != all => {
            let want: Vec<usize> = all.iter().copied().filter(|&i| i != lost).collect();
            assert_eq!(firsts, want, "{label}: every stored sample, in order");
        }
        _ => assert_eq!(firsts, all, "{label}: every stored sample, in order"),
    }
    let allowed = LOST_ACKS + usize::from(outcome.cut);
    assert!(
        duplicates <= allowed,
        "{label}: {duplicates} duplicates, at most {allowed} PUBACKs were lost"
    );
    duplicates
}

#[test]
fn a_power_cut_at_every_byte_loses_no_stored_sample() {
    let uncut = run(None);
    assert!(!uncut.cut);
    assert_eq!(
        check(&uncut, "uncut"),
        LOST_ACKS,
        "the lost PUBACK is resent"
    );
    let last = uncut.budget_used;
    assert!(
        last > 1_000,
        "the stream wraps the ring: {last} bytes written and erased"
    );

    let (mut cuts, mut duplicates, mut lost_in_store, mut cut_in_removal) = (0, 0, 0, 0);
    // A cut "after n bytes" fails byte n + 1: n = last - 1 cuts the run's last byte.
    for n in 0..last {
        let outcome = run(Some(n));
        assert!(outcome.cut, "a cut after {n} of {last} bytes happens");
        let dups = check(&outcome, &format!("cut after {n} bytes"));
        cuts += 1;
        duplicates += dups;
        lost_in_store += usize::from(outcome.lost_in_store.is_some());
        cut_in_removal += usize::from(dups > LOST_ACKS);
    }
    println!(
        "{cuts} cut points (after 0..{last} bytes written or erased): 0 stored samples lost, \
         {lost_in_store} cuts caught a sample before it was stored, {duplicates} duplicates \
         ({cut_in_removal} cuts between a delivery and its removal)"
    );
}

/// What a sample costs the flash, for the README's wear figure: a typical JSON sample (two
/// readings, device id, time) stored and, once delivered, removed, 1 000 times over 4 KiB
/// pages as on the ESP32.
#[test]
fn flash_wear_per_sample() {
    type Part = MockFlashBase<4, 4, 1024>;
    const RUNS: u64 = 1_000;
    let mut flash = Part::new(WriteCountCheck::Twice, None, true);
    let start = flash.stats_snapshot();
    let payload = br#"{"device":"lopy4","time":1764000000,"temperature":21.53,"humidity":45.2}"#;
    let message = sensorpub::Message::new("lopy4/value", payload).with_qos(QoS::AtLeastOnce);
    let mut queue = block_on(FlashQueue::<_, 128>::open(
        &mut flash,
        Part::FULL_FLASH_RANGE,
    ))
    .expect("opens");
    block_on(async {
        use sensorpub::OutageQueue;
        for _ in 0..RUNS {
            queue.store(&message, 0).await.expect("stored");
            assert!(queue.remove_oldest().await.expect("removed"));
        }
    });
    let _ = queue.into_flash();
    let stats = start.compare_to(flash.stats_snapshot());
    let written = stats.bytes_written / RUNS;
    let record = 8 + message.topic.len() + message.payload.len();
    println!(
        "record {record} bytes: {written} bytes written per sample, {} page erases per 1000 samples",
        stats.erases
    );
    // The record, word-padded, its item header, and the word that marks it removed; page
    // state words add a little.
    assert!(written as usize >= record.next_multiple_of(4) + 4);
    assert!(
        written as usize <= record.next_multiple_of(4) + 24,
        "{written}"
    );
}
