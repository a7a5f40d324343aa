//! [`Backoff`]: how long a publisher waits before each reconnection attempt.
//!
//! The schedule is exponential (`base · factor^k`, capped) with jitter drawn from a `rand_core`
//! RNG, so a fleet of devices that lost the same broker does not come back in lockstep. It is
//! pure arithmetic over the RNG, no clock: the publisher does the waiting, tests check the
//! numbers.

use core::fmt;
use rand_core::Rng;

impl BackoffConfig {
    /// Default first wait. A broker restart takes a moment; retrying sooner only burns power.
    pub const DEFAULT_BASE_MS: u32 = 500;

    /// Default longest wait: a device retries at least once a minute however long the outage.
    pub const DEFAULT_CAP_MS: u32 = 60_000;

    /// Default growth of the wait from one attempt to the next.
    pub const DEFAULT_FACTOR: u32 = 2;

    /// Default jitter: each wait is drawn from its upper half ("equal jitter"), which spreads
    /// devices apart while keeping at least half the nominal wait.
    pub const DEFAULT_JITTER_PERCENT: u8 = 50;
}

/// Shortest wait ever handed out, whatever the jitter: a zero wait would let a publisher
/// retry in a tight loop.
const MIN_DELAY_MS: u32 = 1;

/// A jitter percentage is a share of the nominal wait.
const PERCENT: u64 = 100;

/// A [`BackoffConfig`] value that makes no sense; returned when it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BackoffError {
    /// A base wait of 0 ms would retry in a tight loop: give at least 1 ms.
    ZeroBase,
    /// The cap is below the base wait, so the base could never be waited.
    CapBelowBase {
        /// The base wait given, in milliseconds.
        base_ms: u32,
        /// The cap given, in milliseconds.
        cap_ms: u32,
    },
    /// A factor of 0 would collapse every wait after the first to nothing: use 1 (constant
    /// waits) or more.
    ZeroFactor,
    /// A maximum of 0 attempts would give up without trying: use 1 or more, or leave the
    /// attempts unlimited.
    ZeroAttempts,
    /// Jitter is a share of the wait, so at most 100 %.
    JitterAbove100 {
        /// The percentage given.
        percent: u8,
    },
}

impl fmt::Display for BackoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackoffError::ZeroBase => f.write_str("backoff base wait is 0 ms: give at least 1 ms"),
            BackoffError::CapBelowBase { base_ms, cap_ms } => write!(
                f,
                "backoff cap {cap_ms} ms is below the base wait {base_ms} ms: raise the cap"
            ),
            BackoffError::ZeroFactor => f.write_str("backoff factor is 0: use 1 or more"),
            BackoffError::ZeroAttempts => {
                f.write_str("backoff allows 0 attempts: use 1 or more, or leave them unlimited")
            }
            BackoffError::JitterAbove100 { percent } => {
                write!(f, "backoff jitter {percent} % is above 100 %")
            }
        }
    }
}

impl core::error::Error for BackoffError {}

/// The shape of a [`Backoff`] schedule, checked when it is built.
///
/// Attempt `k` (from 0) waits `min(cap, base · factorᵏ)` milliseconds, less a random share of
/// at most `jitter` percent of that, and never less than 1 ms. The cap therefore bounds every
/// wait, jitter included.
///
/// ```
/// use sensorpub::BackoffConfig;
///
/// let config = BackoffConfig::new(100, 1_000)?.with_factor(3)?.with_max_attempts(5)?;
/// let nominal: Vec<u32> = (0..5).map(|k| config.nominal_delay_ms(k)).collect();
/// assert_eq!(nominal, [100, 300, 900, 1_000, 1_000]);
/// assert!(BackoffConfig::new(1_000, 100).is_err());
/// # Ok::<(), sensorpub::BackoffError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BackoffConfig {
    base_ms: u32,
    cap_ms: u32,
    factor: u32,
    /// `None`: retry forever. Never `Some(0)`.
    max_attempts: Option<u32>,
    jitter_percent: u8,
}

impl Default for BackoffConfig {
    /// [`BackoffConfig::DEFAULT_BASE_MS`], [`BackoffConfig::DEFAULT_CAP_MS`], [`BackoffConfig::DEFAULT_FACTOR`], [`BackoffConfig::DEFAULT_JITTER_PERCENT`],
    /// unlimited attempts.
    fn default() -> Self {
        Self {
            base_ms: BackoffConfig::DEFAULT_BASE_MS,
            cap_ms: BackoffConfig::DEFAULT_CAP_MS,
            factor: BackoffConfig::DEFAULT_FACTOR,
            max_attempts: None,
            jitter_percent: BackoffConfig::DEFAULT_JITTER_PERCENT,
        }
    }
}

impl BackoffConfig {
    /// Waits from `base_ms` up to `cap_ms`, with the default factor and jitter and unlimited
    /// attempts. [`BackoffError::ZeroBase`] for a 0 base, [`BackoffError::CapBelowBase`] if
    /// `cap_ms < base_ms`.
    pub const fn new(base_ms: u32, cap_ms: u32) -> Result<Self, BackoffError> {
        if base_ms == 0 {
            return Err(BackoffError::ZeroBase);
        }
        if cap_ms < base_ms {
            return Err(BackoffError::CapBelowBase { base_ms, cap_ms });
        }
        Ok(Self {
            base_ms,
            cap_ms,
            factor: BackoffConfig::DEFAULT_FACTOR,
            max_attempts: None,
            jitter_percent: BackoffConfig::DEFAULT_JITTER_PERCENT,
        })
    }

    /// Multiplies the wait by `factor` after each attempt (1 keeps it constant).
    /// [`BackoffError::ZeroFactor`] for 0.
    pub const fn with_factor(mut self, factor: u32) -> Result<Self, BackoffError> {
        if factor == 0 {
            return Err(BackoffError::ZeroFactor);
        }
        self.factor = factor;
        Ok(self)
    }

    /// Gives up after `attempts` reconnection attempts in a row have failed.
    /// [`BackoffError::ZeroAttempts`] for 0.
    pub const fn with_max_attempts(mut self, attempts: u32) -> Result<Self, BackoffError> {
        if attempts == 0 {
            return Err(BackoffError::ZeroAttempts);
        }
        self.max_attempts = Some(attempts);
        Ok(self)
    }

    /// Retries forever (the default).
    pub const fn with_unlimited_attempts(mut self) -> Self {
        self.max_attempts = None;
        self
    }

    /// Shortens each wait by a random share of up to `percent` of it (0: no jitter, exact
    /// waits; 100: anything from 1 ms to the nominal wait). [`BackoffError::JitterAbove100`]
    /// above 100.
    pub const fn with_jitter_percent(mut self, percent: u8) -> Result<Self, BackoffError> {
        if percent as u64 > PERCENT {
            return Err(BackoffError::JitterAbove100 { percent });
        }
        self.jitter_percent = percent;
        Ok(self)
    }

    /// The first wait, in milliseconds.
    pub const fn base_ms(&self) -> u32 {
        self.base_ms
    }

    /// The longest wait, in milliseconds.
    pub const fn cap_ms(&self) -> u32 {
        self.cap_ms
    }

    /// The growth factor.
    pub const fn factor(&self) -> u32 {
        self.factor
    }

    /// How many attempts in a row may fail before giving up; `None`: unlimited.
    pub const fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The jitter, in percent of the nominal wait.
    pub const fn jitter_percent(&self) -> u8 {
        self.jitter_percent
    }

    /// The wait before attempt `attempt` (from 0) without jitter: `min(cap, base · factorᵃᵗᵗᵉᵐᵖᵗ)`.
    pub const fn nominal_delay_ms(&self, attempt: u32) -> u32 {
        let grown = match self.factor.checked_pow(attempt) {
            Some(scale) => (self.base_ms as u64).saturating_mul(scale as u64),
            None => u64::MAX,
        };
        if grown > self.cap_ms as u64 {
            self.cap_ms
        } else {
            // grown <= cap_ms, so it fits.
            grown as u32
        }
    }
}

/// The waits before successive reconnection attempts: a [`BackoffConfig`] plus the RNG for
/// the jitter and a count of the attempts made.
///
/// [`next_delay_ms`](Backoff::next_delay_ms) hands out one wait per attempt and `None` once
/// the configured attempts are used up; [`reset`](Backoff::reset) starts over after a
/// success. It is also an [`Iterator`] over the waits.
///
/// ```
/// use sensorpub::{Backoff, BackoffConfig};
/// # struct Fixed(u32);
/// # impl rand_core::TryRng for Fixed {
/// #     type Error = core::convert::Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.0) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(u64::from(self.0)) }
/// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> { d.fill(0); Ok(()) }
/// # }
/// # let rng = Fixed(0);
/// let config = BackoffConfig::new(100, 1_000)?.with_max_attempts(6)?.with_jitter_percent(0)?;
/// let mut backoff = Backoff::new(config, rng);
/// let waits: Vec<u32> = backoff.by_ref().collect();
/// assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000]);
/// assert_eq!(backoff.attempts(), 6);
/// backoff.reset();
/// assert_eq!(backoff.next_delay_ms(), Some(100));
/// # Ok::<(), sensorpub::BackoffError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Backoff<R> {
    config: BackoffConfig,
    rng: R,
    attempts: u32,
}

impl<R: Rng> Backoff<R> {
    /// A schedule following `config`, jittered with `rng` (e.g. esp-hal's hardware RNG).
    pub const fn new(config: BackoffConfig, rng: R) -> Self {
        Self {
            config,
            rng,
            attempts: 0,
        }
    }

    /// The wait before the next attempt, in milliseconds, counting that attempt; `None` when
    /// the configured maximum of attempts has been handed out.
    pub fn next_delay_ms(&mut self) -> Option<u32> {
        if let Some(max) = self.config.max_attempts
            && self.attempts >= max
        {
            return None;
        }
        let nominal = self.config.nominal_delay_ms(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        Some(self.jittered(nominal))
    }

    /// `nominal` less a uniform random share of at most `jitter_percent` of it.
    fn jittered(&mut self, nominal: u32) -> u32 {
        let spread = u64::from(nominal) * u64::from(self.config.jitter_percent) / PERCENT;
        let cut = if spread == 0 {
            0
        } else {
            // Multiply-shift maps 32 random bits onto 0..=spread without a division.
            (u64::from(self.rng.next_u32()) * (spread + 1)) >> 32
        };
        // cut <= spread <= nominal, so this cannot wrap; it fits u32 as nominal does.
        let wait = u32::try_from(u64::from(nominal) - cut).unwrap_or(nominal);
        wait.max(MIN_DELAY_MS)
    }

    /// Attempts handed out since the start or the last [`reset`](Backoff::reset).
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts the schedule over at the base wait (after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The configuration.
    pub const fn config(&self) -> &BackoffConfig {
        &self.config
    }
}

impl<R: Rng> Iterator for Backoff<R> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        self.next_delay_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;
    use std::vec::Vec;

    /// Always returns the same 32 bits: makes the jitter exact.
    struct Fixed(u32);

    impl rand_core::TryRng for Fixed {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }

    fn exact(base: u32, cap: u32) -> BackoffConfig {
        BackoffConfig::new(base, cap)
            .and_then(|c| c.with_jitter_percent(0))
            .unwrap()
    }

    #[test]
    fn waits_double_from_the_base_until_the_cap() {
        let backoff = Backoff::new(exact(100, 1_000), Fixed(0));
        let waits: Vec<u32> = backoff.take(8).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
    }

    #[test]
    fn factor_three_grows_by_three() {
        let config = exact(10, 10_000).with_factor(3).unwrap();
        let waits: Vec<u32> = Backoff::new(config, Fixed(0)).take(5).collect();
        assert_eq!(waits, [10, 30, 90, 270, 810]);
    }

    #[test]
    fn factor_one_keeps_the_wait_constant() {
        let config = exact(250, 10_000).with_factor(1).unwrap();
        let waits: Vec<u32> = Backoff::new(config, Fixed(0)).take(4).collect();
        assert_eq!(waits, [250; 4]);
    }

    #[test]
    fn huge_attempt_numbers_stay_at_the_cap() {
        let config = exact(1, 60_000);
        assert_eq!(config.nominal_delay_ms(31), 60_000);
        assert_eq!(config.nominal_delay_ms(1_000), 60_000);
        assert_eq!(config.nominal_delay_ms(u32::MAX), 60_000);
        let big = exact(u32::MAX, u32::MAX);
        assert_eq!(big.nominal_delay_ms(5), u32::MAX);
    }

    #[test]
    fn max_attempts_ends_the_schedule() {
        let config = exact(100, 1_000).with_max_attempts(3).unwrap();
        let mut backoff = Backoff::new(config, Fixed(0));
        assert_eq!(backoff.next_delay_ms(), Some(100));
        assert_eq!(backoff.next_delay_ms(), Some(200));
        assert_eq!(backoff.next_delay_ms(), Some(400));
        assert_eq!(backoff.next_delay_ms(), None);
        assert_eq!(backoff.next_delay_ms(), None);
        assert_eq!(backoff.attempts(), 3);
    }

    #[test]
    fn reset_starts_over_at_the_base() {
        let config = exact(100, 1_000).with_max_attempts(2).unwrap();
        let mut backoff = Backoff::new(config, Fixed(0));
        assert_eq!(backoff.by_ref().count(), 2);
        backoff.reset();
        assert_eq!(backoff.attempts(), 0);
        assert_eq!(backoff.next_delay_ms(), Some(100));
    }

    #[test]
    fn unlimited_attempts_never_end() {
        let config = exact(100, 1_000)
            .with_max_attempts(1)
            .unwrap()
            .with_unlimited_attempts();
        assert_eq!(Backoff::new(config, Fixed(0)).take(10_000).count(), 10_000);
    }

    #[test]
    fn jitter_takes_at_most_its_share_off_the_wait() {
        // All-ones bits cut the whole spread; all-zero bits cut nothing.
        let config = exact(1_000, 1_000).with_jitter_percent(50).unwrap();
        assert_eq!(Backoff::new(config, Fixed(u32::MAX)).next(), Some(500));
        assert_eq!(Backoff::new(config, Fixed(0)).next(), Some(1_000));
        let full = config.with_jitter_percent(100).unwrap();
        assert_eq!(
            Backoff::new(full, Fixed(u32::MAX)).next(),
            Some(MIN_DELAY_MS)
        );
    }

    #[test]
    fn jittered_waits_stay_between_half_and_the_nominal_wait_and_never_pass_the_cap() {
        let config = BackoffConfig::new(100, 5_000).unwrap(); // default 50 % jitter
        let backoff = Backoff::new(config, XorShiftRng::seed_from_u64(7));
        for (attempt, wait) in (0u32..).zip(backoff.take(1_000)) {
            let nominal = config.nominal_delay_ms(attempt);
            assert!(
                wait <= nominal && wait <= 5_000,
                "attempt {attempt}: {wait}"
            );
            assert!(
                wait >= nominal / 2,
                "attempt {attempt}: {wait} < {nominal}/2"
            );
        }
    }

    #[test]
    fn jitter_actually_varies_the_waits() {
        let config = BackoffConfig::new(1_000, 1_000).unwrap();
        let waits: Vec<u32> = Backoff::new(config, XorShiftRng::seed_from_u64(1))
            .take(50)
            .collect();
        let first = waits[0];
        assert!(waits.iter().any(|&w| w != first), "{waits:?}");
    }

    #[test]
    fn a_seeded_rng_gives_the_same_schedule_twice() {
        let config = BackoffConfig::default();
        let a: Vec<u32> = Backoff::new(config, XorShiftRng::seed_from_u64(42))
            .take(20)
            .collect();
        let b: Vec<u32> = Backoff::new(config, XorShiftRng::seed_from_u64(42))
            .take(20)
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_configurations_are_typed_errors() {
        assert_eq!(BackoffConfig::new(0, 10), Err(BackoffError::ZeroBase));
        assert_eq!(
            BackoffConfig::new(100, 99),
            Err(BackoffError::CapBelowBase {
                base_ms: 100,
                cap_ms: 99
            })
        );
        let ok = BackoffConfig::new(100, 100).unwrap();
        assert_eq!(ok.with_factor(0), Err(BackoffError::ZeroFactor));
        assert_eq!(ok.with_max_attempts(0), Err(BackoffError::ZeroAttempts));
        assert_eq!(
            ok.with_jitter_percent(101),
            Err(BackoffError::JitterAbove100 { percent: 101 })
        );
        assert!(ok.with_jitter_percent(100).is_ok());
    }

    #[test]
    fn errors_say_what_to_do() {
        let text = std::format!(
            "{}",
            BackoffError::CapBelowBase {
                base_ms: 100,
                cap_ms: 99
            }
        );
        assert!(text.contains("raise the cap"), "{text}");
    }

    #[test]
    fn default_is_valid_and_documented() {
        let config = BackoffConfig::default();
        assert_eq!(
            BackoffConfig::new(
                BackoffConfig::DEFAULT_BASE_MS,
                BackoffConfig::DEFAULT_CAP_MS
            )
            .and_then(|c| c.with_factor(BackoffConfig::DEFAULT_FACTOR))
            .and_then(|c| c.with_jitter_percent(BackoffConfig::DEFAULT_JITTER_PERCENT)),
            Ok(config)
        );
        assert_eq!(config.max_attempts(), None);
        // The documented numbers, written out: 500 ms first, doubling, at most a minute,
        // equal jitter (50 %), forever.
        assert_eq!(
            (
                BackoffConfig::DEFAULT_BASE_MS,
                BackoffConfig::DEFAULT_CAP_MS,
                BackoffConfig::DEFAULT_FACTOR,
                BackoffConfig::DEFAULT_JITTER_PERCENT
            ),
            (500, 60_000, 2, 50)
        );
        assert_eq!(
            (config.base_ms(), config.cap_ms(), config.factor()),
            (500, 60_000, 2)
        );
        assert_eq!(config.jitter_percent(), 50);
        let nominal: Vec<u32> = (0..9).map(|k| config.nominal_delay_ms(k)).collect();
        assert_eq!(
            nominal,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000
            ]
        );
        // `new` takes the same factor and jitter.
        let custom = BackoffConfig::new(100, 1_000).unwrap();
        assert_eq!((custom.factor(), custom.jitter_percent()), (2, 50));
    }
}
