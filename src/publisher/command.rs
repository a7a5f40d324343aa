//! The built-in command: `<base>/set/interval` changes the sample period of
//! [`Publisher::run`](super::Publisher::run) (and of a
//! [`ResilientPublisher`](super::ResilientPublisher)'s loop), read from an [`Inbox`].

use crate::transport::{Inbox, InboxSlot};
use core::fmt;

/// Why a `set/interval` payload was refused; the period did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum IntervalError {
    /// The payload is not a number of seconds (ASCII digits, at most one `.` followed by at
    /// most three digits, surrounding whitespace allowed): e.g. `abc`, `-5`, `1e3`, `""`.
    NotANumber,
    /// The period is outside the allowed range (zero included).
    OutOfRange {
        /// The period asked for, in milliseconds (saturated at `u64::MAX`).
        ms: u64,
    },
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntervalError::NotANumber => {
                f.write_str("set/interval payload is not a number of seconds (e.g. 30 or 2.5)")
            }
            IntervalError::OutOfRange { ms } => {
                write!(f, "set/interval of {ms} ms is outside the allowed range")
            }
        }
    }
}

impl core::error::Error for IntervalError {}

/// The `set/interval` command a publisher follows.
#[derive(Clone, Copy)]
pub(super) struct IntervalCommand<'b> {
    inbox: &'b InboxSlot,
    topic: &'b str,
    min_ms: u32,
    max_ms: u32,
    /// The period the last accepted command set.
    period_ms: Option<u32>,
    /// The outcome of the last command.
    last: Option<Result<u32, IntervalError>>,
}

impl<'b> IntervalCommand<'b> {
    /// Shortest period a command may set: 1 s.
    pub(super) const DEFAULT_MIN_MS: u32 = 1_000;
    /// Longest period a command may set: one day.
    pub(super) const DEFAULT_MAX_MS: u32 = 86_400_000;

    pub(super) fn new<const N: usize>(inbox: &'b Inbox<N>, topic: &'b str) -> Self {
        Self {
            inbox: inbox.slot(),
            topic,
            min_ms: Self::DEFAULT_MIN_MS,
            max_ms: Self::DEFAULT_MAX_MS,
            period_ms: None,
            last: None,
        }
    }

    pub(super) fn with_range_ms(mut self, min_ms: u32, max_ms: u32) -> Self {
        self.min_ms = min_ms.max(1);
        self.max_ms = max_ms;
        self
    }

    /// Takes a waiting command on our topic, if any; returns the period to use.
    pub(super) fn period_ms(&mut self, default_ms: u32) -> u32 {
        let (min_ms, max_ms) = (self.min_ms, self.max_ms);
        let taken = self.inbox.take_if(
            |topic| topic == self.topic,
            |message| parse_interval(message.payload, min_ms, max_ms),
        );
        if let Some(result) = taken {
            self.last = Some(result);
            if let Ok(ms) = result {
                self.period_ms = Some(ms);
            }
        }
        self.period_ms.unwrap_or(default_ms)
    }

    pub(super) fn last(&self) -> Option<Result<u32, IntervalError>> {
        self.last
    }

    pub(super) fn topic(&self) -> &'b str {
        self.topic
    }
}

impl fmt::Debug for IntervalCommand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntervalCommand")
            .field("topic", &self.topic)
            .field("range_ms", &(self.min_ms..=self.max_ms))
            .field("period_ms", &self.period_ms)
            .field("last", &self.last)
            .finish()
    }
}

/// Parses a period in seconds (`30`, `2.5`, ` 0.250 `) into milliseconds within
/// `min_ms..=max_ms`.
pub(super) fn parse_interval(
    payload: &[u8],
    min_ms: u32,
    max_ms: u32,
) -> Result<u32, IntervalError> {
    let text = payload.trim_ascii();
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &[][..]),
    };
    let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 3 {
        return Err(IntervalError::NotANumber);
    }
    if text.last() == Some(&b'.') {
        return Err(IntervalError::NotANumber);
    }
    let mut ms: u64 = 0;
    for &digit in whole {
        ms = ms
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'));
    }
    ms = ms.saturating_mul(1_000);
    let mut scale = 100;
    for &digit in fraction {
        ms = ms.saturating_add(u64::from(digit - b'0') * scale);
        scale /= 10;
    }
    match u32::try_from(ms) {
        Ok(ms) if (min_ms..=max_ms).contains(&ms) => Ok(ms),
        _ => Err(IntervalError::OutOfRange { ms }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_with_up_to_three_decimals() {
        let parse = |text: &str| parse_interval(text.as_bytes(), 1_000, 86_400_000);
        assert_eq!(parse("30"), Ok(30_000));
        assert_eq!(parse(" 2.5\n"), Ok(2_500));
        assert_eq!(parse("1.001"), Ok(1_001));
        assert_eq!(parse("86400"), Ok(86_400_000));
        for bad in [
            "", " ", "abc", "-5", "+5", "1e3", "1.", ".5", "1.2345", "1..2", "NaN", "5s",
        ] {
            assert_eq!(parse(bad), Err(IntervalError::NotANumber), "{bad:?}");
        }
        assert_eq!(parse("0"), Err(IntervalError::OutOfRange { ms: 0 }));
        assert_eq!(parse("0.999"), Err(IntervalError::OutOfRange { ms: 999 }));
        assert_eq!(
            parse("86400.001"),
            Err(IntervalError::OutOfRange { ms: 86_400_001 })
        );
        assert_eq!(
            parse("99999999999999999999999"),
            Err(IntervalError::OutOfRange { ms: u64::MAX })
        );
    }
}
