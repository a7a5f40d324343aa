//! Loopback QoS 1 throughput against one broker, clients side by side in interleaved rounds
//! (A B C A B C …): sensorpub's MQTT 3.1.1 and MQTT 5 transports, rumqttc and minimq.
//! `run.sh` next to this file builds it, starts Debian's mosquitto and runs it; see
//! BENCHMARKS.md ("Loopback throughput") for the numbers and what they mean.
//!
//! ```text
//! loopback --port P [--host H] [--count N] [--rounds R] [--delay-ms D] [--clients LIST]
//! ```
//!
//! A client in `LIST` (comma-separated) is one of
//! - `s311:W`: sensorpub `Mqtt311` with `MqttOptions::with_window(W)`, driven through
//!   `Transport::submit` / `next_ack` (at most W unacknowledged);
//! - `s5:W`: the same with `Mqtt5` (handle and runner);
//! - `drain311:W`, `drain5:W`: a `ResilientPublisher` whose queue holds N encoded samples
//!   (`{"temperature":21.53,"humidity":45.2}`, 37 B) drains them with `flush` (the backlog
//!   after an outage; N ≤ 1,024);
//! - `rumqttc`, `rumqttc:W`: rumqttc 0.25 (MQTT 3.1.1), its default in-flight limit (100) or W, a tokio
//!   current-thread runtime, one task publishing and the event loop polled for PUBACKs;
//! - `minimq`: minimq 0.13 used directly (MQTT 5, its own limit of 8 in flight).
//!
//! Appending `+nd` sets `TCP_NODELAY` on that client's socket (Nagle off); without it every
//! client keeps its library's default, which for all four is Nagle on.
//!
//! Each run opens its own connection, publishes N QoS 1 messages of 40 B (sensorpub's drain:
//! 37 B) on one topic and stops the clock at the last PUBACK; the clock starts at the first
//! publish, after CONNACK. A run fails (exit 1) on any error or when fewer than N
//! acknowledgements come; the times themselves are never checked. `--delay-ms D` puts a relay
//! in front of the broker that holds every chunk D ms in each direction (a 2·D ms round trip).

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TOPIC: &str = "sensorpub/loopback/bench";
const PAYLOAD: [u8; 40] = *b"{\"temperature\":21.53,\"humidity\":45.2000}";
/// The whole run is stopped (exit 2) after this long: a hung client must not hang CI.
const DEADLINE: Duration = Duration::from_secs(1_800);

#[derive(Clone, Debug)]
enum Kind {
    S311(usize),
    S5(usize),
    Drain311(usize),
    Drain5(usize),
    /// rumqttc with its in-flight limit (100 by default).
    Rumqttc(u16),
    Minimq,
}

#[derive(Clone, Debug)]
struct Client {
    name: String,
    kind: Kind,
    nodelay: bool,
}

struct Args {
    host: String,
    port: u16,
    count: u32,
    rounds: usize,
    delay_ms: u64,
    clients: Vec<Client>,
}

fn parse_client(spec: &str) -> Result<Client, String> {
    let (base, nodelay) = match spec.strip_suffix("+nd") {
        Some(base) => (base, true),
        None => (spec, false),
    };
    let (kind, window) = match base.split_once(':') {
        Some((kind, w)) => (
            kind,
            Some(
                w.parse::<usize>()
                    .map_err(|_| format!("bad window in {spec}"))?,
            ),
        ),
        None => (base, None),
    };
    let kind = match (kind, window) {
        ("s311", Some(w)) => Kind::S311(w),
        ("s5", Some(w)) => Kind::S5(w),
        ("drain311", Some(w)) => Kind::Drain311(w),
        ("drain5", Some(w)) => Kind::Drain5(w),
        ("rumqttc", None) => Kind::Rumqttc(100),
        ("rumqttc", Some(w)) => Kind::Rumqttc(
            u16::try_from(w)
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| format!("bad in-flight limit in {spec}"))?,
        ),
        ("minimq", None) => Kind::Minimq,
        _ => return Err(format!("unknown client {spec}")),
    };
    Ok(Client {
        name: spec.to_string(),
        kind,
        nodelay,
    })
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        host: "127.0.0.1".into(),
        port: 0,
        count: 20_000,
        rounds: 5,
        delay_ms: 0,
        clients: Vec::new(),
    };
    let mut clients = "s311:1,s311:16,s5:1,rumqttc,minimq".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--host" => args.host = value.clone(),
            "--port" => args.port = value.parse().map_err(bad)?,
            "--count" => args.count = value.parse().map_err(bad)?,
            "--rounds" => args.rounds = value.parse().map_err(bad)?,
            "--delay-ms" => args.delay_ms = value.parse().map_err(bad)?,
            "--clients" => clients = value.clone(),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.port == 0 {
        return Err("--port is required".into());
    }
    if args.rounds == 0 || args.count == 0 {
        return Err("--rounds and --count must be at least 1".into());
    }
    args.clients = clients
        .split(',')
        .map(parse_client)
        .collect::<Result<_, _>>()?;
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    thread::spawn(|| {
        thread::sleep(DEADLINE);
        eprintln!("error: still running after {DEADLINE:?}");
        std::process::exit(2);
    });
    let broker = match (args.host.as_str(), args.port).to_socket_addrs() {
        Ok(mut addrs) => match addrs.next() {
            Some(addr) => addr,
            None => {
                eprintln!("error: {} resolves to nothing", args.host);
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("error: {}: {e}", args.host);
            return ExitCode::from(2);
        }
    };
    let target = if args.delay_ms > 0 {
        match start_relay(broker, Duration::from_millis(args.delay_ms)) {
            Ok(addr) => addr,
            Err(e) => {
                eprintln!("error: relay: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        broker
    };
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); args.clients.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); args.clients.len()];
    // The window a sensorpub transport granted (`Transport::window`), when less than asked.
    let in_effect: Vec<Cell<Option<usize>>> = vec![Cell::new(None); args.clients.len()];
    for round in 0..args.rounds {
        for (i, client) in args.clients.iter().enumerate() {
            let id = format!("loopback-{}-{round}", client.name.replace([':', '+'], "-"));
            let cpu_before = cpu_ns();
            match run_one(client, &id, target, args.count, &in_effect[i]) {
                Ok(elapsed) => {
                    let ms = elapsed.as_secs_f64() * 1e3;
                    // The whole run's (connect and disconnect too), on this thread.
                    let cpu_ms = cpu_ns().saturating_sub(cpu_before) as f64 / 1e6;
                    eprintln!(
                        "round {round} {:<14} {ms:>9.1} ms, client CPU {cpu_ms:>7.1} ms",
                        client.name
                    );
                    times[i].push(ms);
                    cpu[i].push(cpu_ms);
                }
                Err(e) => {
                    eprintln!("error: {} (round {round}): {e}", client.name);
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    print_table(&args, &mut times, &mut cpu, &in_effect);
    ExitCode::SUCCESS
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

/// CPU time the calling thread has used so far, in ns, from the scheduler's accounting
/// (`/proc/thread-self/schedstat`; 0 where there is none). Every client runs on the calling
/// thread (async-io's and tokio's current-thread `block_on`); the relay's threads are not
/// counted.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn print_table(
    args: &Args,
    times: &mut [Vec<f64>],
    cpu: &mut [Vec<f64>],
    in_effect: &[Cell<Option<usize>>],
) {
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    let cpu_medians: Vec<f64> = cpu.iter_mut().map(|t| median(t)).collect();
    // rumqttc at its default 100 in flight, Nagle on if it ran so, else any rumqttc.
    let find = |f: &dyn Fn(&Client) -> bool| args.clients.iter().position(f);
    let reference = find(&|c| matches!(c.kind, Kind::Rumqttc(100)) && !c.nodelay)
        .or_else(|| find(&|c| matches!(c.kind, Kind::Rumqttc(100))))
        .or_else(|| find(&|c| matches!(c.kind, Kind::Rumqttc(_))));
    let rate = |ms: f64| f64::from(args.count) / (ms / 1e3);
    println!(
        "\n{} QoS 1 messages a run, {} rounds interleaved, {} ms added each way{}",
        args.count,
        args.rounds,
        args.delay_ms,
        reference.map_or(String::new(), |r| format!(
            "; ratio = msgs/s over {}'s",
            args.clients[r].name
        ))
    );
    println!(
        "| client | median ms | msgs/s | vs rumqttc | best ms | best vs rumqttc | client CPU µs/msg | runs (ms, sorted) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for (i, client) in args.clients.iter().enumerate() {
        let ratio = reference.map_or("".to_string(), |r| {
            format!("{:.2}×", rate(medians[i]) / rate(medians[r]))
        });
        // `median` sorted the runs.
        let best = |j: usize| times[j][0];
        let best_ratio = reference.map_or("".to_string(), |r| format!("{:.2}×", best(r) / best(i)));
        let runs: Vec<String> = times[i].iter().map(|t| format!("{t:.0}")).collect();
        let name = match in_effect[i].get() {
            Some(w) => format!("{} (window {w})", client.name),
            None => client.name.clone(),
        };
        println!(
            "| {} | {:.1} | {:.0} | {} | {:.1} | {} | {:.1} | {} |",
            name,
            medians[i],
            rate(medians[i]),
            ratio,
            best(i),
            best_ratio,
            cpu_medians[i] * 1e3 / f64::from(args.count),
            runs.join(" ")
        );
    }
}

fn run_one(
    client: &Client,
    id: &str,
    broker: SocketAddr,
    count: u32,
    in_effect: &Cell<Option<usize>>,
) -> Result<Duration, String> {
    match client.kind {
        Kind::Rumqttc(inflight) => rumqttc_run(id, broker, count, inflight, client.nodelay),
        Kind::Minimq => async_io::block_on(minimq_run(id, broker, count, client.nodelay)),
        Kind::S311(w) | Kind::S5(w) | Kind::Drain311(w) | Kind::Drain5(w) => {
            let stack = net::HostStack::new(client.nodelay);
            async_io::block_on(sensorpub_run(
                &client.kind,
                w,
                &stack,
                id,
                broker,
                count,
                in_effect,
            ))
        }
    }
}

/// Our own host network stack for the benchmark: std-embedded-nal-async's, plus the choice
/// of `TCP_NODELAY`, which its `TcpConnection` (a private `Async<TcpStream>`) does not offer.
mod net {
    use async_io::Async;
    use embedded_nal_async::{AddrType, Dns, TcpConnect};
    use std::io::{Read, Write};
    use std::net::{IpAddr, SocketAddr, TcpStream};

    pub struct HostStack {
        nodelay: bool,
        dns: std_embedded_nal_async::Stack,
    }

    impl HostStack {
        pub fn new(nodelay: bool) -> Self {
            Self {
                nodelay,
                dns: std_embedded_nal_async::Stack::default(),
            }
        }

        pub async fn open(&self, addr: SocketAddr) -> std::io::Result<Connection> {
            let stream = Async::<TcpStream>::connect(addr).await?;
            stream.get_ref().set_nodelay(self.nodelay)?;
            Ok(Connection(stream))
        }
    }

    pub struct Connection(Async<TcpStream>);

    impl embedded_io_async::ErrorType for Connection {
        type Error = std::io::Error;
    }

    impl embedded_io_async::Read for Connection {
        async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read_with(|mut s| s.read(buf)).await
        }
    }

    impl embedded_io_async::Write for Connection {
        async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write_with(|mut s| s.write(buf)).await
        }

        async fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl TcpConnect for HostStack {
        type Error = std::io::Error;
        type Connection<'a> = Connection;

        async fn connect(&self, addr: SocketAddr) -> std::io::Result<Connection> {
            self.open(addr).await
        }
    }

    impl Dns for HostStack {
        type Error = std::io::Error;

        async fn get_host_by_name(
            &self,
            host: &str,
            addr_type: AddrType,
        ) -> std::io::Result<IpAddr> {
            self.dns.get_host_by_name(host, addr_type).await
        }

        async fn get_host_by_address(
            &self,
            addr: IpAddr,
            result: &mut [u8],
        ) -> std::io::Result<usize> {
            self.dns.get_host_by_address(addr, result).await
        }
    }
}

/// sensorpub: the transport's window API, or a resilient publisher's drain.
async fn sensorpub_run(
    kind: &Kind,
    window: usize,
    stack: &net::HostStack,
    id: &str,
    broker: SocketAddr,
    count: u32,
    in_effect: &Cell<Option<usize>>,
) -> Result<Duration, String> {
    use embassy_futures::select::{Either, select};
    use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, Mqtt311, MqttOptions, Transport};

    let host = broker.ip().to_string();
    let options = MqttOptions::new(id)
        .with_window(window)
        .with_ack_timeout_ms(20_000)
        .with_timeout_ms(20_000);
    let target = Broker::new(&host, broker.port());
    match kind {
        Kind::S311(_) | Kind::Drain311(_) => {
            let (mut tx, mut rx) = ([0u8; 256], [0u8; 256]);
            let mut mqtt = Mqtt311::new(stack, target, options, &mut tx, &mut rx);
            in_effect.set((mqtt.window() < window).then(|| mqtt.window()));
            let result = if matches!(kind, Kind::S311(_)) {
                mqtt.connect()
                    .await
                    .map_err(|e| format!("connect: {e:?}"))?;
                window_loop(&mut mqtt, count).await
            } else {
                drain(&mut mqtt, count).await
            };
            mqtt.disconnect().await;
            result
        }
        _ => {
            let mut buffers = Box::new(Mqtt5Buffers::<256, 4096, 256>::new());
            let (mut mqtt, mut runner) = Mqtt5::new(stack, target, options, &mut buffers)
                .map_err(|e| format!("options: {e:?}"))?;
            in_effect.set((mqtt.window() < window).then(|| mqtt.window()));
            let measured = async {
                let result = if matches!(kind, Kind::S5(_)) {
                    match mqtt.connect().await {
                        Ok(()) => window_loop(&mut mqtt, count).await,
                        Err(e) => Err(format!("connect: {e:?}")),
                    }
                } else {
                    drain(&mut mqtt, count).await
                };
                mqtt.disconnect().await;
                result
            };
            match select(runner.run(), measured).await {
                Either::First(never) => never,
                Either::Second(result) => result,
            }
        }
    }
}

/// `count` QoS 1 messages through `submit` / `next_ack`, at most `window()` in flight; every
/// submitted id must come back once.
async fn window_loop<T: sensorpub::Transport>(
    transport: &mut T,
    count: u32,
) -> Result<Duration, String>
where
    T::Error: core::fmt::Debug,
{
    use sensorpub::{Message, QoS};
    let message = Message::new(TOPIC, &PAYLOAD).with_qos(QoS::AtLeastOnce);
    let window = transport.window();
    let mut in_flight: Vec<u16> = Vec::with_capacity(window);
    let (mut sent, mut acked) = (0u32, 0u32);
    let start = Instant::now();
    while acked < count {
        if sent < count && in_flight.len() < window {
            let id = transport
                .submit(&message)
                .await
                .map_err(|e| format!("submit {sent}: {e:?}"))?;
            in_flight.push(id);
            sent += 1;
        } else {
            let id = transport
                .next_ack()
                .await
                .map_err(|e| format!("next_ack after {acked}: {e:?}"))?;
            let at = in_flight
                .iter()
                .position(|&p| p == id)
                .ok_or_else(|| format!("acknowledgement for id {id}, not in flight"))?;
            in_flight.swap_remove(at);
            acked += 1;
        }
    }
    Ok(start.elapsed())
}

/// A resilient publisher's queue holds `count` encoded samples; the time is `flush`'s.
async fn drain<T: sensorpub::Transport>(transport: T, count: u32) -> Result<Duration, String>
where
    T::Error: core::fmt::Debug,
{
    use core::convert::Infallible;
    use embedded_hal_async::delay::DelayNs;
    use rand_core::SeedableRng;
    use sensorpub::{
        Backoff, BackoffConfig, Clock, JsonSink, MessageQueue, Publisher, QoS, Quantity, Reading,
        ResilientPublisher, Sample, Sensor,
    };

    struct HostClock(Instant);
    impl Clock for HostClock {
        fn now_ms(&mut self) -> u64 {
            u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
        }
    }
    impl DelayNs for HostClock {
        async fn delay_ns(&mut self, ns: u32) {
            async_io::Timer::after(Duration::from_nanos(u64::from(ns))).await;
        }
    }
    /// Samples are stored by hand; nothing reads this.
    struct NoSensor;
    impl Sensor<2> for NoSensor {
        type Error = Infallible;
        async fn read(&mut self) -> Result<Sample<2>, Infallible> {
            Ok(Sample::from_readings(&[]).expect("an empty sample"))
        }
    }

    if count > 1_024 {
        return Err("a drain holds at most 1,024 messages (--count)".into());
    }
    let sample: Sample<2> = Sample::from_readings(&[
        Reading::new(Quantity::Temperature, 21.53),
        Reading::new(Quantity::Humidity, 45.2),
    ])
    .map_err(|e| format!("sample: {e:?}"))?;
    let mut buf = [0u8; 128];
    let sink = JsonSink::object(TOPIC).map_err(|e| format!("sink: {e:?}"))?;
    let publisher = Publisher::new(
        NoSensor,
        sink,
        transport,
        HostClock(Instant::now()),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let backoff = Backoff::new(
        BackoffConfig::new(10, 200).map_err(|e| format!("backoff: {e:?}"))?,
        rand_xorshift::XorShiftRng::seed_from_u64(16),
    );
    let mut publisher =
        ResilientPublisher::new(publisher, backoff, MessageQueue::<1024, 65536>::new());
    for _ in 0..count {
        publisher
            .store(&sample)
            .await
            .map_err(|e| format!("store: {e:?}"))?;
    }
    publisher
        .transport_mut()
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let start = Instant::now();
    publisher
        .flush()
        .await
        .map_err(|e| format!("flush: {e:?}"))?;
    let elapsed = start.elapsed();
    let stats = publisher.stats();
    if stats.published != count || !publisher.queue().is_empty() {
        return Err(format!(
            "published {} of {count}, {} left queued",
            stats.published,
            publisher.queue().len()
        ));
    }
    Ok(elapsed)
}

/// minimq 0.13 directly: publish while it has room (8 in flight), otherwise poll.
async fn minimq_run(
    id: &str,
    broker: SocketAddr,
    count: u32,
    nodelay: bool,
) -> Result<Duration, String> {
    use minimq::{Buffers, ConfigBuilder, Error, Publication, QoS, Session};
    let stack = net::HostStack::new(nodelay);
    let io = stack
        .open(broker)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 4096]);
    let config = ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
        .client_id(id)
        .map_err(|e| format!("client id: {e:?}"))?;
    let mut session = Session::new(config);
    let mut conn = session
        .connect(io)
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let mut ops = VecDeque::new();
    let (mut sent, mut acked) = (0u32, 0u32);
    let start = Instant::now();
    while acked < count {
        if sent < count && conn.can_publish(QoS::AtLeastOnce) {
            let publication = Publication::bytes(TOPIC, &PAYLOAD[..]).qos(QoS::AtLeastOnce);
            match conn.publish(publication).await {
                Ok(Some(op)) => {
                    ops.push_back(op);
                    sent += 1;
                }
                Ok(None) => return Err("QoS 1 publish without an operation".into()),
                Err(minimq::PubError::Session(Error::NotReady)) => {}
                Err(e) => return Err(format!("publish {sent}: {e:?}")),
            }
        } else {
            conn.poll().await.map_err(|e| format!("poll: {e:?}"))?;
        }
        while let Some(op) = ops.front() {
            if conn.is_complete(op) {
                ops.pop_front();
                acked += 1;
            } else if conn.is_invalidated(op) {
                return Err("operation invalidated".into());
            } else {
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let _ = conn.disconnect().await;
    Ok(elapsed)
}

/// rumqttc 0.25 (MQTT 3.1.1) as its README uses it: a task publishes, the event loop is
/// polled; the clock stops at the `count`-th PUBACK.
fn rumqttc_run(
    id: &str,
    broker: SocketAddr,
    count: u32,
    inflight: u16,
    nodelay: bool,
) -> Result<Duration, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
        options.set_keep_alive(Duration::from_secs(60));
        options.set_inflight(inflight);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let mut network = eventloop.network_options();
        network.set_tcp_nodelay(nodelay);
        eventloop.set_network_options(network);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                Ok(_) => {}
                Err(e) => return Err(format!("connect: {e}")),
            }
        }
        let start = Instant::now();
        let publisher = client.clone();
        let publishing = tokio::spawn(async move {
            for _ in 0..count {
                publisher
                    .publish(TOPIC, QoS::AtLeastOnce, false, PAYLOAD.to_vec())
                    .await?;
            }
            Ok::<_, rumqttc::ClientError>(())
        });
        let mut acked = 0;
        while acked < count {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => return Err(format!("after {acked} acks: {e}")),
            }
        }
        let elapsed = start.elapsed();
        publishing
            .await
            .map_err(|e| format!("task: {e}"))?
            .map_err(|e| format!("publish: {e}"))?;
        client
            .disconnect()
            .await
            .map_err(|e| format!("disconnect: {e}"))?;
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        Ok(elapsed)
    })
}

/// A TCP relay on 127.0.0.1 in front of `target` that holds every chunk it reads for `delay`
/// before writing it on (each direction: a round trip gains 2 × `delay`). Used because the
/// kernel here has no `sch_netem` (`tc qdisc … netem` answers "qdisc kind is unknown").
/// Its own sockets have Nagle off, so it adds the delay and nothing else; the clients' and
/// the broker's sockets keep theirs.
fn start_relay(target: SocketAddr, delay: Duration) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let ok = client.set_nodelay(true).is_ok() && server.set_nodelay(true).is_ok();
            match (ok, client.try_clone(), server.try_clone()) {
                (true, Ok(client2), Ok(server2)) => {
                    pipe(client, server2, delay);
                    pipe(server, client2, delay);
                }
                _ => continue,
            }
        }
    });
    Ok(addr)
}

/// Copies `from` to `to`, each chunk `delay` after it was read, in order.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (chunks, delayed) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        for (due, bytes) in delayed {
            thread::sleep(due.saturating_duration_since(Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
