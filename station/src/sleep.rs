//! The battery node's cycle: wake → read → store → (now and then) connect and send → sleep.
//!
//! [`wake`] is one wake of a node that spends most of its life in deep sleep, where RAM and the
//! radio are off. Each wake it reads the PySense once, stamps the sample with the wall time,
//! stores it in each destination's outage queue ([`ResilientPublisher::store`]: no radio), and
//! turns the radio on only every [`SleepConfig::connect_every`] wakes, or sooner once
//! [`SleepConfig::threshold`] messages are stored, to send the whole backlog
//! ([`ResilientPublisher::flush`]). It returns how long to sleep for the rest of the period.
//!
//! The queues must outlive the deep sleep: give each destination a
//! [`FlashQueue`](sensorpub::FlashQueue), opened afresh each wake over the same flash range.
//! The little the cycle keeps between wakes ([`WakeState`]) is the caller's to keep too: in
//! the ESP32's RTC RAM, which survives deep sleep (not a power cut).
//!
//! The clock must keep running through deep sleep (the ESP32's RTC timer, not a timer that
//! starts at 0 on every boot): the schedule is "every `period_ms` from the first wake", so
//! the time a wake spends awake does not push the next wake later.
//!
//! Radio on: a send wake connects, sends every stored message, oldest first, at the sinks'
//! pace (ThingSpeak's 15 s between updates is kept in a replay too: its backlog holds the
//! radio on for 15 s per update), and returns. Give each destination a
//! [`BackoffConfig`](sensorpub::BackoffConfig) with few attempts: a broker that is away costs
//! those attempts, then the messages stay stored for the next send wake.

use crate::{Destination, Event, SAMPLE_CAPACITY};
use core::convert::Infallible;
use core::fmt;
use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use rand_core::Rng;
use sensorpub::pysense::PySenseAsync;
use sensorpub::{
    Clock, OutageQueue, ResilientError, ResilientPublisher, Sample, Sensor, Sink, Stats, Transport,
};

/// How often the node wakes and when a wake turns the radio on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SleepConfig {
    /// Time from one wake to the next, in milliseconds.
    pub period_ms: u32,
    /// Connect every this many wakes (1: every wake). Batching saves the radio, the
    /// battery's largest cost: a connection costs about the same for 1 message as for 10.
    pub connect_every: u32,
    /// Or sooner, once a destination has this many messages stored (so a long
    /// `connect_every` does not fill the queue), unless the last send wake found the broker
    /// away: then the next scheduled send wake tries again, not every wake.
    pub threshold: usize,
}

impl SleepConfig {
    /// A wake every `period_ms`, a connection every 4 wakes or at 16 stored messages.
    pub const fn new(period_ms: u32) -> Self {
        Self {
            period_ms,
            connect_every: 4,
            threshold: 16,
        }
    }

    /// Connect every `wakes` wakes (0 is taken as 1).
    #[must_use]
    pub const fn connect_every(mut self, wakes: u32) -> Self {
        self.connect_every = if wakes == 0 { 1 } else { wakes };
        self
    }

    /// Connect as soon as a destination has `messages` stored.
    #[must_use]
    pub const fn with_threshold(mut self, messages: usize) -> Self {
        self.threshold = messages;
        self
    }

    /// Whether the coming wake (`state` as it is before it) turns the radio on, if it leaves
    /// `queued` messages stored in its fullest destination. [`wake`] decides with this; a
    /// firmware calls it before the wake, with what is stored plus the coming sample, to bring
    /// Wi-Fi up only when it will be used (and while the sensors are read).
    pub const fn sends(&self, state: &WakeState, queued: usize) -> bool {
        let wake = state.wakes.wrapping_add(1);
        let connect_every = if self.connect_every == 0 {
            1
        } else {
            self.connect_every
        };
        let scheduled = wake.is_multiple_of(connect_every);
        queued > 0 && (scheduled || (queued >= self.threshold && !state.behind))
    }
}

/// What the cycle keeps from one wake to the next: small and `Copy`, for the caller to keep
/// where deep sleep does not erase it (the ESP32's RTC RAM). A power cut loses it: the node
/// then starts counting wakes again, and its stored messages are still on the flash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WakeState {
    /// Wakes so far.
    pub wakes: u32,
    /// When the coming wake is due, on the clock that runs through sleep; `None` before the
    /// first wake.
    pub due_ms: Option<u64>,
    /// Messages dropped, oldest first, because a queue was full, over all wakes (a
    /// [`FlashQueue`](sensorpub::FlashQueue) counts only since it was opened, i.e. this wake).
    pub dropped: u32,
    /// The last send wake did not deliver everything (broker away): the threshold waits for
    /// the next scheduled send wake.
    pub behind: bool,
}

/// First word of [`WakeState::to_words`]: the layout, version 1.
const STATE_MAGIC: u32 = 0x5EE9_0001;

impl WakeState {
    /// The state of a node that has not woken yet.
    pub const fn new() -> Self {
        Self {
            wakes: 0,
            due_ms: None,
            dropped: 0,
            behind: false,
        }
    }

    /// The state as seven words for RAM that deep sleep keeps (plain `u32`s, which any bit
    /// pattern is): a magic word, the fields, and a check word over them, so that
    /// [`from_words`](Self::from_words) tells a kept state from the garbage or zeros such RAM
    /// holds after a power-up.
    pub const fn to_words(&self) -> [u32; 7] {
        let (due, has_due) = match self.due_ms {
            Some(due) => (due, 1),
            None => (0, 0),
        };
        let mut words = [
            STATE_MAGIC,
            self.wakes,
            due as u32,
            (due >> 32) as u32,
            self.dropped,
            has_due | (self.behind as u32) << 1,
            0,
        ];
        words[6] = check_word(&words);
        words
    }

    /// The state [`to_words`](Self::to_words) wrote, or `None` if `words` are not one (a
    /// power-up: start with [`WakeState::new`]).
    pub const fn from_words(words: &[u32; 7]) -> Option<Self> {
        if words[0] != STATE_MAGIC || words[6] != check_word(words) || words[5] & !0b11 != 0 {
            return None;
        }
        let due = words[2] as u64 | (words[3] as u64) << 32;
        Some(Self {
            wakes: words[1],
            due_ms: if words[5] & 1 != 0 { Some(due) } else { None },
            dropped: words[4],
            behind: words[5] & 2 != 0,
        })
    }
}

/// A check over the first six words (rotate-xor, seeded): any one changed word changes it.
const fn check_word(words: &[u32; 7]) -> u32 {
    let mut sum: u32 = 0x9E37_79B9;
    let mut i = 0;
    while i < 6 {
        sum = sum.rotate_left(5) ^ words[i];
        i += 1;
    }
    sum
}

/// What one [`wake`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Wake {
    /// A sample was read and stored.
    pub sampled: bool,
    /// This wake turned the radio on and tried to send.
    pub connected: bool,
    /// Messages the destinations delivered during this wake.
    pub published: u32,
    /// Messages still stored after this wake, all destinations.
    pub queued: usize,
    /// Milliseconds from the first connection attempt until the last message was sent (or
    /// the attempts ran out), on the wake's clock; 0 when the radio stayed off. Bringing up
    /// Wi-Fi itself (association, DHCP) comes before and is not included.
    pub radio_on_ms: u64,
    /// How long to sleep now, so that the next wake comes `period_ms` after this one was due.
    pub sleep_ms: u64,
}

/// A place samples go: stored now, sent on a send wake. Implemented by every
/// [`ResilientPublisher`] without a sensor of its own (the cycle reads the board), and by
/// [`Nowhere`] for a node with one destination.
#[allow(async_fn_in_trait)] // executors on MCUs are single-threaded; no Send bound wanted
pub trait Outbox {
    /// Why storing or sending failed.
    type Error: fmt::Display;

    /// Encodes `sample` into the queue without touching the radio; returns how many messages
    /// it became.
    async fn store(&mut self, sample: &Sample<SAMPLE_CAPACITY>) -> Result<usize, Self::Error>;

    /// Connects and sends every stored message, oldest first.
    async fn send(&mut self) -> Result<(), Self::Error>;

    /// Counters: published, queued, dropped, reconnects.
    fn stats(&self) -> Stats;
}

impl<K, T, C, R, Q> Outbox for ResilientPublisher<'_, (), K, T, C, R, Q>
where
    K: Sink,
    K::Error: fmt::Display,
    T: Transport,
    T::Error: fmt::Display,
    C: Clock + DelayNs,
    R: Rng,
    Q: OutageQueue,
{
    type Error = ResilientError<Infallible, K::Error, T::Error>;

    async fn store(&mut self, sample: &Sample<SAMPLE_CAPACITY>) -> Result<usize, Self::Error> {
        ResilientPublisher::store(self, sample).await
    }

    async fn send(&mut self) -> Result<(), Self::Error> {
        self.flush().await
    }

    fn stats(&self) -> Stats {
        ResilientPublisher::stats(self)
    }
}

/// No destination: for a node without a ThingSpeak channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nowhere;

impl Outbox for Nowhere {
    type Error = Infallible;

    async fn store(&mut self, _sample: &Sample<SAMPLE_CAPACITY>) -> Result<usize, Self::Error> {
        Ok(0)
    }

    async fn send(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }
}

/// One wake of a battery node: reads the PySense once, stores the sample in `broker` and
/// `thingspeak` (or [`Nowhere`]), sends both backlogs if this is a send wake
/// ([`SleepConfig::sends`]), updates `state`, and says how long to sleep.
///
/// Deep sleep erases RAM: give each destination a [`FlashQueue`](sensorpub::FlashQueue)
/// opened afresh each wake over the same flash range, and keep `state` where deep sleep does
/// not erase it (the ESP32's RTC RAM). The schedule is "every `period_ms` from the first
/// wake" on `clock`, which must keep running through the sleep (the RTC timer, not a timer
/// that starts at 0 on every boot). A send wake holds the radio until every stored message
/// is sent at the sinks' pace (ThingSpeak: 15 s between updates) or the destination's
/// [`BackoffConfig`](sensorpub::BackoffConfig) attempts run out: give it few attempts.
///
/// - `bus`: makes a handle on the PySense's I2C bus for each chip, as for [`run`](crate::run).
/// - `clock`: runs through deep sleep; its [`Clock::unix_time`] stamps the sample (without
///   wall time the sample has no time: the JSON leaves `"time"` out, ThingSpeak its
///   `created_at`, and the broker's arrival time is all a late sample carries).
/// - `report`: called with every [`Event`].
///
/// Never fails: a sensor that does not answer costs this wake's sample, a destination that
/// cannot store or send is reported ([`Event::Failed`]) and its messages stay stored.
pub async fn wake<B, I, C, J, T, F>(
    bus: B,
    mut clock: C,
    broker: &mut J,
    thingspeak: &mut T,
    config: &SleepConfig,
    state: &mut WakeState,
    mut report: F,
) -> Wake
where
    B: FnMut() -> I,
    I: I2c,
    C: Clock + DelayNs + Clone,
    J: Outbox,
    T: Outbox,
    F: FnMut(Event<'_>),
{
    let woke_ms = clock.now_ms();
    let due_ms = state.due_ms.unwrap_or(woke_ms).min(woke_ms);
    let dropped_before = broker
        .stats()
        .dropped
        .saturating_add(thingspeak.stats().dropped);
    let published_before = (broker.stats().published).saturating_add(thingspeak.stats().published);

    let mut sampled = false;
    if let Some(mut sample) = read_board(bus, clock.clone(), &mut report).await {
        if sample.timestamp().is_none() {
            sample.set_timestamp(clock.unix_time());
        }
        report(Event::Sampled { sample: &sample });
        sampled = true;
        store(broker, Destination::Broker, &sample, &mut report).await;
        store(thingspeak, Destination::ThingSpeak, &sample, &mut report).await;
    }
    let most = broker.stats().queued.max(thingspeak.stats().queued);
    let connect = config.sends(state, most);
    state.wakes = state.wakes.wrapping_add(1);
    let mut radio_on_ms = 0;
    if connect {
        let start_ms = clock.now_ms();
        let sent = send(broker, Destination::Broker, &mut report).await
            & send(thingspeak, Destination::ThingSpeak, &mut report).await;
        radio_on_ms = clock.now_ms().saturating_sub(start_ms);
        state.behind = !sent;
    }

    let stats = (broker.stats(), thingspeak.stats());
    let dropped_now = stats.0.dropped.saturating_add(stats.1.dropped);
    state.dropped = state
        .dropped
        .saturating_add(dropped_now.saturating_sub(dropped_before));

    // Fixed rate from the first wake; a wake that overran its period starts the next one
    // now rather than bursting to catch up.
    let now_ms = clock.now_ms();
    let next_ms = due_ms
        .saturating_add(u64::from(config.period_ms))
        .max(now_ms);
    state.due_ms = Some(next_ms);
    Wake {
        sampled,
        connected: connect,
        published: (stats.0.published)
            .saturating_add(stats.1.published)
            .saturating_sub(published_before),
        queued: stats.0.queued.saturating_add(stats.1.queued),
        radio_on_ms,
        sleep_ms: next_ms - now_ms,
    }
}

/// Powers and initialises the board (RAM was lost in deep sleep), then reads it once.
async fn read_board<B, I, C, F>(bus: B, clock: C, report: &mut F) -> Option<Sample<SAMPLE_CAPACITY>>
where
    B: FnMut() -> I,
    I: I2c,
    C: DelayNs + Clone,
    F: FnMut(Event<'_>),
{
    let mut board = PySenseAsync::new(bus, clock);
    match board.power_on_sensors().await {
        Ok(_) => report(Event::SensorsPowered),
        Err(error) => report(Event::PowerOnFailed { error: &error }),
    }
    let presence = board.init().await;
    report(Event::SensorsFound { presence });
    match board.read().await {
        Ok(sample) => Some(sample),
        Err(error) => {
            report(Event::SensorFailed { error: &error });
            None
        }
    }
}

async fn store<O: Outbox, F: FnMut(Event<'_>)>(
    outbox: &mut O,
    to: Destination,
    sample: &Sample<SAMPLE_CAPACITY>,
    report: &mut F,
) {
    match outbox.store(sample).await {
        Ok(0) => {}
        Ok(_) => report(Event::Delivered {
            to,
            stats: outbox.stats(),
        }),
        Err(error) => report(Event::Failed { to, error: &error }),
    }
}

/// Sends `outbox`'s backlog; whether everything went.
async fn send<O: Outbox, F: FnMut(Event<'_>)>(
    outbox: &mut O,
    to: Destination,
    report: &mut F,
) -> bool {
    if outbox.stats().queued == 0 {
        return true;
    }
    match outbox.send().await {
        Ok(()) => {
            report(Event::Delivered {
                to,
                stats: outbox.stats(),
            });
            true
        }
        Err(error) => {
            report(Event::Failed { to, error: &error });
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_state_reads_back_and_garbage_does_not() {
        let states = [
            WakeState::new(),
            WakeState {
                wakes: 41,
                due_ms: Some(0x1_2345_6789),
                dropped: 3,
                behind: true,
            },
            WakeState {
                wakes: u32::MAX,
                due_ms: Some(0),
                dropped: 0,
                behind: false,
            },
        ];
        for state in states {
            let words = state.to_words();
            assert_eq!(WakeState::from_words(&words), Some(state));
            // Any one word changed (a bit flipped) is refused.
            for i in 0..7 {
                let mut bad = words;
                bad[i] ^= 1 << (i * 3);
                assert_eq!(WakeState::from_words(&bad), None, "word {i} of {state:?}");
            }
        }
        // What RTC RAM holds after a power-up.
        assert_eq!(WakeState::from_words(&[0; 7]), None);
        assert_eq!(WakeState::from_words(&[u32::MAX; 7]), None);
    }

    #[test]
    fn a_wake_sends_every_k_wakes_or_past_the_threshold_unless_behind() {
        let config = SleepConfig::new(60_000).connect_every(3).with_threshold(5);
        let at = |wakes: u32, behind: bool| WakeState {
            wakes,
            behind,
            ..WakeState::new()
        };
        // The coming wake is wake `wakes + 1`: the 3rd, 6th, ... send.
        assert!(!config.sends(&at(0, false), 1));
        assert!(!config.sends(&at(1, false), 2));
        assert!(config.sends(&at(2, false), 3));
        assert!(config.sends(&at(5, true), 1), "scheduled: even when behind");
        // Nothing stored: no radio, even when scheduled.
        assert!(!config.sends(&at(2, false), 0));
        // Past the threshold: at once, unless the last send found the broker away.
        assert!(config.sends(&at(3, false), 5));
        assert!(!config.sends(&at(3, true), 5));
        // connect_every(0) is every wake.
        assert!(SleepConfig::new(1).connect_every(0).sends(&at(7, false), 1));
    }
}
