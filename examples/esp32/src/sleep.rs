//! The deep-sleep mode (`DEEP_SLEEP=1` at build time): a battery node that wakes every
//! `PERIOD_MS`, reads the PySense, stores the sample on the internal flash, brings Wi-Fi up only
//! every `CONNECT_EVERY` wakes (or when the backlog passes 16 samples) to send the batch, and
//! goes back to deep sleep with a timer wake-up. The cycle itself is
//! [`sensorpub_station::wake`], host-tested in `station/tests/sleep_cycle.rs`; this file gives
//! it the chip's pieces:
//!
//! - **Flash**: the queue ([`FlashQueue`]) lives in the data partition labelled `readings` of
//!   the partition table (`partitions.csv` in this folder; flash it with `espflash flash
//!   --partition-table partitions.csv`), through esp-storage and esp-bootloader-esp-idf's
//!   partition view, made async by embassy-embedded-hal's `BlockingAsync`.
//! - **What survives deep sleep**: the station's [`WakeState`] in RTC fast RAM
//!   (`#[esp_hal::ram(unstable(rtc_fast, persistent))]`, in the checked layout of
//!   `WakeState::to_words`: a power-up's garbage starts afresh), the RTC timer and the wall
//!   time set by SNTP
//!   ([`crate::time`]).
//! - **Sleep**: esp-hal's `LowPower::set_wakeup_deadline` (the RTC timer alarm) and
//!   `sleep_deep`; the wake is a reset, and `main` runs again from the top.
//!
//! Only the JSON feed runs in this mode; ThingSpeak needs a second queue partition and is left
//! out (the station's `wake` takes it as its second destination).

use crate::time::{self, RtcClock};
use crate::{BROKER, Bus, DEVICE, Net, PERIOD_MS, TOPIC};
use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_embedded_hal::shared_bus::asynch::i2c::I2cDevice;
use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_net::Stack;
use embassy_time::{Duration, with_timeout};
use esp_bootloader_esp_idf::partitions::{self, PARTITION_TABLE_MAX_LEN};
use esp_hal::peripherals::{FLASH, LPWR, RTC_TIMER};
use esp_hal::rng::Rng;
use esp_hal::rtc_cntl::Rtc;
use esp_hal::rtc_cntl::sleep::{LowPower, RtcSleepConfig};
use esp_radio::wifi::WifiController;
use esp_storage::FlashStorage;
use sensorpub::{
    Backoff, BackoffConfig, Broker, FlashQueue, JsonSink, Mqtt5, Mqtt5Buffers, MqttOptions,
    Publisher, QoS, ResilientPublisher,
};
use sensorpub_station::{
    self as station, FLASH_RECORD, MESSAGE_BUFFER, MQTT5_RX, MQTT5_TX, Nowhere, SleepConfig,
    TOPIC_CAPACITY, WakeState,
};
use static_cell::StaticCell;

/// Deep-sleep mode: `DEEP_SLEEP` set (to anything, e.g. 1) at build time; otherwise the node
/// stays awake and publishes every sample (`sensorpub_station::run`).
pub const ENABLED: bool = option_env!("DEEP_SLEEP").is_some();
/// Connect every this many wakes: `CONNECT_EVERY` at build time, 4 by default.
const CONNECT_EVERY: u32 = crate::parse_u32(crate::or(option_env!("CONNECT_EVERY"), "4"));
/// Or as soon as this many samples are stored.
const THRESHOLD: usize = 16;
/// The data partition that holds the queue.
const PARTITION: &str = "readings";
/// How long a send wake waits for Wi-Fi and DHCP before trying anyway (and failing, counted).
const WIFI_PATIENCE: Duration = Duration::from_secs(20);
/// The shortest sleep: the RTC alarm must be armed a little ahead of the sleep transition.
const MIN_SLEEP_MS: u64 = 10;

/// The peripherals only this mode uses.
pub struct SleepPeripherals {
    /// Low-power control: the deep sleep and its timer wake-up.
    pub lpwr: LPWR<'static>,
    /// The RTC timer: a clock that keeps running through deep sleep.
    pub rtc_timer: RTC_TIMER<'static>,
    /// The internal SPI flash, for the queue partition.
    pub flash: FLASH<'static>,
}

/// [`WakeState`] in RTC fast RAM, kept through deep sleep, as [`WakeState::to_words`] lays it
/// out (with a magic word and a check, so a power-up's garbage starts afresh).
#[esp_hal::ram(unstable(rtc_fast, persistent))]
static mut KEPT: [u32; 7] = [0; 7];

/// The state the last wake left, or a fresh one after a power-up.
fn load() -> WakeState {
    // SAFETY: one task, before any other access; a plain copy of plain words.
    let words = unsafe { (&raw const KEPT).read_volatile() };
    WakeState::from_words(&words).unwrap_or_default()
}

fn save(state: &WakeState) {
    // SAFETY: one task, no other access; written just before the deep sleep.
    unsafe { (&raw mut KEPT).write_volatile(state.to_words()) };
}

/// The buffers of one wake, in a static rather than on the task's stack.
struct Buffers {
    mqtt5: Mqtt5Buffers<MQTT5_RX, MQTT5_TX, MESSAGE_BUFFER>,
    json: [u8; MESSAGE_BUFFER],
    topic: heapless::String<TOPIC_CAPACITY>,
    table: [u8; PARTITION_TABLE_MAX_LEN],
}

/// One wake, then deep sleep: never returns (the next wake starts the firmware again).
#[embassy_executor::task]
#[allow(clippy::too_many_arguments)] // each is a different piece of hardware
pub async fn sleep_task(
    spawner: Spawner,
    controller: WifiController<'static>,
    stack: Stack<'static>,
    net: &'static Net,
    bus: &'static Bus,
    rng: Rng,
    parts: SleepPeripherals,
) {
    let rtc = Rtc::new(parts.rtc_timer);
    let mut clock = RtcClock::new(&rtc);
    let mut state = load();
    let config = SleepConfig::new(PERIOD_MS)
        .connect_every(CONNECT_EVERY)
        .with_threshold(THRESHOLD);
    static BUFFERS: StaticCell<Buffers> = StaticCell::new();
    let buffers = BUFFERS.init(Buffers {
        mqtt5: Mqtt5Buffers::new(),
        json: [0; MESSAGE_BUFFER],
        topic: heapless::String::new(),
        table: [0; PARTITION_TABLE_MAX_LEN],
    });

    let wake = async {
        // The queue's partition.
        let mut storage = FlashStorage::new(parts.flash);
        let table = partitions::read_partition_table(&mut storage, &mut buffers.table)
            .map_err(|e| log::error!("partition table: {e:?}"))?;
        let entry = table
            .iter()
            // Data (1), subtype undefined (6), as partitions.csv says: esp-bootloader-esp-idf
            // turns only known subtypes into a region.
            .find(|p| p.label_as_str() == PARTITION && p.raw_type() == 1 && p.raw_subtype() == 6)
            .ok_or_else(|| {
                log::error!(
                    "no data partition `{PARTITION}` (undefined subtype): see partitions.csv"
                )
            })?;
        let mut region = entry.as_flash_region(&mut storage);
        let capacity = u32::try_from(region.partition_size()).unwrap_or(u32::MAX);
        let nor = region
            .as_nor_flash()
            .map_err(|e| log::error!("partition `{PARTITION}`: {e:?}"))?;
        let queue = FlashQueue::<_, FLASH_RECORD>::open(BlockingAsync::new(nor), 0..capacity)
            .await
            .map_err(|e| log::error!("flash queue: {e}"))?;
        log::info!(
            "wake {}: {} samples stored, wall time {}",
            state.wakes + 1,
            queue.len(),
            if sensorpub::Clock::unix_time(&mut clock).is_some() {
                "known"
            } else {
                "unknown"
            }
        );

        // Wi-Fi only when this wake sends, or on the first wake after a power-up to learn the
        // time (once: an unreachable server must not keep the radio on every wake).
        let first_without_time =
            state.wakes == 0 && sensorpub::Clock::unix_time(&mut clock).is_none();
        if config.sends(&state, queue.len() + 1) || first_without_time {
            spawner.spawn(crate::wifi_task(controller).map_err(|_| log::error!("task pool"))?);
            if with_timeout(WIFI_PATIENCE, stack.wait_config_up())
                .await
                .is_err()
            {
                log::warn!("Wi-Fi not up after {WIFI_PATIENCE}: the send will fail and retry");
            }
            match time::sync(stack, &rtc).await {
                Ok(unix) => log::info!("SNTP: {} says {unix}", time::NTP_SERVER),
                Err(e) => log::warn!("SNTP: {e}; samples keep the RTC's time, if any"),
            }
        } else {
            drop(controller);
        }

        let topic = match TOPIC {
            Some(topic) => topic,
            None => {
                use core::fmt::Write as _;
                write!(buffers.topic, "sensorpub/{DEVICE}/value")
                    .map_err(|_| log::error!("topic too long"))?;
                buffers.topic.as_str()
            }
        };
        let broker = Broker::parse(BROKER).map_err(|e| log::error!("BROKER={BROKER}: {e}"))?;
        let (mqtt5, mut runner) =
            Mqtt5::new(net, broker, MqttOptions::new(DEVICE), &mut buffers.mqtt5)
                .map_err(|e| log::error!("MQTT options: {e}"))?;
        let sink = JsonSink::object(topic)
            .and_then(|s| s.with_device(DEVICE).with_decimals(2))
            .map_err(|e| log::error!("sink: {e}"))?
            .with_time();
        let publisher =
            Publisher::new((), sink, mqtt5, clock, &mut buffers.json).with_qos(QoS::AtLeastOnce);
        // Two attempts a send wake: a broker that is away costs a few seconds of radio.
        let backoff = BackoffConfig::new(1_000, 2_000)
            .and_then(|c| c.with_max_attempts(2))
            .map_err(|e| log::error!("backoff: {e}"))?;
        let mut json = ResilientPublisher::new(publisher, Backoff::new(backoff, rng), queue);
        let mut nowhere = Nowhere;
        let cycle = station::wake(
            || I2cDevice::new(bus),
            clock,
            &mut json,
            &mut nowhere,
            &config,
            &mut state,
            |event| log::info!("{event}"),
        );
        match select(runner.run(), cycle).await {
            Either::First(never) => match never {},
            Either::Second(wake) => Ok::<_, ()>(wake),
        }
    };
    let sleep_ms = match wake.await {
        Ok(wake) => {
            log::info!(
                "{} published, {} stored, radio on {} ms; sleeping {} ms",
                wake.published,
                wake.queued,
                wake.radio_on_ms,
                wake.sleep_ms
            );
            wake.sleep_ms
        }
        // Misconfigured (logged): sleep a period and try again rather than spin.
        Err(()) => u64::from(PERIOD_MS),
    };
    save(&state);
    let mut low_power = LowPower::new(parts.lpwr);
    let deadline = esp_hal::time::Instant::now()
        + esp_hal::time::Duration::from_millis(sleep_ms.max(MIN_SLEEP_MS));
    low_power.set_wakeup_deadline(deadline);
    low_power.sleep_deep(RtcSleepConfig::deep());
}
