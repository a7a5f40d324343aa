//! Wall time for the samples of the deep-sleep mode: an SNTP query (the `sntpc` crate, no_std
//! and runtime-agnostic, over embassy-net's UDP socket) sets the RTC's clock, which keeps
//! counting through deep sleep, so a wake without Wi-Fi still stamps its sample.
//!
//! The RTC's clock is esp-hal's `Rtc::current_time_us`: the RTC timer (running since power-up,
//! through deep sleep) plus a boot time that esp-hal keeps in RTC registers; setting the time
//! writes that boot time. Until the first answer after a power-up it reads a few seconds
//! since 1970: then [`RtcClock::unix_time`] says `None`, and the sample goes without a time
//! (the JSON has no `"time"` member; ThingSpeak would date it by its arrival). The RTC runs
//! from the chip's internal RC oscillator, which can drift by a few percent: the time is set
//! again on every wake that brings Wi-Fi up.

use core::net::{IpAddr, SocketAddr};
use embassy_net::Stack;
use embassy_net::dns::DnsQueryType;
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_time::{Duration, with_timeout};
use embedded_hal_async::delay::DelayNs;
use esp_hal::rtc_cntl::Rtc;
use sensorpub::Clock;
use sntpc::{NtpContext, NtpTimestampGenerator, NtpUdpSocket};

/// The SNTP server: `NTP_SERVER` at build time, or the NTP pool.
pub const NTP_SERVER: &str = crate::or(option_env!("NTP_SERVER"), "pool.ntp.org");
/// An RTC time before this (2020-09-13) was never set: the wall time is unknown.
const KNOWN_AFTER_US: u64 = 1_600_000_000 * 1_000_000;
/// How long an SNTP answer may take.
const SNTP_TIMEOUT: Duration = Duration::from_secs(3);
/// The NTP port.
const NTP_PORT: u16 = 123;

/// Time for sensorpub from the RTC: `now_ms` counts from power-up and runs through deep sleep
/// (so the station's schedule spans wakes), `unix_time` is the wall time once SNTP set it.
/// Waits go through embassy-time.
#[derive(Clone, Copy)]
pub struct RtcClock<'a> {
    rtc: &'a Rtc<'static>,
}

impl<'a> RtcClock<'a> {
    /// The clock of `rtc`.
    pub fn new(rtc: &'a Rtc<'static>) -> Self {
        Self { rtc }
    }
}

impl Clock for RtcClock<'_> {
    fn now_ms(&mut self) -> u64 {
        self.rtc.time_since_power_up().as_millis()
    }

    fn unix_time(&mut self) -> Option<u64> {
        let now_us = self.rtc.current_time_us();
        (now_us >= KNOWN_AFTER_US).then_some(now_us / 1_000_000)
    }
}

impl DelayNs for RtcClock<'_> {
    async fn delay_ns(&mut self, ns: u32) {
        embassy_time::Timer::after_nanos(u64::from(ns)).await;
    }
}

/// Why the time was not set.
#[derive(Debug)]
pub enum SyncError {
    /// The server's name did not resolve.
    Dns,
    /// No UDP socket (bind failed).
    Socket,
    /// No valid answer within the timeout.
    Timeout,
    /// The answer was refused by sntpc's checks (or the network failed).
    Sntp(sntpc::Error),
}

impl core::fmt::Display for SyncError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SyncError::Dns => write!(f, "{NTP_SERVER} did not resolve"),
            SyncError::Socket => f.write_str("no UDP socket"),
            SyncError::Timeout => write!(f, "no answer within {SNTP_TIMEOUT}"),
            SyncError::Sntp(e) => write!(f, "answer refused ({e:?})"),
        }
    }
}

/// Asks [`NTP_SERVER`] for the time and sets `rtc` to it; returns the new Unix time. Needs
/// one free UDP socket in the stack's resources.
pub async fn sync(stack: Stack<'_>, rtc: &Rtc<'static>) -> Result<u64, SyncError> {
    let addresses = stack
        .dns_query(NTP_SERVER, DnsQueryType::A)
        .await
        .map_err(|_| SyncError::Dns)?;
    let address = addresses.first().copied().ok_or(SyncError::Dns)?;
    let server = SocketAddr::new(IpAddr::from(address), NTP_PORT);

    let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 1], [PacketMetadata::EMPTY; 1]);
    let (mut rx, mut tx) = ([0u8; 128], [0u8; 128]);
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    socket.bind(0).map_err(|_| SyncError::Socket)?;
    let socket = Udp(socket);
    let context = NtpContext::new(RtcTime { rtc, now_us: 0 });
    let answer = with_timeout(SNTP_TIMEOUT, sntpc::get_time(server, &socket, context))
        .await
        .map_err(|_| SyncError::Timeout)?
        .map_err(SyncError::Sntp)?;
    // sntpc's offset: server time minus our clock, in µs, corrected for the round trip.
    let now_us = rtc.current_time_us();
    let set_us = now_us.saturating_add_signed(answer.offset());
    rtc.set_current_time_us(set_us);
    Ok(set_us / 1_000_000)
}

/// embassy-net's UDP socket as sntpc's.
struct Udp<'a>(UdpSocket<'a>);

impl NtpUdpSocket for Udp<'_> {
    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> sntpc::Result<usize> {
        // The stack is IPv4 only (feature proto-ipv4), as the DNS query above.
        let SocketAddr::V4(addr) = addr else {
            return Err(sntpc::Error::Network);
        };
        self.0
            .send_to(buf, addr)
            .await
            .map_err(|_| sntpc::Error::Network)?;
        Ok(buf.len())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
        let (len, meta) = self
            .0
            .recv_from(buf)
            .await
            .map_err(|_| sntpc::Error::Network)?;
        Ok((len, SocketAddr::from(meta.endpoint)))
    }
}

/// The RTC's current reading as sntpc's origin timestamps.
#[derive(Clone, Copy)]
struct RtcTime<'a> {
    rtc: &'a Rtc<'static>,
    now_us: u64,
}

impl NtpTimestampGenerator for RtcTime<'_> {
    fn init(&mut self) {
        self.now_us = self.rtc.current_time_us();
    }

    fn timestamp_sec(&self) -> u64 {
        self.now_us / 1_000_000
    }

    fn timestamp_subsec_micros(&self) -> u32 {
        // Below 1,000,000: fits.
        (self.now_us % 1_000_000) as u32
    }
}
