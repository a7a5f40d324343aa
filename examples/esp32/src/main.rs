//! sensorpub on a LoPy4 (ESP32) or an ESP32-C3 with a PySense: joins Wi-Fi, reads the PySense
//! sensors and publishes every sample as JSON over MQTT 5 (and to ThingSpeak over MQTT 3.1.1
//! when its credentials are built in). README.md says how to wire, build and flash it.
//!
//! Three tasks: `wifi_task` keeps the station associated, `net_task` runs the IP stack (DHCP,
//! DNS, TCP), `publish_task` runs [`sensorpub_station::run`], the same function the host test
//! `station/tests/firmware_publish.rs` runs against a local broker and a simulated PySense.
#![no_std]
#![no_main]

mod board;
mod net;
mod sleep;
mod time;
#[cfg(tls)]
mod tls;

use board::Board;
use embassy_embedded_hal::shared_bus::asynch::i2c::I2cDevice;
use embassy_executor::Spawner;
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Runner, Stack, StackResources};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::{Duration, Timer};
use esp_backtrace as _;
use esp_hal::Async;
use esp_hal::clock::CpuClock;
use esp_hal::i2c::master::{Config as I2cConfig, I2c};
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_println as _;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config as WifiConfig, ControllerConfig, Interface, WifiController,
};
use net::Network;
use sensorpub::EmbassyClock;
use sensorpub::{Broker, ThingSpeak};
use sensorpub_station::{Buffers, NodeConfig};
// The node: over TLS when CA_FILE was set at build time (build.rs sets `cfg(tls)`).
#[cfg(not(tls))]
use sensorpub_station::run;
use static_cell::StaticCell;
#[cfg(tls)]
use tls::run;

// ---- Configuration, fixed at build time (`SSID=... PASSWORD=... cargo run --release`). ----

/// Wi-Fi network to join.
const SSID: &str = env!(
    "SSID",
    "build with SSID=<network> PASSWORD=<password> cargo run --release"
);
/// Wi-Fi password (WPA2); unset or empty for an open network.
const PASSWORD: Option<&str> = option_env!("PASSWORD");
/// MQTT 5 broker as `host:port`.
const BROKER: &str = or(option_env!("BROKER"), "test.mosquitto.org:1883");
/// The device's name: MQTT client id, `"device"` in the JSON, part of the default topic.
const DEVICE: &str = or(option_env!("DEVICE"), "pysense");
/// JSON topic; `None` means `sensorpub/<DEVICE>/value`.
const TOPIC: Option<&str> = option_env!("TOPIC");
/// Time between samples.
const PERIOD_MS: u32 = parse_u32(or(option_env!("PERIOD_MS"), "10000"));
/// ThingSpeak channel and MQTT-device credentials; ThingSpeak is off unless all four are set.
const THINGSPEAK: Option<ThingSpeak<'static>> = match (
    option_env!("THINGSPEAK_CHANNEL"),
    option_env!("THINGSPEAK_CLIENT_ID"),
    option_env!("THINGSPEAK_USERNAME"),
    option_env!("THINGSPEAK_PASSWORD"),
) {
    (Some(channel), Some(client_id), Some(username), Some(password)) => Some(ThingSpeak::new(
        parse_u32(channel),
        client_id,
        username,
        password,
    )),
    _ => None,
};

// ---- Sizes. ----

/// Sockets: DHCP, DNS, the MQTT 5 connection, the ThingSpeak connection, SNTP (deep sleep).
const SOCKETS: usize = 5;
/// TCP connections open at once: the MQTT 5 broker and ThingSpeak.
const TCP_CONNECTIONS: usize = 2;
/// Per-connection TCP buffers; an MQTT packet of a sample is a few hundred bytes.
const TCP_BUFFER: usize = 1024;
/// No answer from the broker for this long closes the socket, so a dead link is noticed.
const TCP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long to wait before retrying to join Wi-Fi.
const WIFI_RETRY: Duration = Duration::from_secs(5);

type Bus = Mutex<NoopRawMutex, I2c<'static, Async>>;
type Net = Network<'static, TCP_CONNECTIONS, TCP_BUFFER, TCP_BUFFER>;

esp_bootloader_esp_idf::esp_app_desc!();

#[esp_rtos::main]
async fn main(spawner: Spawner) {
    esp_println::logger::init_logger_from_env();
    let config = esp_hal::Config::default().with_cpu_clock(CpuClock::max());
    let board = Board::take(esp_hal::init(config));
    log::info!("sensorpub on {} as {DEVICE}", board::CHIP);

    // The Wi-Fi driver allocates: 64 KiB in RAM the bootloader used, 36 KiB more beside it.
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);

    let timg0 = TimerGroup::new(board.timg0);
    esp_rtos::start(timg0.timer0, board.sw_interrupt);

    let wifi = ControllerConfig::default().with_initial_config(WifiConfig::Station(
        StationConfig::default()
            .with_ssid(SSID.try_into().expect("SSID longer than 32 bytes"))
            .with_authentication(match PASSWORD {
                Some(password) if !password.is_empty() => AuthenticationMethodConfig::Wpa2Personal(
                    password.try_into().expect("PASSWORD longer than 64 bytes"),
                ),
                _ => AuthenticationMethodConfig::Open,
            }),
    ));
    let controller = WifiController::new(board.wifi, wifi).expect("Wi-Fi failed to start");
    // The radio is running, so the RNG draws on RF noise: true randomness for the jitter.
    let rng = Rng::new();

    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );

    let i2c = I2c::new(
        board.i2c,
        I2cConfig::default().with_frequency(board::I2C_FREQUENCY),
    )
    .expect("I2C frequency out of range")
    .with_sda(board.sda)
    .with_scl(board.scl)
    .into_async();
    static BUS: StaticCell<Bus> = StaticCell::new();
    let bus = BUS.init(Mutex::new(i2c));

    static TCP: StaticCell<TcpClientState<TCP_CONNECTIONS, TCP_BUFFER, TCP_BUFFER>> =
        StaticCell::new();
    let mut tcp = TcpClient::new(stack, TCP.init(TcpClientState::new()));
    tcp.set_timeout(Some(TCP_TIMEOUT));
    static NET: StaticCell<Net> = StaticCell::new();
    let net = NET.init(Network::new(tcp, DnsSocket::new(stack)));

    spawner.spawn(net_task(runner).expect("task pool"));
    if sleep::ENABLED {
        // Wi-Fi only on the wakes that send (src/sleep.rs).
        let task = sleep::sleep_task(spawner, controller, stack, net, bus, rng, board.sleep);
        spawner.spawn(task.expect("task pool"));
    } else {
        spawner.spawn(wifi_task(controller).expect("task pool"));
        spawner.spawn(publish_task(stack, net, bus, rng).expect("task pool"));
    }
}

/// Keeps the station associated: connects, waits for a disconnect, connects again.
#[embassy_executor::task]
async fn wifi_task(mut controller: WifiController<'static>) {
    loop {
        match controller.connect_async().await {
            Ok(info) => {
                log::info!("Wi-Fi: joined {:?}", info.ssid);
                let lost = controller.wait_for_disconnect_async().await;
                log::warn!("Wi-Fi: lost ({lost:?}), rejoining");
            }
            Err(e) => {
                log::warn!("Wi-Fi: joining {SSID} failed ({e:?}), retrying in {WIFI_RETRY}");
                Timer::after(WIFI_RETRY).await;
            }
        }
    }
}

/// Runs the IP stack: DHCP, DNS, TCP.
#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) -> ! {
    runner.run().await
}

/// Reads the PySense and publishes, forever: [`run`] queues through outages and
/// reconnects (Wi-Fi loss shows to it as a broker loss).
#[embassy_executor::task]
async fn publish_task(stack: Stack<'static>, net: &'static Net, bus: &'static Bus, rng: Rng) {
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        log::info!("IP: {}", config.address);
    }
    let broker = match Broker::parse(BROKER) {
        Ok(broker) => broker,
        Err(e) => return log::error!("BROKER={BROKER}: {e}"),
    };
    let config = NodeConfig {
        device: DEVICE,
        broker,
        topic: TOPIC,
        period_ms: PERIOD_MS,
        thingspeak: THINGSPEAK,
    };
    log::info!(
        "publishing every {PERIOD_MS} ms to {BROKER}{}",
        if THINGSPEAK.is_some() {
            " and ThingSpeak"
        } else {
            ""
        }
    );
    // 2.5 KiB of buffers: in a static, not on the task's stack.
    static BUFFERS: StaticCell<Buffers> = StaticCell::new();
    let buffers = BUFFERS.init(Buffers::new());
    let Err(e) = run(
        net,
        || I2cDevice::new(bus),
        EmbassyClock,
        rng,
        &config,
        buffers,
        |event| log::info!("{event}"),
    )
    .await;
    log::error!("configuration: {e}");
}

/// `value`, or `default` when the variable was not set at build time.
const fn or(value: Option<&'static str>, default: &'static str) -> &'static str {
    match value {
        Some(value) => value,
        None => default,
    }
}

/// A decimal number from a build-time variable; a typo stops the build, not the device.
const fn parse_u32(text: &str) -> u32 {
    match u32::from_str_radix(text, 10) {
        Ok(value) => value,
        Err(_) => panic!("PERIOD_MS and THINGSPEAK_CHANNEL must be decimal numbers"),
    }
}
