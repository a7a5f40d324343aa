//! A fleet soak (run by `.ci/run`, needs Debian's `mosquitto` and `mosquitto_sub`): 200
//! battery stations in this process, each on its own thread with its own simulated flash,
//! clock and PySense, run the deep-sleep cycle ([`sensorpub_station::wake`]: a fresh MQTT 5
//! connection, publisher and `FlashQueue` each wake, QoS 1, a send every `K` wakes) against
//! one mosquitto that this test starts, stops (SIGTERM) in the middle of three send rounds and
//! starts again. A `mosquitto_sub` with a persistent session counts every (station, sample)
//! delivered: none may be missing; duplicates are counted and printed with messages/s and
//! RAM per station.
//!
//! ```sh
//! SENSORPUB_SOAK=1 cargo test -p sensorpub-station --test fleet_soak -- --ignored --nocapture
//! ```

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/pysense_bus/mod.rs"]
mod pysense_bus;

use common::host::Fixed;
use pysense_bus::{Environment, PySenseBus};
use sensorpub::{
    Backoff, BackoffConfig, FlashQueue, JsonSink, Mqtt5Buffers, MqttOptions, Publisher, QoS,
    ResilientPublisher, SimulatedClock,
};
use sensorpub_station::{
    self as station, FLASH_RECORD, MESSAGE_BUFFER, MQTT5_RX, MQTT5_TX, Nowhere, SleepConfig,
    WakeState,
};
use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const STATIONS: usize = 200;
/// Wakes per station; a send every `K`: rounds 3, 6, ... 15.
const ROUNDS: u32 = 15;
const K: u32 = 3;
/// The broker is stopped a moment into these (send) rounds and started again after them.
const STOP_IN: [u32; 3] = [3, 6, 9];
const PERIOD_S: u64 = 60;
const FIRST_TIME: u64 = 1_764_000_000;
/// How long the fleet may take for one round, or the subscriber for the last message.
const PATIENCE: Duration = Duration::from_secs(60);

/// Four 4 KiB pages per station.
type Flash = MockFlashBase<4, 4, 1024>;

/// mosquitto on 127.0.0.1:`port`, persistent (a clean stop saves the subscriber's session
/// and its undelivered messages; the start loads them).
struct Mosquitto {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Mosquitto {
    fn new(dir: &Path, port: u16) -> Self {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 0\nlog_dest file {}\n",
                dir.display(),
                dir.join("mosquitto.log").display()
            ),
        )
        .expect("write mosquitto.conf");
        let mut broker = Self {
            dir: dir.to_owned(),
            port,
            child: None,
        };
        broker.start();
        broker
    }

    fn start(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM: mosquitto closes every connection, saves its state and exits.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            assert!(status.success());
            child.wait().expect("mosquitto exits");
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What one station did over the soak.
#[derive(Debug, Default)]
struct Report {
    published: u32,
    queued: usize,
    dropped: u32,
    /// Send wakes that did not deliver everything (the broker away).
    failed_sends: u32,
    /// Bytes of the wake's future (publisher, queue handle, transport handle, board driver).
    wake_future: usize,
}

/// One station: waits for each round's go, wakes once, reports.
fn station(index: usize, port: u16, go: mpsc::Receiver<u32>, done: mpsc::Sender<usize>) -> Report {
    let device = format!("soak-{index:03}");
    let topic = format!("soak/{device}/value");
    let mut flash = Flash::new(WriteCountCheck::Twice, None, true);
    let clock = SimulatedClock::new().with_unix_time(FIRST_TIME);
    let bus = PySenseBus::pysense2(Environment::default());
    let config = SleepConfig::new((PERIOD_S * 1_000) as u32)
        .connect_every(K)
        .with_threshold(32);
    let mut state = WakeState::new();
    let mut report = Report::default();
    while let Ok(round) = go.recv() {
        let queue = async_io::block_on(FlashQueue::<_, FLASH_RECORD>::open(
            &mut flash,
            Flash::FULL_FLASH_RANGE,
        ))
        .expect("the queue opens");
        let mut buffers = Mqtt5Buffers::<MQTT5_RX, MQTT5_TX, MESSAGE_BUFFER>::new();
        let options = MqttOptions::new(&device).with_timeout_ms(5_000);
        let wake = common::with_mqtt5_in(&mut buffers, port, options, async |mqtt| {
            let mut buf = [0u8; MESSAGE_BUFFER];
            let sink = JsonSink::object(&topic)
                .and_then(|s| s.with_device(&device).with_decimals(2))
                .expect("sink")
                .with_time();
            let publisher =
                Publisher::new((), sink, mqtt, &clock, &mut buf).with_qos(QoS::AtLeastOnce);
            let backoff = BackoffConfig::new(1_000, 2_000)
                .and_then(|c| c.with_max_attempts(2))
                .expect("backoff");
            let mut json = ResilientPublisher::new(publisher, Backoff::new(backoff, Fixed), queue);
            let handles = bus.clone();
            let mut nowhere = Nowhere;
            let wake = station::wake(
                move || handles.clone(),
                &clock,
                &mut json,
                &mut nowhere,
                &config,
                &mut state,
                |_| {},
            );
            report.wake_future = core::mem::size_of_val(&wake);
            wake.await
        });
        report.published += wake.published;
        report.failed_sends += u32::from(wake.connected && state.behind);
        report.queued = wake.queued;
        report.dropped = state.dropped;
        clock.advance_ms(wake.sleep_ms);
        if done.send(index).is_err() || round == ROUNDS {
            break;
        }
    }
    report
}

/// The subscriber's count of every (device, sample time) it received.
type Counts = Arc<Mutex<HashMap<(String, u64), u32>>>;

fn subscribe(port: u16) -> (Child, Counts) {
    let mut child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-i", "soak-counter", "-c", "-q", "1", "-t", "soak/#"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub (apt-get install mosquitto-clients)");
    let stdout = child.stdout.take().expect("piped");
    let counts = Counts::default();
    let counted = Arc::clone(&counts);
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let (Some(device), Some(time)) = (json["device"].as_str(), json["time"].as_u64())
            else {
                continue;
            };
            *counted
                .lock()
                .expect("counts")
                .entry((device.to_owned(), time))
                .or_default() += 1;
        }
    });
    (child, counts)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "needs mosquitto: SENSORPUB_SOAK=1 ... -- --ignored (run by .ci/run)"]
fn two_hundred_sleeping_stations_lose_no_sample_through_three_broker_restarts() {
    if std::env::var_os("SENSORPUB_SOAK").is_none() {
        eprintln!("SENSORPUB_SOAK not set: skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sensorpub-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    // mosquitto started as root drops to its own user, which writes its log and state here.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    let port = common::free_port();
    let mut broker = Mosquitto::new(&dir, port);
    let (mut subscriber, counts) = subscribe(port);
    // The subscriber's session exists once a message it subscribed to reaches it.
    let deadline = Instant::now() + PATIENCE;
    while counts.lock().expect("counts").is_empty() {
        assert!(Instant::now() < deadline, "mosquitto_sub never subscribed");
        let _ = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
            .args(["-t", "soak/probe", "-m", r#"{"device":"probe","time":0}"#])
            .status();
        thread::sleep(Duration::from_millis(100));
    }
    counts.lock().expect("counts").clear();

    let (done_tx, done) = mpsc::channel();
    let mut go = Vec::new();
    let mut threads = Vec::new();
    for index in 0..STATIONS {
        let (tx, rx) = mpsc::channel();
        go.push(tx);
        let done_tx = done_tx.clone();
        threads.push(
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || station(index, port, rx, done_tx))
                .expect("station thread"),
        );
    }
    let started = Instant::now();
    for round in 1..=ROUNDS {
        for tx in &go {
            tx.send(round).expect("station alive");
        }
        let stop = STOP_IN.contains(&round);
        if stop {
            // In the middle of the fleet's send round.
            thread::sleep(Duration::from_millis(40));
            broker.stop();
        }
        for _ in 0..STATIONS {
            done.recv_timeout(PATIENCE).expect("every station woke");
        }
        if stop {
            broker.start();
        }
    }
    let fleet_s = started.elapsed().as_secs_f64();
    let reports: Vec<Report> = threads
        .into_iter()
        .map(|t| t.join().expect("station thread"))
        .collect();

    let samples = STATIONS * ROUNDS as usize;
    let deadline = Instant::now() + PATIENCE;
    while counts.lock().expect("counts").len() < samples && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(500)); // late duplicates
    let _ = subscriber.kill();
    let _ = subscriber.wait();
    let counts = counts.lock().expect("counts").clone();

    let mut missing = Vec::new();
    let first_time = counts.keys().map(|(_, t)| *t).min().unwrap_or(FIRST_TIME);
    for index in 0..STATIONS {
        let device = format!("soak-{index:03}");
        for n in 0..u64::from(ROUNDS) {
            if !counts.contains_key(&(device.clone(), first_time + n * PERIOD_S)) {
                missing.push((index, n));
            }
        }
    }
    let delivered: u32 = counts.values().sum();
    let duplicates = delivered as usize - counts.len();
    let published: u32 = reports.iter().map(|r| r.published).sum();
    let queued: usize = reports.iter().map(|r| r.queued).sum();
    let dropped: u32 = reports.iter().map(|r| r.dropped).sum();
    let failed_sends: u32 = reports.iter().map(|r| r.failed_sends).sum();
    let per_station = core::mem::size_of::<FlashQueue<&mut Flash, FLASH_RECORD>>()
        + core::mem::size_of::<Mqtt5Buffers<MQTT5_RX, MQTT5_TX, MESSAGE_BUFFER>>()
        + MESSAGE_BUFFER
        + core::mem::size_of::<WakeState>()
        + reports.iter().map(|r| r.wake_future).max().unwrap_or(0);
    println!(
        "fleet soak: {STATIONS} stations x {ROUNDS} wakes (send every {K}), mosquitto stopped \
         3 times mid-send ({failed_sends} send wakes found it away): {samples} samples, {} received, {} missing, {duplicates} \
         duplicates, {dropped} dropped, {queued} still queued; {published} PUBACKs in \
         {fleet_s:.1} s = {:.0} messages/s; RAM per station: {per_station} bytes (queue, MQTT \
         5 buffers, encode buffer, wake state, the wake's future), whole process peak RSS {} \
         KiB",
        counts.len(),
        missing.len(),
        f64::from(published) / fleet_s,
        peak_rss_kib().unwrap_or(0),
    );
    assert!(
        missing.is_empty(),
        "{} (station, sample) missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(counts.len(), samples, "only the fleet's samples");
    assert_eq!(dropped, 0);
    assert_eq!(queued, 0, "every queue drained by the last send round");
    let _ = std::fs::remove_dir_all(&dir);
}
